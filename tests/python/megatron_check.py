"""Cross-checks with the independent numpy reference (../shared/tools/megatron_ref.py).

  megatron_check.py read PREFIX...     every document of each prefix, read by read_indexed
                                       -> {"PREFIX": {"dtype": ..., "docs": [[ids], ...]}}
  megatron_check.py blend CASES.json   [[weights, size], ...] -> for each: the weights
                                       normalised as Megatron does (numpy) and the blending
                                       indices of build_blending_indices
  megatron_check.py npy FILE...        the arrays of .npy files, as lists
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.environ["MEGATRON_REF_DIR"])
import megatron_ref  # noqa: E402


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "read":
        out = {}
        for prefix in args:
            r = megatron_ref.read_indexed(prefix)
            docs = []
            for k in range(len(r["doc_idx"]) - 1):
                start = int(r["pointers"][k]) // r["dtype"].itemsize
                docs.append(r["data"][start:start + int(r["lengths"][k])].tolist())
            out[prefix] = {"dtype": str(r["dtype"]), "docs": docs}
        json.dump(out, sys.stdout)
    elif mode == "blend":
        cases = json.load(open(args[0]))
        out = []
        for weights, size in cases:
            w = np.array(weights, dtype=np.float64)
            w = (w / np.sum(w)).tolist()  # Megatron's utils.normalize
            di, dsi = megatron_ref.build_blending_indices(w, size)
            out.append({"weights": [repr(x) for x in w],
                        "dataset_index": di.tolist(), "sample_index": dsi.tolist()})
        json.dump(out, sys.stdout)
    elif mode == "npy":
        json.dump([np.load(p).tolist() for p in args], sys.stdout)


if __name__ == "__main__":
    main()
