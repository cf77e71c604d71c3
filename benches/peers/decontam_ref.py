"""A straightforward Python implementation of Megatron-LM's n-gram decontamination
(tools/openwebtext/filter_ngrams.py, as described in ../shared/reference/anchors-curation.md
b7), written for benches/decontam_throughput.rs: same input, same tasks, its output compared
piece by piece with sieve's `--compat megatron` mode.

Usage: decontam_ref.py TASKS.json DOCS.jsonl OUT.jsonl
  TASKS.json: [{"name": ..., "texts": [...]}, ...]  (the task texts, already extracted)
  DOCS.jsonl: {"id": ..., "text": ...} per line
  OUT.jsonl:  {"id": ..., "pieces": [...]} per document that was cut, in input order
Prints {"cpu_s": ..., "bytes": ...} (both passes, task dictionary excluded).
"""

import json
import re
import resource
import sys

MAX_N, MIN_N = 13, 8
CONTEXT, MIN_PIECE, MAX_SPLITS, KEY_THRESHOLD = 200, 200, 10, 10
WORD = re.compile(r"\w+")


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def get_words(text):
    words, positions = [], []
    for m in WORD.finditer(text.lower()):
        words.append(m.group(0))
        positions.append(m.start())
    return words, positions


def build_dict(tasks):
    ngrams = {}
    for t in tasks:
        for text in t["texts"]:
            words, _ = get_words(text)
            if len(words) < MIN_N:
                continue
            if len(words) < MAX_N:
                ngrams.setdefault(" ".join(words), set()).add(t["name"])
            else:
                for i in range(len(words) - MAX_N + 1):
                    ngrams.setdefault(" ".join(words[i : i + MAX_N]), set()).add(t["name"])
    return ngrams


def lengths_of(ngrams):
    return sorted({len(k.split(" ")) for k in ngrams})


def first_match(text, ngrams, lengths):
    """The first n-gram found, in the script's order: (start, seq) or None."""
    words, pos = get_words(text)
    n = len(words)
    for i in range(0, n - MAX_N + 1):
        seq = " ".join(words[i : i + MAX_N])
        if seq in ngrams:
            return pos[i], seq
        for L in lengths:
            seq = " ".join(words[i : i + L])
            if seq in ngrams:
                return pos[i], seq
    if n - MAX_N > 0:
        last = words[-MAX_N:]
        base = n - MAX_N
        for L in lengths:
            if L == MAX_N:
                continue
            for k in range(0, MAX_N - L + 1):
                seq = " ".join(last[k : k + L])
                if seq in ngrams:
                    return pos[base + k], seq
    return None


def count_doc(text, ngrams, lengths):
    found = set()
    buf = [text]
    while buf:
        t = buf.pop(0)
        m = first_match(t, ngrams, lengths)
        if m is None:
            continue
        start, seq = m
        found.add(seq)
        if start + len(seq) + 1 < len(t):
            buf.append(t[start + len(seq) + 1 :])
    return found


def split_text(text, start, seq):
    p = start - CONTEXT
    if p >= len(text):
        p = len(text) - 1
    while p > 0 and text[p] not in ".!?":
        p -= 1
    first = text[: p + 1] if p > 0 else ""
    q = start + len(seq) + CONTEXT
    while q < len(text) and text[q] not in ".!?":
        q += 1
    second = text[q + 1 :] if q + 1 < len(text) else ""
    return first, second


def strip_doc(text, ngrams, lengths):
    free, buf, cut = [], [text], False
    while buf:
        t = buf.pop(0)
        m = first_match(t, ngrams, lengths)
        if m is None:
            free.append(t)
            continue
        cut = True
        first, second = split_text(t, m[0], m[1])
        if len(first) > MIN_PIECE:
            free.append(first)
        if len(second) > MIN_PIECE:
            buf.append(second)
    return cut, free


def main():
    tasks = json.load(open(sys.argv[1]))
    docs = [json.loads(l) for l in open(sys.argv[2])]
    ngrams = build_dict(tasks)
    t0 = cpu()
    lengths = lengths_of(ngrams)
    df = {}
    for d in docs:
        for seq in count_doc(d["text"], ngrams, lengths):
            df[seq] = df.get(seq, 0) + 1
    below = {k: v for k, v in ngrams.items() if df.get(k, 0) < KEY_THRESHOLD}
    lengths = lengths_of(below)
    out = []
    for d in docs:
        cut, pieces = strip_doc(d["text"], below, lengths)
        if cut:
            out.append({"id": d["id"], "pieces": pieces, "dropped": len(pieces) > MAX_SPLITS})
    t1 = cpu()
    with open(sys.argv[3], "w") as f:
        for o in out:
            f.write(json.dumps(o) + "\n")
    print(json.dumps({"cpu_s": t1 - t0, "bytes": sum(len(d["text"].encode()) for d in docs)}))


if __name__ == "__main__":
    main()
