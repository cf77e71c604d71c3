"""Token ids from OpenAI's tiktoken for texts given as JSON lines ({"text": ...}).

tiktoken downloads its vocabulary files at run time, which fails offline. It also keeps a
cache of them (TIKTOKEN_CACHE_DIR, one file per download URL, named by the URL's SHA-1) and
checks every cached file against the SHA-256 it pins. So the cache is seeded here with the
shared copies of those files, and the encodings are then tiktoken's own registry entries:
its patterns, special tokens and vocabularies, nothing restated by us. A file that is not
the one tiktoken expects is refused by tiktoken's hash check (it would then try to download
and fail), never used silently.

usage: tiktoken_ids.py ENCODING VOCAB_DIR TEXTS.jsonl
  ENCODING   r50k_base, cl100k_base or o200k_base
  VOCAB_DIR  the directory holding ENCODING.tiktoken
Prints one JSON list of ids per input line (encode_ordinary).
"""
import hashlib
import json
import os
import sys
import tempfile

# Where tiktoken's registry downloads each encoding from: the cache key is this URL's SHA-1.
DOWNLOAD_BASE = "https://openaipublic.blob.core.windows.net/encodings/"


def offline_encoding(name, vocab_dir):
    """tiktoken's encoding `name`, its vocabulary read from VOCAB_DIR/name.tiktoken."""
    cache = tempfile.mkdtemp(prefix="tiktoken-cache-")
    url = DOWNLOAD_BASE + name + ".tiktoken"
    with open(os.path.join(vocab_dir, name + ".tiktoken"), "rb") as src:
        data = src.read()
    with open(os.path.join(cache, hashlib.sha1(url.encode()).hexdigest()), "wb") as dst:
        dst.write(data)
    os.environ["TIKTOKEN_CACHE_DIR"] = cache
    import tiktoken

    return tiktoken.get_encoding(name)


def gpt2_encoding(path):
    """GPT-2 (r50k_base) from the r50k_base.tiktoken file at `path`."""
    return offline_encoding("r50k_base", os.path.dirname(os.path.abspath(path)))


def main():
    enc = offline_encoding(sys.argv[1], sys.argv[2])
    out = sys.stdout
    with open(sys.argv[3], encoding="utf-8") as f:
        for line in f:
            out.write(json.dumps(enc.encode_ordinary(json.loads(line)["text"])) + "\n")


if __name__ == "__main__":
    main()
