"""Peers for benches/extract_throughput.rs: resiliparse (main_content) and trafilatura
extracting the HTML responses of one WARC, single-threaded, timed with process CPU time.
HTML is decoded as in ../shared/tools/peers.py (UTF-8, else cp1252, else latin-1).
Prints one JSON line with pages/s per extractor."""
import json
import sys
import time

from fastwarc.warc import ArchiveIterator, WarcRecordType

path = sys.argv[1]
traf_limit = int(sys.argv[2]) if len(sys.argv) > 2 else 400


def dec(b):
    for e in ("utf-8", "cp1252"):
        try:
            return b.decode(e)
        except UnicodeDecodeError:
            pass
    return b.decode("latin-1")


pages = [dec(r.reader.read()) for r in ArchiveIterator(open(path, "rb"), record_types=WarcRecordType.response, parse_http=True)]
out = {"pages": len(pages)}

from resiliparse.extract.html2text import extract_plain_text

t = time.process_time()
for h in pages:
    extract_plain_text(h, main_content=True)
out["resiliparse_pages_per_s"] = len(pages) / (time.process_time() - t)

import trafilatura

subset = pages[:traf_limit]
t = time.process_time()
for h in subset:
    try:
        trafilatura.extract(h)
    except Exception:
        pass
out["trafilatura_pages_per_s"] = len(subset) / (time.process_time() - t)
out["trafilatura_pages"] = len(subset)
print(json.dumps(out))
