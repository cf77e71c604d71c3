"""Peer for benches/langid_throughput.rs: the Python fastText bindings (fasttext-wheel)
labelling the same texts (one per line) with the same language-ID model, top label only
(`predict(line, k=1)`), single-threaded, timed with process CPU time, best of 3.
Prints one JSON line: docs, cpu_seconds, and how many lines got each of the first labels."""
import json
import sys
import time

import fasttext

model = fasttext.load_model(sys.argv[1])
lines = open(sys.argv[2], encoding="utf-8").read().split("\n")[:-1]
best = None
for _ in range(3):
    t = time.process_time()
    labels = [model.predict(line, k=1)[0] for line in lines]
    dt = time.process_time() - t
    best = dt if best is None else min(best, dt)
english = sum(1 for l in labels if l and l[0] == "__label__en")
print(json.dumps({"docs": len(lines), "cpu_seconds": best, "english": english}))
