#!/usr/bin/env bash
# Regenerates trainer/kernels/ptx/ (the PTX the binary embeds, declared at CUDA 12.0's PTX ISA)
# from trainer/kernels/*.cu with CUDA 12.8's NVRTC from PyPI, and trainer/kernels/cubin/ (ptxas's
# sm_80 and sm_90 machine code of it); run after editing a kernel. No GPU needed.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="target/py-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
nvidia=$("$venv/bin/python" -c "import os, sysconfig; print(os.path.join(sysconfig.get_paths()['purelib'], 'nvidia'))")
if [ ! -x "$nvidia/cuda_nvcc/bin/ptxas" ] || [ ! -f "$nvidia/cuda_nvrtc/lib/libnvrtc.so.12" ]; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        'nvidia-cuda-nvrtc-cu12==12.8.*' 'nvidia-cuda-nvcc-cu12==12.8.*' 'nvidia-cuda-runtime-cu12==12.8.*'
fi
export LD_LIBRARY_PATH="$nvidia/cuda_nvrtc/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export SIEVE_CUDA_INCLUDE="$nvidia/cuda_runtime/include"
export SIEVE_PTXAS="$nvidia/cuda_nvcc/bin/ptxas"
# The PTX and cubin files are embedded with include_str!/include_bytes!: placeholders let the
# test build once.
mkdir -p trainer/kernels/cubin
for f in trainer/kernels/*.cu; do
    for arch in sm80 sm90; do
        out="trainer/kernels/ptx/$(basename "$f" .cu).$arch.ptx"
        [ -f "$out" ] || : > "$out"
        out="trainer/kernels/cubin/$(basename "$f" .cu).$arch.cubin"
        [ -f "$out" ] || : > "$out"
    done
done
SIEVE_WRITE_PTX=1 cargo test --locked -p sieve-trainer --features cuda --test it -- cuda_kernels::every_kernel_compiles
# Built again with the new PTX embedded, the same test now checks it.
cargo test --locked -p sieve-trainer --features cuda --test it -- cuda_kernels::
