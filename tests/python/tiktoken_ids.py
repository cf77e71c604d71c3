"""Token ids from OpenAI's tiktoken for texts given as JSON lines ({"text": ...}).

tiktoken downloads its vocabularies at run time, which fails offline: the GPT-2 encoding is
built here from the r50k_base.tiktoken file with r50k's pattern, exactly as tiktoken's own
registry defines it. Prints one JSON list of ids per input line (encode_ordinary).

usage: tiktoken_ids.py R50K_BASE.tiktoken TEXTS.jsonl
"""
import base64
import json
import sys

import tiktoken

R50K_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""


def gpt2_encoding(path):
    """tiktoken's r50k_base from its vocabulary file, without tiktoken's download."""
    ranks = {}
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
    return tiktoken.Encoding(
        name="r50k_base",
        pat_str=R50K_PATTERN,
        mergeable_ranks=ranks,
        special_tokens={"<|endoftext|>": 50256},
    )


def main():
    enc = gpt2_encoding(sys.argv[1])
    out = sys.stdout
    with open(sys.argv[2], encoding="utf-8") as f:
        for line in f:
            out.write(json.dumps(enc.encode_ordinary(json.loads(line)["text"])) + "\n")


if __name__ == "__main__":
    main()
