"""datatrove 0.10.1's filters on one core, for `cargo bench --bench filters_throughput`.

    python datatrove_filters.py TEXTS.jsonl

Times (CPU, best of 3 for the chain, one pass per filter) each filter over every text, and
FineWeb's filter chain (Gopher repetition → Gopher quality → C4 without the terminal-punctuation
rule → FineWeb quality → PII), each document going on only while kept, C4's rewritten text
passed on. Prints one JSON line: {"docs": N, "seconds": {name: s}, "kept": {name: n}}.
"""
import json
import sys
import time

from datatrove.data import Document
from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter
from datatrove.pipeline.formatters import PIIFormatter

texts = [json.loads(line)["text"] for line in open(sys.argv[1], encoding="utf-8")]


def filters():
    return [
        ("gopher-repetition", GopherRepetitionFilter()),
        ("gopher-quality", GopherQualityFilter()),
        ("c4-quality", C4QualityFilter(filter_no_terminal_punct=False)),
        ("fineweb-quality", FineWebQualityFilter()),
    ]


def run_one(f, doc):
    return f.filter(doc) is True


seconds, kept = {}, {}
# Warm the tokenizer (spaCy loads on first use).
GopherQualityFilter().filter(Document(text="warm up the tokenizer", id="w"))
for name, f in filters():
    t = time.process_time()
    kept[name] = sum(run_one(f, Document(text=x, id=str(i))) for i, x in enumerate(texts))
    seconds[name] = time.process_time() - t
pii = PIIFormatter()
t = time.process_time()
for x in texts:
    pii.format(x)
seconds["pii"] = time.process_time() - t
kept["pii"] = len(texts)

best = None
for _ in range(3):
    chain, formatter = filters(), PIIFormatter()
    t = time.process_time()
    n = 0
    for i, x in enumerate(texts):
        doc = Document(text=x, id=str(i))
        if all(run_one(f, doc) for _, f in chain):
            doc.text = formatter.format(doc.text)
            n += 1
    s = time.process_time() - t
    best = s if best is None else min(best, s)
seconds["chain"], kept["chain"] = best, n
print(json.dumps({"docs": len(texts), "seconds": seconds, "kept": kept}))
