// Shared by every kernel of the CUDA backend: the storage type, warp reductions, and the
// fixed chunking that keeps reductions deterministic (the same partial sums in the same
// order on every run, as in the CPU backend's ROWS_PER_TASK chunks).
#pragma once
#include <cuda_bf16.h>

// Activations, parameters and their gradients are stored in bf16; every sum and every
// optimizer state is fp32.
typedef __nv_bfloat16 floatX;

// Rows per partial sum in column reductions (bias and LayerNorm weight gradients): the
// CPU backend's ROWS_PER_TASK, so both backends add the same groups in the same order.
#define ROWS_PER_CHUNK 16

// -infinity without <math.h> (NVRTC compiles without the host headers).
#define NEG_INF (-__int_as_float(0x7f800000))

__device__ __forceinline__ float to_f(floatX x) { return __bfloat162float(x); }
__device__ __forceinline__ floatX to_x(float x) { return __float2bfloat16_rn(x); }

__device__ __forceinline__ float warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        v += __shfl_xor_sync(0xffffffff, v, offset);
    }
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, offset));
    }
    return v;
}
