"""Peer for benches/warc_throughput.rs: fastwarc iterating a WARC and reading every payload,
single-threaded, timed with process CPU time. Prints one JSON line."""
import json
import os
import sys
import time

from fastwarc.warc import ArchiveIterator

path = sys.argv[1]
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
best = None
for _ in range(repeats):
    t = time.process_time()
    records = payload = 0
    for rec in ArchiveIterator(open(path, "rb"), parse_http=True):
        records += 1
        payload += len(rec.reader.read())
    dt = time.process_time() - t
    best = dt if best is None else min(best, dt)
print(json.dumps({"records": records, "payload_bytes": payload, "cpu_seconds": best,
                  "file_bytes": os.path.getsize(path)}))
