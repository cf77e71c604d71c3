"""Peer for benches/quality_throughput.rs: the Python fastText bindings (fasttext-wheel)
predicting the same documents (one per line) with the same model, single-threaded, timed with
process CPU time. Prints one JSON line."""
import json
import sys
import time

import fasttext

model = fasttext.load_model(sys.argv[1])
lines = open(sys.argv[2], encoding="utf-8").read().split("\n")[:-1]
best = None
for _ in range(3):
    t = time.process_time()
    hq = 0.0
    for line in lines:
        labels, probs = model.predict(line, k=2)
        hq += dict(zip(labels, probs)).get("__label__hq", 0.0)
    dt = time.process_time() - t
    best = dt if best is None else min(best, dt)
print(json.dumps({"docs": len(lines), "cpu_seconds": best, "mean_hq": hq / max(1, len(lines))}))
