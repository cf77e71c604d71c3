"""Peer for benches/extract_throughput.rs's whole-process run: fastwarc reads the WARC's
responses, resiliparse decodes each HTML payload (its own charset detection) and extracts the
main text (`main_content=True`), and every page's text is written as a JSON line, as
`sieve extract -j 1 --format jsonl` does. Usage: extract_process.py WARC OUT.jsonl"""
import json
import sys

from fastwarc.warc import ArchiveIterator, WarcRecordType
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding

path, out_path = sys.argv[1], sys.argv[2]
with open(path, "rb") as f, open(out_path, "w") as out:
    for r in ArchiveIterator(f, record_types=WarcRecordType.response, parse_http=True):
        if r.http_headers.status_code != 200 or "html" not in (r.http_content_type or ""):
            continue
        body = r.reader.read()
        html = bytes_to_str(body, detect_encoding(body))
        text = extract_plain_text(html, main_content=True)
        if text:
            out.write(json.dumps({"url": r.headers.get("WARC-Target-URI"), "text": text}) + "\n")
