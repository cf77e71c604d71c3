// Causal self-attention around batched GEMMs (cuBLASLt): the layout changes before and after
// them and the masked softmax between them. Together they are the twin of
// Cpu::attention_forward and Cpu::attention_backward, which do the same per (batch, head)
// with strided GEMMs on the qkv rows.
#include "common.cuh"

// Element i of a [b, heads, t, hs] tensor, as an index into rows [b, t, row_width] whose
// columns hold the heads side by side (h * hs + d): the one mapping every layout change here
// uses (row_width is 3c for the qkv rows, c for the output rows).
__device__ __forceinline__ size_t row_index(size_t i, int seq, int heads, int hs, size_t row_width) {
    int d = i % hs;
    int t = (i / hs) % seq;
    int h = (i / ((size_t)hs * seq)) % heads;
    size_t b = i / ((size_t)hs * seq * heads);
    return (b * seq + t) * row_width + (size_t)h * hs + d;
}

// qkv rows [b, t, (q | k | v) heads * hs] to q, k, v each [b, heads, t, hs], so that every
// (batch, head) is one contiguous matrix of a strided batched GEMM.
// Grid: ceil(b * t * c / 256); block: 256.
extern "C" __global__ void attention_permute(floatX* q, floatX* k, floatX* v, const floatX* qkv,
                                             int batch, int seq, int heads, int hs) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t c = (size_t)heads * hs;
    if (i >= (size_t)batch * seq * c) return;
    // i indexes [b, h, t, d] of the destination.
    size_t src = row_index(i, seq, heads, hs, 3 * c);
    q[i] = qkv[src];
    k[i] = qkv[src + c];
    v[i] = qkv[src + 2 * c];
}

// The backward of attention_permute: dqkv += (dq | dk | dv) back in the row layout.
// Grid: ceil(b * t * c / 256); block: 256.
extern "C" __global__ void attention_permute_backward(floatX* dqkv, const floatX* dq, const floatX* dk,
                                                      const floatX* dv, int batch, int seq, int heads,
                                                      int hs) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t c = (size_t)heads * hs;
    if (i >= (size_t)batch * seq * c) return;
    size_t dst = row_index(i, seq, heads, hs, 3 * c);
    dqkv[dst] = to_x(to_f(dqkv[dst]) + to_f(dq[i]));
    dqkv[dst + c] = to_x(to_f(dqkv[dst + c]) + to_f(dk[i]));
    dqkv[dst + 2 * c] = to_x(to_f(dqkv[dst + 2 * c]) + to_f(dv[i]));
}

// The attention output [b, heads, t, hs] back to rows [b, t, heads * hs].
// Grid: ceil(b * t * c / 256); block: 256.
extern "C" __global__ void attention_unpermute(floatX* out, const floatX* y, int batch, int seq,
                                               int heads, int hs) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t c = (size_t)heads * hs;
    if (i >= (size_t)batch * seq * c) return;
    out[row_index(i, seq, heads, hs, c)] = y[i];
}

// The backward of attention_unpermute: dout rows to [b, heads, t, hs].
// Grid: ceil(b * t * c / 256); block: 256.
extern "C" __global__ void attention_unpermute_backward(floatX* dy, const floatX* dout, int batch,
                                                        int seq, int heads, int hs) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t c = (size_t)heads * hs;
    if (i >= (size_t)batch * seq * c) return;
    dy[i] = dout[row_index(i, seq, heads, hs, c)];
}

// The masked softmax of Cpu::attention_forward, in place on the scores of each query row
// (already scaled by 1/sqrt(hs) in the GEMM): over keys s <= t, exp(x - max) / sum, and zero
// above the diagonal. One warp per row of [b * heads * seq, seq].
// Grid: ceil(rows / 8); block: 256.
extern "C" __global__ void softmax_causal_forward(floatX* att, int rows, int seq) {
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= rows) return;
    int t = row % seq;
    floatX* a = att + (size_t)row * seq;
    float m = NEG_INF;
    for (int s = lane; s <= t; s += 32) m = fmaxf(m, to_f(a[s]));
    m = warp_max(m);
    float sum = 0.0f;
    for (int s = lane; s <= t; s += 32) sum += __expf(to_f(a[s]) - m);
    float inv = 1.0f / warp_sum(sum);
    for (int s = lane; s < seq; s += 32) {
        a[s] = to_x(s <= t ? __expf(to_f(a[s]) - m) * inv : 0.0f);
    }
}

// The softmax backward of Cpu::attention_backward, in place on datt (the gradient of the
// probabilities): dscores = att * (datt - sum_s att * datt) * scale, zero above the diagonal.
// One warp per row. Grid: ceil(rows / 8); block: 256.
extern "C" __global__ void softmax_causal_backward(floatX* datt, const floatX* att, int rows, int seq,
                                                   float scale) {
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= rows) return;
    int t = row % seq;
    const floatX* a = att + (size_t)row * seq;
    floatX* d = datt + (size_t)row * seq;
    float dot = 0.0f;
    for (int s = lane; s <= t; s += 32) dot += to_f(a[s]) * to_f(d[s]);
    dot = warp_sum(dot);
    for (int s = lane; s < seq; s += 32) {
        float g = s <= t ? to_f(a[s]) * (to_f(d[s]) - dot) * scale : 0.0f;
        d[s] = to_x(g);
    }
}
