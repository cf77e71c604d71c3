#!/usr/bin/env bash
# The recipe of models/quality/mtnlg-quality.ftz (see README.md beside it).
#
#   models/quality/train.sh            # needs ../shared/data beside the repository
#
# Positives: curated English prose from ../shared/data/quality (speeches, news article
# bodies, Project Gutenberg is left out because this copy is tokenized). Negatives: raw crawl
# text as sieve itself produces it (extract → langid en → clean over the shared CC-style
# WARC) plus informal web postings (NLTK webtext). Balanced, 10% held out, seed 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
shared="${SHARED:-../shared/data}"
cargo build --release --quiet
sieve=target/release/sieve
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Positives: drop the ScrapingHub article bodies, whose pages are also in the crawl WARC
# below (the same page must not be a positive and a negative), and tokenized rows.
python3 - "$shared/quality/positives_english_prose.jsonl.gz" "$work/positives.jsonl" <<'PY'
import gzip, json, sys
with gzip.open(sys.argv[1], "rt") as src, open(sys.argv[2], "w") as out:
    for line in src:
        row = json.loads(line)
        if row.get("tokenized") or row["source"].startswith("scrapinghub"):
            continue
        out.write(json.dumps({"text": row["text"]}) + "\n")
PY

# Both classes pass through the same text stages (English only, cleaned, at least 512
# characters), so that neither language nor length can tell them apart.
"$sieve" import -q --dataset curated --output "$work/curated" "$work/positives.jsonl"
"$sieve" langid -q --keep en --output "$work/curated-en" "$work/curated"
"$sieve" clean -q --output "$work/positives" "$work/curated-en"

warc="$shared/warc/synthetic-cc-style/real-html-cc-style.warc.gz"
"$sieve" extract -q --output "$work/extracted" "$warc"
"$sieve" langid -q --keep en --output "$work/english" "$work/extracted"
"$sieve" clean -q --output "$work/negatives" "$work/english"

"$sieve" quality train --seed 1 \
    --positive "$work/positives" \
    --negative "$work/negatives" "$shared"/quality/negatives-webtext/nltk-webtext/*.txt \
    --output models/quality/mtnlg-quality.ftz
