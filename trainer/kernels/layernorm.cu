// LayerNorm forward and backward.
#include "common.cuh"

// Twin of Cpu::layernorm_forward: per row, mean and 1/std over c columns (eps 1e-5), then
// out = (x - mean) * rstd * weight + bias. One warp per row; sums in fp32.
// Grid: ceil(n / 8); block: 256 (8 warps).
extern "C" __global__ void layernorm_forward(floatX* out, float* mean, float* rstd, const floatX* inp,
                                             const floatX* weight, const floatX* bias, int n, int c) {
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= n) return;
    const floatX* x = inp + (size_t)row * c;
    float sum = 0.0f;
    for (int j = lane; j < c; j += 32) sum += to_f(x[j]);
    float mu = warp_sum(sum) / c;
    float sq = 0.0f;
    for (int j = lane; j < c; j += 32) {
        float d = to_f(x[j]) - mu;
        sq += d * d;
    }
    float r = rsqrtf(warp_sum(sq) / c + 1e-5f);
    floatX* o = out + (size_t)row * c;
    for (int j = lane; j < c; j += 32) {
        o[j] = to_x((to_f(x[j]) - mu) * r * to_f(weight[j]) + to_f(bias[j]));
    }
    if (lane == 0) {
        mean[row] = mu;
        rstd[row] = r;
    }
}

// Twin of Cpu::layernorm_backward, first half: dinp += ... for every row, and the weight and
// bias gradients of each chunk of ROWS_PER_CHUNK rows as partial sums partial_dw/partial_db
// [chunks, c] (the CPU's per-task vectors), rows added in order. One block of 256 threads per
// chunk: thread t owns the columns j = t (mod 256) of its chunk's partial rows, so nothing is
// shared but each row's two sums over the columns, which go through shared memory (warp sums
// added in warp order).
// Grid: chunks = ceil(n / ROWS_PER_CHUNK); block: 256. Shared memory: 2 × 8 floats.
extern "C" __global__ void layernorm_backward(floatX* dinp, float* partial_dw, float* partial_db,
                                              const floatX* dout, const floatX* inp,
                                              const floatX* weight, const float* mean,
                                              const float* rstd, int n, int c) {
    __shared__ float row_sums[2][8];
    int t = threadIdx.x, lane = t % 32, warp = t / 32, warps = blockDim.x / 32;
    float* dw = partial_dw + (size_t)blockIdx.x * c;
    float* db = partial_db + (size_t)blockIdx.x * c;
    for (int j = t; j < c; j += blockDim.x) {
        dw[j] = 0.0f;
        db[j] = 0.0f;
    }
    for (int k = 0; k < ROWS_PER_CHUNK; k++) {
        // The same row for the whole block: every thread leaves the loop together.
        int row = blockIdx.x * ROWS_PER_CHUNK + k;
        if (row >= n) break;
        const floatX* x = inp + (size_t)row * c;
        const floatX* dy = dout + (size_t)row * c;
        float m = mean[row], s = rstd[row];
        float a = 0.0f, b = 0.0f;
        for (int j = t; j < c; j += blockDim.x) {
            float norm = (to_f(x[j]) - m) * s;
            float dnorm = to_f(weight[j]) * to_f(dy[j]);
            a += dnorm;
            b += dnorm * norm;
        }
        a = warp_sum(a);
        b = warp_sum(b);
        if (lane == 0) {
            row_sums[0][warp] = a;
            row_sums[1][warp] = b;
        }
        __syncthreads();
        float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
        for (int w = 0; w < warps; w++) {
            dnorm_mean += row_sums[0][w];
            dnorm_norm_mean += row_sums[1][w];
        }
        dnorm_mean /= c;
        dnorm_norm_mean /= c;
        // Every thread has read this row's sums before the next row writes them.
        __syncthreads();
        floatX* di = dinp + (size_t)row * c;
        for (int j = t; j < c; j += blockDim.x) {
            float norm = (to_f(x[j]) - m) * s;
            float dnorm = to_f(weight[j]) * to_f(dy[j]);
            db[j] += to_f(dy[j]);
            dw[j] += norm * to_f(dy[j]);
            di[j] = to_x(to_f(di[j]) + (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s);
        }
    }
}

// Twin of Cpu's reduce_partials: the second half of every column reduction (LayerNorm weight
// and bias, bias gradients): out[j] += partial[chunk, j] for chunk 0, 1, ... in order, into
// the fp32 gradient.
// Grid: ceil(c / 256); block: 256.
extern "C" __global__ void reduce_partials(float* out, const float* partial, int chunks, int c) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= c) return;
    float acc = out[j];
    for (int k = 0; k < chunks; k++) acc += partial[(size_t)k * c + j];
    out[j] = acc;
}
