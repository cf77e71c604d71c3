// Element-wise kernels: GELU, residual sums, bias, column sums, precision casts.
#include "common.cuh"

#define GELU_SCALE 0.7978845608028654f  // sqrt(2 / pi)

// Twin of Cpu::gelu_forward: GPT-2's tanh approximation.
// Grid: ceil(n / 256); block: 256.
extern "C" __global__ void gelu_forward(floatX* out, const floatX* inp, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = to_f(inp[i]);
    out[i] = to_x(0.5f * x * (1.0f + tanhf(GELU_SCALE * (x + 0.044715f * x * x * x))));
}

// Twin of Cpu::gelu_backward: dinp += gelu'(inp) * dout.
// Grid: ceil(n / 256); block: 256.
extern "C" __global__ void gelu_backward(floatX* dinp, const floatX* inp, const floatX* dout, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = to_f(inp[i]);
    float th = tanhf(GELU_SCALE * (x + 0.044715f * x * x * x));
    float sech2 = 1.0f - th * th;
    float local = 0.5f * (1.0f + th) + 0.5f * x * sech2 * GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
    dinp[i] = to_x(to_f(dinp[i]) + local * to_f(dout[i]));
}

// Twin of Cpu::residual_forward: out = a + b.
// Grid: ceil(n / 256); block: 256.
extern "C" __global__ void residual_forward(floatX* out, const floatX* a, const floatX* b, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    out[i] = to_x(to_f(a[i]) + to_f(b[i]));
}

// Twin of Cpu::accumulate: acc += x, over fp32 gradients (the trainer adds the other
// pipeline end's copy of the tied embedding's gradient).
// Grid: ceil(n / 256); block: 256.
extern "C" __global__ void accumulate(float* acc, const float* x, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    acc[i] += x[i];
}

// Twin of Cpu::bias_add: out[r] += bias for every row (the bias a row-parallel linear adds
// after its all-reduce).
// Grid: ceil(n * c / 256); block: 256.
extern "C" __global__ void bias_add(floatX* out, const floatX* bias, size_t n, int c) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n * c) return;
    out[i] = to_x(to_f(out[i]) + to_f(bias[i % c]));
}

// Twin of Cpu's column_sums (the first half of Cpu::bias_backward; reduce_partials in
// layernorm.cu is the second): partial[chunk, j] = sum of x[r, j] over the chunk's
// ROWS_PER_CHUNK rows, in row order.
// Grid: (ceil(c / 256), chunks); block: 256.
extern "C" __global__ void column_sums(float* partial, const floatX* x, int n, int c) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    int chunk = blockIdx.y;
    if (j >= c) return;
    float acc = 0.0f;
    for (int k = 0; k < ROWS_PER_CHUNK; k++) {
        int r = chunk * ROWS_PER_CHUNK + k;
        if (r >= n) break;
        acc += to_f(x[(size_t)r * c + j]);
    }
    partial[(size_t)chunk * c + j] = acc;
}

// Twin of Cpu::round_bf16, in the direction the GPU needs it: fp32 master weights to their
// bf16 working copy (round to nearest even, as the CPU's emulation).
// Grid: ceil(n / 256); block: 256.
extern "C" __global__ void cast_to_bf16(floatX* out, const float* inp, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    out[i] = to_x(inp[i]);
}

// bf16 to fp32, exact (copies between storage precisions, and the second half of rounding an
// fp32 buffer to bf16 values).
// Grid: ceil(n / 256); block: 256.
extern "C" __global__ void cast_to_f32(float* out, const floatX* inp, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    out[i] = to_f(inp[i]);
}

// Twin of Cpu::scale: x *= k over fp32 gradients (clipping by the global norm).
// Grid: ceil(n / 256); block: 256.
extern "C" __global__ void scale(float* x, float k, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] *= k;
}
