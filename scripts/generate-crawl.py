#!/usr/bin/env python3
"""Writes a Common Crawl-style WARC of N generated HTML pages, for measuring how sieve's cost
grows with the input (benches/pass1_scaling.rs). Deterministic for a given N and seed.

Pages use data-samples/generate.py's page template (navigation, cookie banner, sidebar,
footer, scripts and styles around the article) and its vocabulary, with article text drawn
word by word (Zipf-weighted), so almost every page is unique, as in a crawl. Of the pages:
10% are in another language (dropped by langid), 4% are exact copies of an earlier page under
another URL and 4% near copies (a few words changed), for dedup to find; each response comes
with its request and metadata records, one gzip member per record.

Usage: python3 scripts/generate-crawl.py N OUT.warc.gz [SEED]
"""
import gzip
import hashlib
import importlib.util
import io
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("samples", os.path.join(HERE, "..", "data-samples", "generate.py"))
samples = importlib.util.module_from_spec(spec)
spec.loader.exec_module(samples)

n_pages, out_path = int(sys.argv[1]), sys.argv[2]
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
rng = random.Random(seed)
samples.rng = rng  # the template's own random parts follow this seed too

bank = samples.EN_SUBJECTS + samples.EN_OBJECTS + samples.EN_TAILS + samples.EN_BLOG + samples.EN_FORUM \
    + samples.EN_SHOP + samples.EN_DOCS
vocab = sorted({w for line in bank for w in re.findall(r"[A-Za-z']+", line.lower())})
rng.shuffle(vocab)
weights = [1.0 / (rank + 1) for rank in range(len(vocab))]
other_langs = [l for l in samples.LANGS if l != "en"]


def sentence():
    words = rng.choices(vocab, weights, k=rng.randint(8, 22))
    return " ".join(words).capitalize() + "."


def article():
    paras = [" ".join(sentence() for _ in range(rng.randint(3, 7))) for _ in range(rng.randint(3, 9))]
    title = paras[0].split(".")[0][:80]
    return title, paras


def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=6, mtime=0) as f:
        f.write(data)
    return buf.getvalue()


def record(rtype, url, rid, block, content_type, extra=()):
    return gz(samples.warc_record(rtype, url, rid, "2026-01-01T00:00:00Z", block, content_type, extra))


kept = []  # earlier pages' (lang, title, paras), for copies
with open(out_path, "wb") as out:
    info = b"software: sieve scripts/generate-crawl.py\r\nformat: WARC File Format 1.1\r\n"
    out.write(record("warcinfo", None, samples.record_id(f"crawl:{seed}:info"), info, "application/warc-fields"))
    for i in range(n_pages):
        roll = rng.random()
        if roll < 0.04 and kept:
            lang, title, paras = rng.choice(kept)
        elif roll < 0.08 and kept:
            lang, title, paras = rng.choice(kept)
            paras = list(paras)
            k = rng.randrange(len(paras))
            words = paras[k].split()
            for _ in range(3):
                words[rng.randrange(len(words))] = rng.choice(vocab)
            paras[k] = " ".join(words)
        elif roll < 0.18:
            lang = rng.choice(other_langs)
            paras = [samples.lang_paragraph(lang, rng.randint(3, 6)) for _ in range(rng.randint(3, 6))]
            title = paras[0].split(".")[0][:80]
        else:
            lang = "en"
            title, paras = article()
        if len(kept) < 20000:
            kept.append((lang, title, paras))
        elif rng.random() < 0.01:
            kept[rng.randrange(len(kept))] = (lang, title, paras)
        body = f"<article><h1>{samples.esc(title)}</h1>" + "".join(f"<p>{samples.esc(p)}</p>" for p in paras) + "</article>"
        html = samples.page(lang, "news", title, body).encode()
        url = f"https://news{i % 997}.example.com/{lang}/{i:08d}"
        rid = samples.record_id(f"crawl:{seed}:{i}")
        req = f"GET /{lang}/{i:08d} HTTP/1.1\r\nHost: news{i % 997}.example.com\r\n\r\n".encode()
        out.write(record("request", url, samples.record_id(f"crawl:{seed}:{i}:req"), req, "application/http; msgtype=request"))
        http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nServer: nginx\r\n\r\n" + html
        digest = "sha1:" + hashlib.sha1(html).hexdigest()
        out.write(record("response", url, rid, http, "application/http; msgtype=response",
                         [f"WARC-Payload-Digest: {digest}"]))
        out.write(record("metadata", url, samples.record_id(f"crawl:{seed}:{i}:meta"),
                         f"fetchTimeMs: {rng.randint(20, 900)}\r\n".encode(), "application/warc-fields",
                         [f"WARC-Concurrent-To: {rid}"]))
