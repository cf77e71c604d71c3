#!/usr/bin/env bash
# Runs sieve's whole test suite on a fresh machine: sets up the Python side in a venv under
# target/ (pyarrow: our Parquet reads in pyarrow; tiktoken: our token ids equal OpenAI's;
# numpy: shards and blending indices checked by ../shared/tools/megatron_ref.py; safetensors:
# the trainer's export; moto[server]: a local S3 for the s3:// tests), then cargo test.
# The Slurm and data-card tests install Debian's slurm-wlm, munge and chromium when missing.
# Tests that need ../shared/data skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="target/py-venv"
if ! "$venv/bin/python" -c "import pyarrow, tiktoken, numpy, safetensors, moto.server" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check pyarrow tiktoken numpy safetensors 'moto[server]'
fi
export SIEVE_TEST_PYTHON="$PWD/$venv/bin/python"
cargo test --locked --workspace "$@"
