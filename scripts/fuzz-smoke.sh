#!/usr/bin/env bash
# A short run of every fuzz target (docs/fuzzing.md): builds fuzz/ with cargo-fuzz on the
# stable toolchain (no sanitizer), seeds each target with the inputs kept under
# tests/fuzz-cases/ and given its format's dictionary (fuzz/dicts/), and fuzzes each for
# SECONDS (default 5). Fails on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-5}"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz@0.13.2
fi
cd fuzz
cargo fuzz build --sanitizer none -O
targets=$(cargo fuzz list)
for t in $targets; do
    corpus="$(mktemp -d)"
    if [ -d "../tests/fuzz-cases/$t" ]; then
        cp ../tests/fuzz-cases/$t/* "$corpus"/ 2>/dev/null || true
    fi
    case "$t" in
        warc_reader | http_payload) dict=(-dict=dicts/warc.dict) ;;
        extract_page) dict=(-dict=dicts/html.dict) ;;
        corpus_import | tokenizer) dict=(-dict=dicts/json.dict) ;;
        toml_specs) dict=(-dict=dicts/toml.dict) ;;
        *) dict=() ;;
    esac
    log="$(mktemp)"
    # -rss_limit_mb: a parser that asks for gigabytes fails the run.
    if ! cargo fuzz run --sanitizer none -O "$t" "$corpus" -- \
        -max_total_time="$seconds" -max_len=16384 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 "${dict[@]}" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "fuzz target $t found a failing input (kept in fuzz/artifacts/$t/)" >&2
        exit 1
    fi
    echo "$t: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') executions in ${seconds}s"
    rm -rf "$corpus" "$log"
done
