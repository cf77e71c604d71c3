#!/usr/bin/env bash
# Runs sieve's whole test suite on a fresh machine: sets up the Python side (pyarrow, for
# the check that our Parquet reads in pyarrow) in a venv under target/, then cargo test.
# Tests that need ../shared/data skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="target/py-venv"
if ! "$venv/bin/python" -c "import pyarrow" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check pyarrow
fi
export SIEVE_TEST_PYTHON="$PWD/$venv/bin/python"
cargo test --locked "$@"
