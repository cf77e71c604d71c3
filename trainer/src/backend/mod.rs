//! The kernels a GPT step is made of, behind one trait, so that the model code is the same on
//! every device: the CPU backend here (every test runs on it) and, later, CUDA. Each method is
//! one kernel over flat buffers; the model decides where the buffers live and when to call
//! the communicator between kernels.
//!
//! Conventions: `n` rows (batch × sequence positions) of `c` columns, row-major; weights of a
//! linear layer are `[out, in]` (as in GPT-2's Hugging Face checkpoints after transposing
//! Conv1D, and as in Megatron), so `out = inp · wᵀ + b`. Backward kernels *add* into their
//! gradient outputs, so gradients accumulate over micro-batches without extra copies.

pub mod buffers;
pub mod clock;
pub mod cpu;
pub mod cuda;
mod delegate;
pub mod device_order;
pub mod faulty;
pub mod float;

use std::ops::Range;

use anyhow::Result;

use crate::dist::ReduceOp;
use crate::optim::AdamStep;

pub use buffers::BackendExt;
pub use cpu::Cpu;
pub use float::Float;

/// What a buffer holds. A device backend may store the roles at different precisions: the
/// CUDA backend keeps weights and activations in bf16 and master weights, gradients and
/// per-row statistics in fp32; the CPU backend stores every role as `F`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The master copy of the parameters (what the optimizer updates).
    Master,
    /// Parameter gradients, accumulated over micro-batches.
    Grad,
    /// The working copy of the weights that forward and backward read.
    Weights,
    /// Activations and their gradients.
    Activation,
    /// Per-row statistics (LayerNorm mean and rstd, cross-entropy max, sum and exps, losses).
    Stat,
}

pub trait Backend: Sync + Send {
    type F: Float;
    /// An owned buffer on the device (a `Vec` on the CPU); `Default` is the empty buffer.
    type Buf: Send + Sync + Default;
    /// A borrowed range of a buffer, read by a kernel.
    type Ref<'a>: Copy + Send + Sync
    where
        Self: 'a;
    /// A borrowed range of a buffer, written by a kernel.
    type Mut<'a>: Send
    where
        Self: 'a;
    /// A process group whose collectives run on this backend's buffers: the host
    /// communicators on the CPU, NCCL communicators on GPUs.
    type Group: ?Sized + Send + Sync;

    /// A buffer of `n` zeros holding `role`.
    fn zeros(&self, n: usize, role: Role) -> Self::Buf;
    fn buf_len(&self, buf: &Self::Buf) -> usize;
    fn view<'a>(&self, buf: &'a Self::Buf, range: Range<usize>) -> Self::Ref<'a>;
    fn view_mut<'a>(&self, buf: &'a mut Self::Buf, range: Range<usize>) -> Self::Mut<'a>;
    /// Two disjoint writable ranges of one buffer, `a` before `b` (a weight's and its bias's
    /// gradients).
    fn view_mut2<'a>(
        &self,
        buf: &'a mut Self::Buf,
        a: Range<usize>,
        b: Range<usize>,
    ) -> (Self::Mut<'a>, Self::Mut<'a>);
    /// Host → device, `src.len()` elements.
    fn upload(&self, dst: Self::Mut<'_>, src: &[Self::F]);
    /// Device → host, `dst.len()` elements (waits for the device).
    fn download(&self, src: Self::Ref<'_>, dst: &mut [Self::F]);
    fn fill_zero(&self, x: Self::Mut<'_>);
    /// `dst = src`, converted to `dst`'s storage precision.
    fn copy(&self, dst: Self::Mut<'_>, src: Self::Ref<'_>);
    /// Waits for every kernel queued so far and reports the first failure of any of them
    /// (kernels run asynchronously on a device; the CPU backend has finished already).
    fn synchronize(&self) -> Result<()>;

    /// A group of this process alone (every collective an identity or a copy).
    fn single_group(&self) -> Box<Self::Group>;
    /// The group's rank of this process and its size.
    fn group_rank(&self, group: &Self::Group) -> usize;
    fn group_size(&self, group: &Self::Group) -> usize;
    /// The collectives of [`crate::dist::Comm`], on device buffers: every rank ends with the
    /// rank-ordered reduction of every rank's `buf`.
    fn all_reduce(&self, group: &Self::Group, buf: Self::Mut<'_>, op: ReduceOp) -> Result<()>;
    /// An all-reduce that may run while the kernels issued after it do (on a GPU: on a second
    /// stream, after the work issued so far); [`Backend::wait_overlapped`] makes later work
    /// wait for every one of them. Used for the data-parallel gradient buckets during backward.
    fn all_reduce_overlapped(
        &self,
        group: &Self::Group,
        buf: Self::Mut<'_>,
        op: ReduceOp,
    ) -> Result<()>;
    fn wait_overlapped(&self, group: &Self::Group) -> Result<()>;
    /// `input` is `size` equal chunks; rank r receives the sum of every rank's chunk r.
    fn reduce_scatter(
        &self,
        group: &Self::Group,
        input: Self::Ref<'_>,
        out: Self::Mut<'_>,
    ) -> Result<()>;
    /// `out` is `size` chunks of `local`'s length; chunk r is rank r's `local`.
    fn all_gather(
        &self,
        group: &Self::Group,
        local: Self::Ref<'_>,
        out: Self::Mut<'_>,
    ) -> Result<()>;
    fn send(&self, group: &Self::Group, to: usize, buf: Self::Ref<'_>) -> Result<()>;
    /// Sends and receives between these two calls are issued together (NCCL's group calls:
    /// a send does not complete until its receive is posted, so a pipeline stage's send and
    /// the receive after it must be one group; see [`crate::parallel::p2p_groups`]).
    /// A group's transfers are all on `group` (a pipeline stage's neighbours).
    fn p2p_group_start(&self, group: &Self::Group);
    fn p2p_group_end(&self, group: &Self::Group) -> Result<()>;
    fn recv(&self, group: &Self::Group, from: usize, buf: Self::Mut<'_>) -> Result<()>;

    /// `out[r] = wte[tokens[r] − vocab_start]` for ids inside this rank's rows, else zero
    /// (the vocab-parallel embedding before its all-reduce).
    fn embed_tokens(
        &self,
        out: Self::Mut<'_>,
        tokens: &[u32],
        wte: Self::Ref<'_>,
        vocab_start: usize,
        c: usize,
    );
    /// `dwte[tokens[r] − vocab_start] += dout[r]` for ids inside this rank's rows.
    fn embed_tokens_backward(
        &self,
        dwte: Self::Mut<'_>,
        dout: Self::Ref<'_>,
        tokens: &[u32],
        vocab_start: usize,
        c: usize,
    );
    /// `out[b, t] += wpe[t]` for `t < seq`.
    fn add_positions(&self, out: Self::Mut<'_>, wpe: Self::Ref<'_>, seq: usize, c: usize);
    /// `dwpe[t] += Σ_b dout[b, t]`.
    fn add_positions_backward(
        &self,
        dwpe: Self::Mut<'_>,
        dout: Self::Ref<'_>,
        seq: usize,
        c: usize,
    );

    #[allow(clippy::too_many_arguments)]
    fn layernorm_forward(
        &self,
        out: Self::Mut<'_>,
        mean: Self::Mut<'_>,
        rstd: Self::Mut<'_>,
        inp: Self::Ref<'_>,
        weight: Self::Ref<'_>,
        bias: Self::Ref<'_>,
        c: usize,
    );
    #[allow(clippy::too_many_arguments)]
    fn layernorm_backward(
        &self,
        dinp: Self::Mut<'_>,
        dweight: Self::Mut<'_>,
        dbias: Self::Mut<'_>,
        dout: Self::Ref<'_>,
        inp: Self::Ref<'_>,
        weight: Self::Ref<'_>,
        mean: Self::Ref<'_>,
        rstd: Self::Ref<'_>,
        c: usize,
    );

    /// `out = inp · weightᵀ (+ bias)`; `inp` is `[n, c]`, `weight` `[oc, c]`.
    #[allow(clippy::too_many_arguments)]
    fn matmul_forward(
        &self,
        out: Self::Mut<'_>,
        inp: Self::Ref<'_>,
        weight: Self::Ref<'_>,
        bias: Option<Self::Ref<'_>>,
        c: usize,
        oc: usize,
    );
    /// `dinp += dout · weight`, `dweight += doutᵀ · inp`, `dbias += Σ_rows dout`.
    #[allow(clippy::too_many_arguments)]
    fn matmul_backward(
        &self,
        dinp: Self::Mut<'_>,
        dweight: Self::Mut<'_>,
        dbias: Option<Self::Mut<'_>>,
        dout: Self::Ref<'_>,
        inp: Self::Ref<'_>,
        weight: Self::Ref<'_>,
        c: usize,
        oc: usize,
    );
    /// `out[r] += Σ_rows dout` restricted to a bias (used when a bias is added after an
    /// all-reduce: Megatron's row-parallel linear).
    fn bias_add(&self, out: Self::Mut<'_>, bias: Self::Ref<'_>);
    fn bias_backward(&self, dbias: Self::Mut<'_>, dout: Self::Ref<'_>);

    /// Causal self-attention over `heads` heads of size `head_size`. `qkv` rows are
    /// `[q(heads·hs) | k | v]`; `att` keeps the softmax `[b, heads, t, t]` for backward.
    #[allow(clippy::too_many_arguments)]
    fn attention_forward(
        &self,
        out: Self::Mut<'_>,
        att: Self::Mut<'_>,
        qkv: Self::Ref<'_>,
        batch: usize,
        seq: usize,
        heads: usize,
        head_size: usize,
    );
    #[allow(clippy::too_many_arguments)]
    fn attention_backward(
        &self,
        dqkv: Self::Mut<'_>,
        dout: Self::Ref<'_>,
        qkv: Self::Ref<'_>,
        att: Self::Ref<'_>,
        batch: usize,
        seq: usize,
        heads: usize,
        head_size: usize,
    );

    /// GELU, tanh approximation (GPT-2's).
    fn gelu_forward(&self, out: Self::Mut<'_>, inp: Self::Ref<'_>);
    fn gelu_backward(&self, dinp: Self::Mut<'_>, inp: Self::Ref<'_>, dout: Self::Ref<'_>);

    /// `out = a + b`.
    fn residual_forward(&self, out: Self::Mut<'_>, a: Self::Ref<'_>, b: Self::Ref<'_>);
    /// `acc += x`.
    fn accumulate(&self, acc: Self::Mut<'_>, x: Self::Ref<'_>);

    /// Per row, the largest of the first `valid` columns of this rank's logits (−∞ if none).
    fn row_max(&self, max: Self::Mut<'_>, logits: Self::Ref<'_>, cols: usize, valid: usize);
    /// Per row, `exps = exp(logit − max)` over the first `valid` columns (zero on the
    /// padding columns), kept for backward, and `sum` = their sum.
    fn row_sum_exp(
        &self,
        sum: Self::Mut<'_>,
        exps: Self::Mut<'_>,
        logits: Self::Ref<'_>,
        max: Self::Ref<'_>,
        cols: usize,
        valid: usize,
    );
    /// Per row, the logit of the target if it is one of this rank's columns, else zero.
    fn target_logit(
        &self,
        picked: Self::Mut<'_>,
        logits: Self::Ref<'_>,
        targets: &[u32],
        vocab_start: usize,
        cols: usize,
    );
    /// `dlogits = (softmax − onehot(target)) · dloss[row]`, the softmax being `exps / sum`
    /// (zero on the padding columns).
    #[allow(clippy::too_many_arguments)]
    fn cross_entropy_backward(
        &self,
        dlogits: Self::Mut<'_>,
        exps: Self::Ref<'_>,
        sum: Self::Ref<'_>,
        targets: &[u32],
        dloss: Self::Ref<'_>,
        vocab_start: usize,
        cols: usize,
        valid: usize,
    );

    /// Per row, the cross-entropy `ln(sum) + max − picked` from the reduced statistics.
    fn cross_entropy_loss(
        &self,
        losses: Self::Mut<'_>,
        sum: Self::Ref<'_>,
        max: Self::Ref<'_>,
        picked: Self::Ref<'_>,
    );

    /// `x *= k` (clipping a gradient by the global norm).
    fn scale(&self, x: Self::Mut<'_>, k: Self::F);
    /// `Σ x[i]²` over the elements where `mask[i] ≠ 0`, in f64 and in index order.
    fn sum_squares(&self, x: Self::Ref<'_>, mask: Self::Ref<'_>) -> f64;
    /// One AdamW step over a range of master parameters: moments updated in place, decoupled
    /// weight decay where `decay[i] ≠ 0`, then the bias-corrected update (see
    /// [`crate::optim::AdamStep`]).
    #[allow(clippy::too_many_arguments)]
    fn adamw_step(
        &self,
        params: Self::Mut<'_>,
        grads: Self::Ref<'_>,
        m: Self::Mut<'_>,
        v: Self::Mut<'_>,
        decay: Self::Ref<'_>,
        k: &AdamStep<Self::F>,
    );

    /// Rounds every element to bf16 (mixed-precision emulation); identity in f64.
    fn round_bf16(&self, x: Self::Mut<'_>);
}
