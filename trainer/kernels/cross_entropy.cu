// The vocab-parallel cross-entropy: each rank holds `cols` columns of the logits (its slice
// of the padded vocabulary, of which `valid` are real tokens); max and sum are all-reduced
// across the tensor-parallel group between these kernels, as on the CPU.
#include "common.cuh"

// Twin of Cpu::row_max: per row, the largest of the first `valid` columns (-inf if none).
// Grid: n rows; block: 256. Shared memory: 8 floats (one per warp).
extern "C" __global__ void row_max(float* max, const floatX* logits, int cols, int valid) {
    __shared__ float warps[8];
    const floatX* row = logits + (size_t)blockIdx.x * cols;
    float m = NEG_INF;
    for (int j = threadIdx.x; j < valid; j += blockDim.x) m = fmaxf(m, to_f(row[j]));
    m = warp_max(m);
    if (threadIdx.x % 32 == 0) warps[threadIdx.x / 32] = m;
    __syncthreads();
    if (threadIdx.x == 0) {
        float all = warps[0];
        for (int w = 1; w < blockDim.x / 32; w++) all = fmaxf(all, warps[w]);
        max[blockIdx.x] = all;
    }
}

// Twin of Cpu::row_sum_exp: exps = exp(logit - max) over the first `valid` columns (zero on
// the padding), kept in fp32 for backward, and sum = their sum. The sum is fixed-order per
// row: each thread adds its strided columns, then warps and lanes in index order.
// Grid: n rows; block: 256. Shared memory: 8 floats.
extern "C" __global__ void row_sum_exp(float* sum, float* exps, const floatX* logits, const float* max,
                                       int cols, int valid) {
    __shared__ float warps[8];
    size_t base = (size_t)blockIdx.x * cols;
    float m = max[blockIdx.x];
    float acc = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float e = j < valid ? __expf(to_f(logits[base + j]) - m) : 0.0f;
        exps[base + j] = e;
        acc += e;
    }
    acc = warp_sum(acc);
    if (threadIdx.x % 32 == 0) warps[threadIdx.x / 32] = acc;
    __syncthreads();
    if (threadIdx.x == 0) {
        float all = 0.0f;
        for (int w = 0; w < blockDim.x / 32; w++) all += warps[w];
        sum[blockIdx.x] = all;
    }
}

// Twin of Cpu::target_logit: per row, the logit of the target if it is one of this rank's
// columns, else zero.
// Grid: ceil(n / 256); block: 256.
extern "C" __global__ void target_logit(float* picked, const floatX* logits, const unsigned int* targets,
                                        int n, int vocab_start, int cols) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= n) return;
    int t = (int)targets[r] - vocab_start;
    picked[r] = (t >= 0 && t < cols) ? to_f(logits[(size_t)r * cols + t]) : 0.0f;
}

// Twin of Cpu::cross_entropy_backward: dlogits = (exps / sum - onehot(target)) * dloss[row],
// zero on the padding columns.
// Grid: n rows; block: 256.
extern "C" __global__ void cross_entropy_backward(floatX* dlogits, const float* exps, const float* sum,
                                                  const unsigned int* targets, const float* dloss,
                                                  int vocab_start, int cols, int valid) {
    size_t base = (size_t)blockIdx.x * cols;
    float inv = 1.0f / sum[blockIdx.x];
    float d = dloss[blockIdx.x];
    int t = (int)targets[blockIdx.x] - vocab_start;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float g = 0.0f;
        if (j < valid) g = (exps[base + j] * inv - (j == t ? 1.0f : 0.0f)) * d;
        dlogits[base + j] = to_x(g);
    }
}

// Twin of Cpu::cross_entropy_loss: per row, ln(sum) + max - picked from the statistics
// reduced over the tensor-parallel group.
// Grid: ceil(n / 256); block: 256.
extern "C" __global__ void cross_entropy_loss(float* losses, const float* sum, const float* max,
                                              const float* picked, int n) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= n) return;
    losses[r] = logf(sum[r]) + max[r] - picked[r];
}
