#!/usr/bin/env bash
# Prints the path of a headless-capable Chromium, installing Debian's `chromium` when it is
# missing (root and apt-get needed; exit 3 when it cannot be installed). Used by the data
# card test; handy for looking at a card by hand:
#
#   $(scripts/chromium.sh) --headless --no-sandbox --screenshot=card.png OUT/report/index.html
set -euo pipefail
for name in chromium chromium-browser google-chrome; do
    if command -v "$name" >/dev/null; then
        command -v "$name"
        exit 0
    fi
done
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "chromium.sh: Chromium is not installed and cannot be (needs root and apt-get)" >&2
    exit 3
fi
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium
