"""MinHash peers for benches/dedup_throughput.rs, on the corpus that bench writes.

Prints one JSON object per line:
  {"peer": "rensa", "docs": N, "cpu_s": ..., "cpu_s_with_shingling": ...}
  {"peer": "datasketch", ...}
  {"peer": "datatrove", "docs": N, "cpu_s": ..., "wall_s": ..., "removed": R}

Shingles for rensa and datasketch are the word 5-grams of the lowercased text split on
non-word characters, built outside the timed region (the libraries take ready-made items).
datatrove runs its own four MinHash stages (signatures, buckets, clusters, filter) locally,
one task each, 20 buckets x 13 hashes over word 5-grams.
"""

import argparse
import glob
import json
import os
import re
import resource
import shutil
import sys
import time

WORD = re.compile(r"\w+")


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


def load(corpus, limit):
    texts = []
    for path in sorted(glob.glob(os.path.join(corpus, "*.jsonl"))):
        with open(path) as f:
            for line in f:
                texts.append(json.loads(line)["text"])
                if len(texts) >= limit:
                    return texts
    return texts


def shingles(text):
    w = WORD.findall(text.lower())
    return [" ".join(w[i : i + 5]) for i in range(len(w) - 4)]


def bench_rensa(texts, perms):
    from rensa import RMinHash

    t0 = cpu()
    sh = [shingles(t) for t in texts]
    t1 = cpu()
    for s in sh:
        m = RMinHash(num_perm=perms, seed=1)
        m.update(s)
        m.digest()
    t2 = cpu()
    return {"peer": "rensa", "docs": len(texts), "cpu_s": t2 - t1, "cpu_s_with_shingling": t2 - t0}


def bench_datasketch(texts, perms):
    from datasketch import MinHash

    sh = [shingles(t) for t in texts]
    t1 = cpu()
    for s in sh:
        m = MinHash(num_perm=perms, seed=1)
        m.update_batch([x.encode() for x in s])
        m.digest()
    t2 = cpu()
    return {"peer": "datasketch", "docs": len(texts), "cpu_s": t2 - t1}


def bench_datatrove(corpus, work):
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    shutil.rmtree(work, ignore_errors=True)
    cfg = MinhashConfig(
        num_buckets=20,
        hashes_per_bucket=13,
        n_grams=5,
    )
    sigs, buckets, clusters = f"{work}/sigs", f"{work}/buckets", f"{work}/clusters"
    t0, w0 = cpu(), time.time()
    stages = [
        [JsonlReader(corpus, glob_pattern="*.jsonl"), MinhashDedupSignature(output_folder=sigs, config=cfg)],
        [MinhashDedupBuckets(input_folder=sigs, output_folder=buckets, config=cfg)],
        [MinhashDedupCluster(input_folder=buckets, output_folder=clusters, config=cfg)],
        [
            JsonlReader(corpus, glob_pattern="*.jsonl"),
            MinhashDedupFilter(input_folder=clusters),
            JsonlWriter(f"{work}/out"),
        ],
    ]
    tasks = [1, cfg.num_buckets, 1, 1]
    for i, (pipeline, n) in enumerate(zip(stages, tasks)):
        LocalPipelineExecutor(
            pipeline=pipeline, tasks=n, workers=1, logging_dir=f"{work}/logs{i}", skip_completed=False
        ).run()
    t1, w1 = cpu(), time.time()
    removed = 0
    for p in glob.glob(f"{clusters}/*.remove"):
        removed += os.path.getsize(p) // 4
    return {"peer": "datatrove", "cpu_s": t1 - t0, "wall_s": w1 - w0, "removed": removed}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--perms", type=int, default=260)
    ap.add_argument("--docs", type=int, default=10**9)
    ap.add_argument("--datasketch-docs", type=int, default=5000)
    ap.add_argument("--work", default="/tmp/sieve-bench-datatrove")
    ap.add_argument("--skip-datatrove", action="store_true")
    a = ap.parse_args()
    texts = load(a.corpus, a.docs)
    print(json.dumps(bench_rensa(texts, a.perms)), flush=True)
    print(json.dumps(bench_datasketch(texts[: a.datasketch_docs], a.perms)), flush=True)
    del texts
    if not a.skip_datatrove:
        import logging

        logging.disable(logging.CRITICAL)
        r = bench_datatrove(a.corpus, a.work)
        r["docs"] = a.docs
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    sys.exit(main())
