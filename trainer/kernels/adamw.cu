// The optimizer step over the fp32 master weights, and the squared gradient norm for
// clipping by the global norm.
#include "common.cuh"

// Twin of Cpu::adamw_step, per parameter: moments in fp32, decoupled weight decay where
// `decay` is nonzero, then the bias-corrected update of the fp32 master weight. The bf16
// working copy is refreshed afterwards by cast_to_bf16 (Gpt::params_changed), as on the CPU.
// Grid: ceil(n / 256); block: 256.
extern "C" __global__ void adamw_step(float* master, const float* grads, float* m, float* v,
                                      const float* decay, size_t n, float beta1, float beta2,
                                      float correction1, float correction2, float lr, float shrink,
                                      float eps) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float g = grads[i];
    float mi = beta1 * m[i] + (1.0f - beta1) * g;
    float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    float p = master[i];
    if (decay[i] != 0.0f) p *= shrink;
    p -= lr * (mi / correction1) / (sqrtf(vi / correction2) + eps);
    master[i] = p;
}

// Twin of Cpu::sum_squares (the per-rank part of Trainer::global_grad_norm): the sum of
// squares of the gradient entries whose mask is nonzero (parameters replicated across
// tensor-parallel ranks count on one rank only), as fixed chunks of 4096 entries summed in a fixed order: partial[block] is
// the sum of block's chunk, and grad_norm_finish adds the partials in block order. The
// partial sums stay in double, as on the CPU.
// Grid: ceil(n / 4096); block: 256. Shared memory: 8 doubles.
extern "C" __global__ void grad_norm_partial(double* partial, const float* grads,
                                             const float* counted, size_t n) {
    __shared__ double warps[8];
    size_t start = (size_t)blockIdx.x * 4096;
    double acc = 0.0;
    for (size_t i = start + threadIdx.x; i < start + 4096 && i < n; i += blockDim.x) {
        if (counted[i] != 0.0f) acc += (double)grads[i] * (double)grads[i];
    }
    for (int offset = 16; offset > 0; offset >>= 1) acc += __shfl_xor_sync(0xffffffff, acc, offset);
    if (threadIdx.x % 32 == 0) warps[threadIdx.x / 32] = acc;
    __syncthreads();
    if (threadIdx.x == 0) {
        double all = 0.0;
        for (int w = 0; w < blockDim.x / 32; w++) all += warps[w];
        partial[blockIdx.x] = all;
    }
}

// Adds the partials of grad_norm_partial into out[0] in a fixed order: thread t sums partials
// t, t + 256, ... in order (a 1.3B model has about 320,000), then thread 0 adds the 256 sums
// in thread order. Deterministic, as the partials' own sums are.
// Grid: 1; block: 256. Shared memory: 256 doubles.
extern "C" __global__ void grad_norm_finish(double* out, const double* partial, size_t blocks) {
    __shared__ double sums[256];
    double acc = 0.0;
    for (size_t b = threadIdx.x; b < blocks; b += blockDim.x) acc += partial[b];
    sums[threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.x == 0) {
        double all = 0.0;
        for (int t = 0; t < blockDim.x; t++) all += sums[t];
        out[0] = all;
    }
}
