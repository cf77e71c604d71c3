"""Cross-checks with the independent numpy reference (../shared/tools/megatron_ref.py).

  megatron_check.py read PREFIX...     every document of each prefix, read by read_indexed
                                       -> {"PREFIX": {"dtype": ..., "docs": [[ids], ...]}}
  megatron_check.py blend CASES.json   [[weights, size], ...] -> for each: the weights
                                       normalised as Megatron does (numpy) and the blending
                                       indices of build_blending_indices
  megatron_check.py npy FILE...        the arrays of .npy files, as lists
  megatron_check.py sha256 FILE...     each file's sha256 by Python's hashlib -> {FILE: hex}
  megatron_check.py stream BLEND_DIR SPLIT
                                       the blended stream of a split checked window by
                                       window: sequence k must be window s[k] of dataset d[k]
                                       (Megatron's blending indices over the manifest's
                                       weights), each dataset's split being its documents
                                       from blend.txt's prefix, Megatron's split arithmetic,
                                       joined end to end and cut into seq_length windows
                                       (windows of the first epoch: later epochs reshuffle);
                                       and the split's _dataset_index.npy and
                                       _dataset_sample_index.npy equal those indices
                                       -> {"checked": n, "mismatches": [k, ...], "samples": n,
                                           "npy_equal": bool}
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
    elif mode == "sha256":
        import hashlib
        json.dump({p: hashlib.sha256(open(p, "rb").read()).hexdigest() for p in args}, sys.stdout)
    elif mode == "stream":
        json.dump(check_stream(args[0], args[1]), sys.stdout)


def docs_of(prefix):
    r = megatron_ref.read_indexed(prefix)
    out = []
    for k in range(len(r["doc_idx"]) - 1):
        start = int(r["pointers"][k]) // r["dtype"].itemsize
        out.append(r["data"][start:start + int(r["lengths"][k])])
    return out


def check_stream(blend_dir, split):
    manifest = json.load(open(os.path.join(blend_dir, "manifest.json")))
    seq = manifest["seq_length"]
    which = {"train": 0, "valid": 1, "test": 2}[split]
    # blend.txt, as Megatron reads --data-args-path: weight, prefix pairs.
    words = open(os.path.join(blend_dir, manifest["data_args_path"])).read().split()
    weights = np.array([float(w) for w in words[0::2]], dtype=np.float64)
    weights = (weights / np.sum(weights)).tolist()
    windows = []
    split_spec = manifest["split"]
    for prefix in words[1::2]:
        docs = docs_of(os.path.join(blend_dir, prefix))
        ranges = megatron_ref.split_indices(
            len(docs), megatron_ref.split_matrix(megatron_ref.parse_split(split_spec)))
        ids = ranges[which] if ranges[which] is not None else []
        joined = np.concatenate([docs[i] for i in ids]) if len(ids) else np.array([], np.int64)
        n = len(joined) // seq
        windows.append([joined[j * seq:(j + 1) * seq].tolist() for j in range(n)])
    stream = docs_of(os.path.join(blend_dir, manifest["streams"][split]["prefix"]))
    di, dsi = megatron_ref.build_blending_indices(weights, len(stream))
    # The index files the blend writes beside the stream, read with numpy.
    base = os.path.join(blend_dir, "stream", split)
    npy_equal = (np.array_equal(np.load(base + "_dataset_index.npy"), di)
                 and np.array_equal(np.load(base + "_dataset_sample_index.npy"), dsi))
    checked, mismatches = 0, []
    for k, seq_tokens in enumerate(stream):
        d, s = int(di[k]), int(dsi[k])
        if s < len(windows[d]):
            checked += 1
            if seq_tokens.tolist() != windows[d][s]:
                mismatches.append(k)
    return {"checked": checked, "mismatches": mismatches[:20], "samples": len(stream),
            "npy_equal": bool(npy_equal)}


if __name__ == "__main__":
    main()
