"""OpenAI's tiktoken (GPT-2 / r50k_base: tiktoken's own registry entry, its vocabulary read
offline from the shared .tiktoken file) over the same documents as
benches/tokenize_throughput.rs, single-threaded.

usage: tiktoken_bench.py R50K_BASE.tiktoken DOCS.jsonl
prints {"cpu_s": best of 3 CPU seconds, "tokens": total, "checksum": sum of (i+1)*id mod 2^61}
"""
import json
import os
import sys
import time

# The same offline encoding the tests use.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "python"))
from tiktoken_ids import gpt2_encoding  # noqa: E402


def main():
    enc = gpt2_encoding(sys.argv[1])
    with open(sys.argv[2], encoding="utf-8") as f:
        docs = [json.loads(line)["text"] for line in f]
    best = None
    for _ in range(3):
        start = time.process_time()
        out = [enc.encode_ordinary(d) for d in docs]
        secs = time.process_time() - start
        best = secs if best is None else min(best, secs)
    tokens = 0
    checksum = 0
    for ids in out:
        for t in ids:
            tokens += 1
            checksum = (checksum + tokens * t) % (1 << 61)
    print(json.dumps({"cpu_s": best, "tokens": tokens, "checksum": checksum}))


if __name__ == "__main__":
    main()
