#!/usr/bin/env bash
# Runs sieve's whole test suite on a fresh machine: sets up the Python side in a venv under
# target/ (pyarrow: our Parquet reads in pyarrow; tiktoken: our token ids equal OpenAI's;
# numpy: shards and blending indices checked by ../shared/tools/megatron_ref.py; safetensors:
# the trainer's export; moto[server]: a local S3 for the s3:// tests; datatrove with spaCy,
# tldextract and pyahocorasick, pinned: the filters' decision-for-decision check), then cargo test.
# The Slurm and data-card tests install Debian's slurm-wlm, munge and chromium when missing;
# CUDA 12's NVRTC and ptxas come from PyPI wheels for the kernel compile check.
# Tests that need ../shared skip with a message when it is absent; with ../shared present (and
# always in CI, which sets SIEVE_REQUIRE_SHARED) any skip fails the run instead. The number of
# skipped checks is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="target/py-venv"
if ! "$venv/bin/python" -c "import pyarrow, tiktoken, numpy, safetensors, moto.server" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check pyarrow tiktoken numpy safetensors 'moto[server]'
fi
# datatrove 0.10.1 imports `regex` without declaring it; its URL filter needs tldextract,
# pyahocorasick and fasteners. spaCy's blank English pipeline needs no model download.
if ! "$venv/bin/python" -c "import datatrove, spacy, regex, tldextract, ahocorasick, fasteners" 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        'datatrove==0.10.1' 'spacy==3.8.18' 'regex==2026.12.2' 'tldextract==5.4.0' \
        'pyahocorasick==2.3.1' 'fasteners==0.20'
fi
# transformers (its tokenizers only: no torch) loads the trainer's export with AutoTokenizer.
if ! "$venv/bin/python" -c "import transformers" 2>/dev/null; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'transformers==5.25.0'
fi
export SIEVE_TEST_PYTHON="$PWD/$venv/bin/python"

# CUDA 12's NVRTC, ptxas and headers (no GPU, no driver needed): the trainer's kernels are
# compiled for sm_80 and sm_90 by trainer/tests/it/cuda_kernels.rs.
nvidia=$("$venv/bin/python" -c "import os, sysconfig; print(os.path.join(sysconfig.get_paths()['purelib'], 'nvidia'))")
if [ ! -x "$nvidia/cuda_nvcc/bin/ptxas" ] || [ ! -f "$nvidia/cuda_nvrtc/lib/libnvrtc.so.12" ]; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        'nvidia-cuda-nvrtc-cu12==12.8.*' 'nvidia-cuda-nvcc-cu12==12.8.*' 'nvidia-cuda-runtime-cu12==12.8.*'
fi
export LD_LIBRARY_PATH="$nvidia/cuda_nvrtc/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export SIEVE_CUDA_INCLUDE="$nvidia/cuda_runtime/include"
export SIEVE_PTXAS="$nvidia/cuda_nvcc/bin/ptxas"

if [ -d ../shared ]; then
    export SIEVE_REQUIRE_SHARED=1
fi
export SIEVE_SKIP_LOG="$PWD/target/skipped-checks.log"
mkdir -p target
rm -f "$SIEVE_SKIP_LOG"

# The trainer is built with its `cuda` feature: it must build and pass without CUDA.
cargo test --locked --workspace --features sieve-trainer/cuda "$@"

if [ -s "$SIEVE_SKIP_LOG" ]; then
    echo "$(wc -l <"$SIEVE_SKIP_LOG") checks skipped (what each needs: $SIEVE_SKIP_LOG):"
    sed 's/^/  /' "$SIEVE_SKIP_LOG"
else
    echo "no checks skipped"
fi
