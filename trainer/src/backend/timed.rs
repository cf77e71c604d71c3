//! A backend wrapper that adds up the time spent in each kind of kernel, to see where a
//! training step goes (the benchmark's GEMM and non-GEMM shares).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use std::ops::Range;

use anyhow::Result;

use super::{Backend, Role};
use crate::dist::ReduceOp;
use crate::optim::AdamStep;

/// Kernel kinds the time is split into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The linear layers' GEMMs (forward and backward).
    Gemm,
    /// Attention: its batched GEMMs and the softmax between them.
    Attention,
    /// Everything else: embeddings, LayerNorm, GELU, residuals, cross-entropy, rounding.
    Elementwise,
}

pub struct Timed<B> {
    pub inner: B,
    nanos: [AtomicU64; 3],
}

impl<B: Backend> Timed<B> {
    pub fn new(inner: B) -> Self {
        Timed {
            inner,
            nanos: Default::default(),
        }
    }

    fn time<R>(&self, kind: Kind, f: impl FnOnce() -> R) -> R {
        let t = Instant::now();
        let r = f();
        self.nanos[kind as usize].fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        r
    }

    /// Seconds spent per kind so far.
    pub fn seconds(&self, kind: Kind) -> f64 {
        self.nanos[kind as usize].load(Ordering::Relaxed) as f64 / 1e9
    }

    pub fn reset(&self) {
        for n in &self.nanos {
            n.store(0, Ordering::Relaxed);
        }
    }
}

impl<B: Backend> Backend for Timed<B> {
    type F = B::F;
    type Buf = B::Buf;
    type Ref<'a>
        = B::Ref<'a>
    where
        Self: 'a;
    type Mut<'a>
        = B::Mut<'a>
    where
        Self: 'a;
    type Group = B::Group;

    // Buffer handling and communication are not kernels: passed through untimed.
    fn zeros(&self, n: usize, role: Role) -> B::Buf {
        self.inner.zeros(n, role)
    }
    fn buf_len(&self, buf: &B::Buf) -> usize {
        self.inner.buf_len(buf)
    }
    fn view<'a>(&self, buf: &'a B::Buf, range: Range<usize>) -> B::Ref<'a> {
        self.inner.view(buf, range)
    }
    fn view_mut<'a>(&self, buf: &'a mut B::Buf, range: Range<usize>) -> B::Mut<'a> {
        self.inner.view_mut(buf, range)
    }
    fn view_mut2<'a>(
        &self,
        buf: &'a mut B::Buf,
        a: Range<usize>,
        b: Range<usize>,
    ) -> (B::Mut<'a>, B::Mut<'a>) {
        self.inner.view_mut2(buf, a, b)
    }
    fn upload(&self, dst: B::Mut<'_>, src: &[B::F]) {
        self.inner.upload(dst, src)
    }
    fn download(&self, src: B::Ref<'_>, dst: &mut [B::F]) {
        self.inner.download(src, dst)
    }
    fn fill_zero(&self, x: B::Mut<'_>) {
        self.inner.fill_zero(x)
    }
    fn copy(&self, dst: B::Mut<'_>, src: B::Ref<'_>) {
        self.inner.copy(dst, src)
    }
    fn synchronize(&self) -> Result<()> {
        self.inner.synchronize()
    }
    fn single_group(&self) -> Box<B::Group> {
        self.inner.single_group()
    }
    fn group_rank(&self, group: &B::Group) -> usize {
        self.inner.group_rank(group)
    }
    fn group_size(&self, group: &B::Group) -> usize {
        self.inner.group_size(group)
    }
    fn all_reduce(&self, group: &B::Group, buf: B::Mut<'_>, op: ReduceOp) -> Result<()> {
        self.inner.all_reduce(group, buf, op)
    }
    fn all_reduce_overlapped(&self, group: &B::Group, buf: B::Mut<'_>, op: ReduceOp) -> Result<()> {
        self.inner.all_reduce_overlapped(group, buf, op)
    }
    fn wait_overlapped(&self) -> Result<()> {
        self.inner.wait_overlapped()
    }
    fn reduce_scatter(&self, group: &B::Group, input: B::Ref<'_>, out: B::Mut<'_>) -> Result<()> {
        self.inner.reduce_scatter(group, input, out)
    }
    fn all_gather(&self, group: &B::Group, local: B::Ref<'_>, out: B::Mut<'_>) -> Result<()> {
        self.inner.all_gather(group, local, out)
    }
    fn send(&self, group: &B::Group, to: usize, buf: B::Ref<'_>) -> Result<()> {
        self.inner.send(group, to, buf)
    }
    fn p2p_group_start(&self) {
        self.inner.p2p_group_start()
    }
    fn p2p_group_end(&self) -> Result<()> {
        self.inner.p2p_group_end()
    }
    fn recv(&self, group: &B::Group, from: usize, buf: B::Mut<'_>) -> Result<()> {
        self.inner.recv(group, from, buf)
    }

    fn embed_tokens(
        &self,
        out: B::Mut<'_>,
        tokens: &[u32],
        wte: B::Ref<'_>,
        vocab_start: usize,
        c: usize,
    ) {
        self.time(Kind::Elementwise, || {
            self.inner.embed_tokens(out, tokens, wte, vocab_start, c)
        })
    }
    fn embed_tokens_backward(
        &self,
        dwte: B::Mut<'_>,
        dout: B::Ref<'_>,
        tokens: &[u32],
        vocab_start: usize,
        c: usize,
    ) {
        self.time(Kind::Elementwise, || {
            self.inner
                .embed_tokens_backward(dwte, dout, tokens, vocab_start, c)
        })
    }
    fn add_positions(&self, out: B::Mut<'_>, wpe: B::Ref<'_>, seq: usize, c: usize) {
        self.time(Kind::Elementwise, || {
            self.inner.add_positions(out, wpe, seq, c)
        })
    }
    fn add_positions_backward(&self, dwpe: B::Mut<'_>, dout: B::Ref<'_>, seq: usize, c: usize) {
        self.time(Kind::Elementwise, || {
            self.inner.add_positions_backward(dwpe, dout, seq, c)
        })
    }
    fn layernorm_forward(
        &self,
        out: B::Mut<'_>,
        mean: B::Mut<'_>,
        rstd: B::Mut<'_>,
        inp: B::Ref<'_>,
        weight: B::Ref<'_>,
        bias: B::Ref<'_>,
        c: usize,
    ) {
        self.time(Kind::Elementwise, || {
            self.inner
                .layernorm_forward(out, mean, rstd, inp, weight, bias, c)
        })
    }
    fn layernorm_backward(
        &self,
        dinp: B::Mut<'_>,
        dweight: B::Mut<'_>,
        dbias: B::Mut<'_>,
        dout: B::Ref<'_>,
        inp: B::Ref<'_>,
        weight: B::Ref<'_>,
        mean: B::Ref<'_>,
        rstd: B::Ref<'_>,
        c: usize,
    ) {
        self.time(Kind::Elementwise, || {
            self.inner
                .layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, c)
        })
    }
    fn matmul_forward(
        &self,
        out: B::Mut<'_>,
        inp: B::Ref<'_>,
        weight: B::Ref<'_>,
        bias: Option<B::Ref<'_>>,
        c: usize,
        oc: usize,
    ) {
        self.time(Kind::Gemm, || {
            self.inner.matmul_forward(out, inp, weight, bias, c, oc)
        })
    }
    fn matmul_backward(
        &self,
        dinp: B::Mut<'_>,
        dweight: B::Mut<'_>,
        dbias: Option<B::Mut<'_>>,
        dout: B::Ref<'_>,
        inp: B::Ref<'_>,
        weight: B::Ref<'_>,
        c: usize,
        oc: usize,
    ) {
        self.time(Kind::Gemm, || {
            self.inner
                .matmul_backward(dinp, dweight, dbias, dout, inp, weight, c, oc)
        })
    }
    fn bias_add(&self, out: B::Mut<'_>, bias: B::Ref<'_>) {
        self.time(Kind::Elementwise, || self.inner.bias_add(out, bias))
    }
    fn bias_backward(&self, dbias: B::Mut<'_>, dout: B::Ref<'_>) {
        self.time(Kind::Elementwise, || self.inner.bias_backward(dbias, dout))
    }
    fn attention_forward(
        &self,
        out: B::Mut<'_>,
        att: B::Mut<'_>,
        qkv: B::Ref<'_>,
        batch: usize,
        seq: usize,
        heads: usize,
        head_size: usize,
    ) {
        self.time(Kind::Attention, || {
            self.inner
                .attention_forward(out, att, qkv, batch, seq, heads, head_size)
        })
    }
    fn attention_backward(
        &self,
        dqkv: B::Mut<'_>,
        dout: B::Ref<'_>,
        qkv: B::Ref<'_>,
        att: B::Ref<'_>,
        batch: usize,
        seq: usize,
        heads: usize,
        head_size: usize,
    ) {
        self.time(Kind::Attention, || {
            self.inner
                .attention_backward(dqkv, dout, qkv, att, batch, seq, heads, head_size)
        })
    }
    fn gelu_forward(&self, out: B::Mut<'_>, inp: B::Ref<'_>) {
        self.time(Kind::Elementwise, || self.inner.gelu_forward(out, inp))
    }
    fn gelu_backward(&self, dinp: B::Mut<'_>, inp: B::Ref<'_>, dout: B::Ref<'_>) {
        self.time(Kind::Elementwise, || {
            self.inner.gelu_backward(dinp, inp, dout)
        })
    }
    fn residual_forward(&self, out: B::Mut<'_>, a: B::Ref<'_>, b: B::Ref<'_>) {
        self.time(Kind::Elementwise, || self.inner.residual_forward(out, a, b))
    }
    fn accumulate(&self, acc: B::Mut<'_>, x: B::Ref<'_>) {
        self.time(Kind::Elementwise, || self.inner.accumulate(acc, x))
    }
    fn row_max(&self, max: B::Mut<'_>, logits: B::Ref<'_>, cols: usize, valid: usize) {
        self.time(Kind::Elementwise, || {
            self.inner.row_max(max, logits, cols, valid)
        })
    }
    fn row_sum_exp(
        &self,
        sum: B::Mut<'_>,
        exps: B::Mut<'_>,
        logits: B::Ref<'_>,
        max: B::Ref<'_>,
        cols: usize,
        valid: usize,
    ) {
        self.time(Kind::Elementwise, || {
            self.inner.row_sum_exp(sum, exps, logits, max, cols, valid)
        })
    }
    fn target_logit(
        &self,
        picked: B::Mut<'_>,
        logits: B::Ref<'_>,
        targets: &[u32],
        vocab_start: usize,
        cols: usize,
    ) {
        self.time(Kind::Elementwise, || {
            self.inner
                .target_logit(picked, logits, targets, vocab_start, cols)
        })
    }
    fn cross_entropy_backward(
        &self,
        dlogits: B::Mut<'_>,
        exps: B::Ref<'_>,
        sum: B::Ref<'_>,
        targets: &[u32],
        dloss: B::Ref<'_>,
        vocab_start: usize,
        cols: usize,
        valid: usize,
    ) {
        self.time(Kind::Elementwise, || {
            self.inner.cross_entropy_backward(
                dlogits,
                exps,
                sum,
                targets,
                dloss,
                vocab_start,
                cols,
                valid,
            )
        })
    }

    fn cross_entropy_loss(
        &self,
        losses: B::Mut<'_>,
        sum: B::Ref<'_>,
        max: B::Ref<'_>,
        picked: B::Ref<'_>,
    ) {
        self.time(Kind::Elementwise, || {
            self.inner.cross_entropy_loss(losses, sum, max, picked)
        })
    }

    fn scale(&self, x: B::Mut<'_>, k: B::F) {
        self.time(Kind::Elementwise, || self.inner.scale(x, k))
    }
    fn sum_squares(&self, x: B::Ref<'_>, mask: B::Ref<'_>) -> f64 {
        self.time(Kind::Elementwise, || self.inner.sum_squares(x, mask))
    }
    fn adamw_step(
        &self,
        params: B::Mut<'_>,
        grads: B::Ref<'_>,
        m: B::Mut<'_>,
        v: B::Mut<'_>,
        decay: B::Ref<'_>,
        k: &AdamStep<B::F>,
    ) {
        self.time(Kind::Elementwise, || {
            self.inner.adamw_step(params, grads, m, v, decay, k)
        })
    }

    fn round_bf16(&self, x: B::Mut<'_>) {
        self.time(Kind::Elementwise, || self.inner.round_bf16(x))
    }
}
