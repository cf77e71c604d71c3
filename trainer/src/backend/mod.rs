//! The kernels a GPT step is made of, behind one trait, so that the model code is the same on
//! every device: the CPU backend here (every test runs on it) and, later, CUDA. Each method is
//! one kernel over flat buffers; the model decides where the buffers live and when to call
//! the communicator between kernels.
//!
//! Conventions: `n` rows (batch × sequence positions) of `c` columns, row-major; weights of a
//! linear layer are `[out, in]` (as in GPT-2's Hugging Face checkpoints after transposing
//! Conv1D, and as in Megatron), so `out = inp · wᵀ + b`. Backward kernels *add* into their
//! gradient outputs, so gradients accumulate over micro-batches without extra copies.

pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda_compile;
pub mod cuda_gemm;
pub mod cuda_kernels;
pub mod cuda_launch;
pub mod float;
pub mod timed;

pub use cpu::Cpu;
pub use float::Float;

pub trait Backend: Sync + Send {
    type F: Float;

    /// `out[r] = wte[tokens[r] − vocab_start]` for ids inside this rank's rows, else zero
    /// (the vocab-parallel embedding before its all-reduce).
    fn embed_tokens(
        &self,
        out: &mut [Self::F],
        tokens: &[u32],
        wte: &[Self::F],
        vocab_start: usize,
        c: usize,
    );
    /// `dwte[tokens[r] − vocab_start] += dout[r]` for ids inside this rank's rows.
    fn embed_tokens_backward(
        &self,
        dwte: &mut [Self::F],
        dout: &[Self::F],
        tokens: &[u32],
        vocab_start: usize,
        c: usize,
    );
    /// `out[b, t] += wpe[t]` for `t < seq`.
    fn add_positions(&self, out: &mut [Self::F], wpe: &[Self::F], seq: usize, c: usize);
    /// `dwpe[t] += Σ_b dout[b, t]`.
    fn add_positions_backward(&self, dwpe: &mut [Self::F], dout: &[Self::F], seq: usize, c: usize);

    #[allow(clippy::too_many_arguments)]
    fn layernorm_forward(
        &self,
        out: &mut [Self::F],
        mean: &mut [Self::F],
        rstd: &mut [Self::F],
        inp: &[Self::F],
        weight: &[Self::F],
        bias: &[Self::F],
        c: usize,
    );
    #[allow(clippy::too_many_arguments)]
    fn layernorm_backward(
        &self,
        dinp: &mut [Self::F],
        dweight: &mut [Self::F],
        dbias: &mut [Self::F],
        dout: &[Self::F],
        inp: &[Self::F],
        weight: &[Self::F],
        mean: &[Self::F],
        rstd: &[Self::F],
        c: usize,
    );

    /// `out = inp · weightᵀ (+ bias)`; `inp` is `[n, c]`, `weight` `[oc, c]`.
    #[allow(clippy::too_many_arguments)]
    fn matmul_forward(
        &self,
        out: &mut [Self::F],
        inp: &[Self::F],
        weight: &[Self::F],
        bias: Option<&[Self::F]>,
        c: usize,
        oc: usize,
    );
    /// `dinp += dout · weight`, `dweight += doutᵀ · inp`, `dbias += Σ_rows dout`.
    #[allow(clippy::too_many_arguments)]
    fn matmul_backward(
        &self,
        dinp: &mut [Self::F],
        dweight: &mut [Self::F],
        dbias: Option<&mut [Self::F]>,
        dout: &[Self::F],
        inp: &[Self::F],
        weight: &[Self::F],
        c: usize,
        oc: usize,
    );
    /// `out[r] += Σ_rows dout` restricted to a bias (used when a bias is added after an
    /// all-reduce: Megatron's row-parallel linear).
    fn bias_add(&self, out: &mut [Self::F], bias: &[Self::F]);
    fn bias_backward(&self, dbias: &mut [Self::F], dout: &[Self::F]);

    /// Causal self-attention over `heads` heads of size `head_size`. `qkv` rows are
    /// `[q(heads·hs) | k | v]`; `att` keeps the softmax `[b, heads, t, t]` for backward.
    #[allow(clippy::too_many_arguments)]
    fn attention_forward(
        &self,
        out: &mut [Self::F],
        att: &mut [Self::F],
        qkv: &[Self::F],
        batch: usize,
        seq: usize,
        heads: usize,
        head_size: usize,
    );
    #[allow(clippy::too_many_arguments)]
    fn attention_backward(
        &self,
        dqkv: &mut [Self::F],
        dout: &[Self::F],
        qkv: &[Self::F],
        att: &[Self::F],
        batch: usize,
        seq: usize,
        heads: usize,
        head_size: usize,
    );

    /// GELU, tanh approximation (GPT-2's).
    fn gelu_forward(&self, out: &mut [Self::F], inp: &[Self::F]);
    fn gelu_backward(&self, dinp: &mut [Self::F], inp: &[Self::F], dout: &[Self::F]);

    /// `out = a + b`.
    fn residual_forward(&self, out: &mut [Self::F], a: &[Self::F], b: &[Self::F]);
    /// `acc += x`.
    fn accumulate(&self, acc: &mut [Self::F], x: &[Self::F]);

    /// Per row, the largest of the first `valid` columns of this rank's logits (−∞ if none).
    fn row_max(&self, max: &mut [Self::F], logits: &[Self::F], cols: usize, valid: usize);
    /// Per row, `exps = exp(logit − max)` over the first `valid` columns (zero on the
    /// padding columns), kept for backward, and `sum` = their sum.
    fn row_sum_exp(
        &self,
        sum: &mut [Self::F],
        exps: &mut [Self::F],
        logits: &[Self::F],
        max: &[Self::F],
        cols: usize,
        valid: usize,
    );
    /// Per row, the logit of the target if it is one of this rank's columns, else zero.
    fn target_logit(
        &self,
        picked: &mut [Self::F],
        logits: &[Self::F],
        targets: &[u32],
        vocab_start: usize,
        cols: usize,
    );
    /// `dlogits = (softmax − onehot(target)) · dloss[row]`, the softmax being `exps / sum`
    /// (zero on the padding columns).
    #[allow(clippy::too_many_arguments)]
    fn cross_entropy_backward(
        &self,
        dlogits: &mut [Self::F],
        exps: &[Self::F],
        sum: &[Self::F],
        targets: &[u32],
        dloss: &[Self::F],
        vocab_start: usize,
        cols: usize,
        valid: usize,
    );

    /// Rounds every element to bf16 (mixed-precision emulation); identity in f64.
    fn round_bf16(&self, x: &mut [Self::F]);
}
