#!/usr/bin/env bash
# Makes docs/images/data-card.png, the README's picture of the data card: runs the sample
# pipeline into a scratch directory and photographs the top of its card in headless Chromium
# (scripts/chromium.sh finds or installs it). Run it again when the card changes.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cargo run --release -q -- run -q -o "$scratch/sample" pipelines/sample.toml 2>/dev/null
chromium=$(scripts/chromium.sh)
"$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --force-device-scale-factor=1 --user-data-dir="$scratch/profile" --window-size=900,1400 \
    --screenshot="$scratch/card.png" "file://$scratch/sample/report/index.html" 2>/dev/null
mkdir -p docs/images
cp "$scratch/card.png" docs/images/data-card.png
echo "docs/images/data-card.png: $(wc -c <docs/images/data-card.png) bytes"
