// Token and position embeddings.
#include "common.cuh"

// Twin of Cpu::embed_tokens: out[r] = wte[tokens[r] - vocab_start] for this rank's rows of
// the vocabulary, else zero (the vocab-parallel embedding before its all-reduce).
// Grid: (n rows); block: 256 threads over the c columns.
extern "C" __global__ void embed_tokens(floatX* out, const unsigned int* tokens, const floatX* wte,
                                        int vocab_start, int vocab_rows, int c) {
    int r = blockIdx.x;
    int t = (int)tokens[r] - vocab_start;
    bool mine = t >= 0 && t < vocab_rows;
    for (int j = threadIdx.x; j < c; j += blockDim.x) {
        out[(size_t)r * c + j] = mine ? wte[(size_t)t * c + j] : to_x(0.0f);
    }
}

// Twin of Cpu::embed_tokens_backward: dwte[tokens[r] - vocab_start] += dout[r], into the fp32
// gradient. The CPU adds rows in row order. Here the host has grouped the rows by table row
// (`order` lists, for each group g, the rows of token table_rows[g] in row order, from
// starts[g] to starts[g + 1]): block (g, column tile) adds its token's rows in that order, so
// every element of the table gets the CPU's sums in the CPU's sequence, without atomics, and
// tokens and columns run in parallel.
// Grid: (groups, ceil(c / 256)); block: 256.
extern "C" __global__ void embed_tokens_backward(float* dwte, const floatX* dout,
                                                 const unsigned int* order,
                                                 const unsigned int* starts,
                                                 const unsigned int* table_rows, int c) {
    int j = blockIdx.y * blockDim.x + threadIdx.x;
    if (j >= c) return;
    int g = blockIdx.x;
    size_t at = (size_t)table_rows[g] * c + j;
    float acc = dwte[at];
    for (unsigned int k = starts[g]; k < starts[g + 1]; k++) {
        acc += to_f(dout[(size_t)order[k] * c + j]);
    }
    dwte[at] = acc;
}

// Twin of Cpu::add_positions: out[b, t] += wpe[t].
// Grid: ceil(n * c / 256); block: 256.
extern "C" __global__ void add_positions(floatX* out, const floatX* wpe, int n, int seq, int c) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)n * c) return;
    size_t pos = (i / c) % seq;
    out[i] = to_x(to_f(out[i]) + to_f(wpe[pos * c + i % c]));
}

// Twin of Cpu::add_positions_backward: dwpe[t] += sum over samples of dout[b, t], samples in
// order (one thread per element of wpe).
// Grid: ceil(seq * c / 256); block: 256.
extern "C" __global__ void add_positions_backward(float* dwpe, const floatX* dout, int batch,
                                                  int seq, int c) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)seq * c) return;
    float acc = dwpe[i];
    for (int b = 0; b < batch; b++) {
        acc += to_f(dout[(size_t)b * seq * c + i]);
    }
    dwpe[i] = acc;
}
