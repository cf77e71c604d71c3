#!/usr/bin/env bash
# The sha256 of every output file of a sample run, leaving out the measured times: timings/,
# the run's ledger (work/run.json) and the card's throughput charts; the card's page and
# Markdown are hashed without their Throughput section (the last one). Completion markers name
# the run directory, so compare runs made at the same path:
#
#   sieve run pipelines/sample.toml -o /tmp/sample-digest -q && scripts/sample-digest.sh /tmp/sample-digest
set -euo pipefail
cd "$1"
find . -type f ! -path './timings/*' ! -path './work/run.json' ! -name 'throughput-*.svg' \
    ! -path './report/index.html' ! -path './report/README.md' | LC_ALL=C sort | xargs sha256sum
for f in report/index.html report/README.md; do
    printf '%s  %s (before its Throughput section)\n' \
        "$(sed -e '/id="throughput"/,$d' -e '/^## Throughput/,$d' "$f" | sha256sum | cut -d' ' -f1)" "$f"
done
