//! A backend wrapper that adds up the time spent in each kind of kernel, to see where a
//! training step goes (the benchmark's GEMM and non-GEMM shares).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::Backend;

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

    fn embed_tokens(
        &self,
        out: &mut [B::F],
        tokens: &[u32],
        wte: &[B::F],
        vocab_start: usize,
        c: usize,
    ) {
        self.time(Kind::Elementwise, || {
            self.inner.embed_tokens(out, tokens, wte, vocab_start, c)
        })
    }
    fn embed_tokens_backward(
        &self,
        dwte: &mut [B::F],
        dout: &[B::F],
        tokens: &[u32],
        vocab_start: usize,
        c: usize,
    ) {
        self.time(Kind::Elementwise, || {
            self.inner
                .embed_tokens_backward(dwte, dout, tokens, vocab_start, c)
        })
    }
    fn add_positions(&self, out: &mut [B::F], wpe: &[B::F], seq: usize, c: usize) {
        self.time(Kind::Elementwise, || {
            self.inner.add_positions(out, wpe, seq, c)
        })
    }
    fn add_positions_backward(&self, dwpe: &mut [B::F], dout: &[B::F], seq: usize, c: usize) {
        self.time(Kind::Elementwise, || {
            self.inner.add_positions_backward(dwpe, dout, seq, c)
        })
    }
    fn layernorm_forward(
        &self,
        out: &mut [B::F],
        mean: &mut [B::F],
        rstd: &mut [B::F],
        inp: &[B::F],
        weight: &[B::F],
        bias: &[B::F],
        c: usize,
    ) {
        self.time(Kind::Elementwise, || {
            self.inner
                .layernorm_forward(out, mean, rstd, inp, weight, bias, c)
        })
    }
    fn layernorm_backward(
        &self,
        dinp: &mut [B::F],
        dweight: &mut [B::F],
        dbias: &mut [B::F],
        dout: &[B::F],
        inp: &[B::F],
        weight: &[B::F],
        mean: &[B::F],
        rstd: &[B::F],
        c: usize,
    ) {
        self.time(Kind::Elementwise, || {
            self.inner
                .layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, c)
        })
    }
    fn matmul_forward(
        &self,
        out: &mut [B::F],
        inp: &[B::F],
        weight: &[B::F],
        bias: Option<&[B::F]>,
        c: usize,
        oc: usize,
    ) {
        self.time(Kind::Gemm, || {
            self.inner.matmul_forward(out, inp, weight, bias, c, oc)
        })
    }
    fn matmul_backward(
        &self,
        dinp: &mut [B::F],
        dweight: &mut [B::F],
        dbias: Option<&mut [B::F]>,
        dout: &[B::F],
        inp: &[B::F],
        weight: &[B::F],
        c: usize,
        oc: usize,
    ) {
        self.time(Kind::Gemm, || {
            self.inner
                .matmul_backward(dinp, dweight, dbias, dout, inp, weight, c, oc)
        })
    }
    fn bias_add(&self, out: &mut [B::F], bias: &[B::F]) {
        self.time(Kind::Elementwise, || self.inner.bias_add(out, bias))
    }
    fn bias_backward(&self, dbias: &mut [B::F], dout: &[B::F]) {
        self.time(Kind::Elementwise, || self.inner.bias_backward(dbias, dout))
    }
    fn attention_forward(
        &self,
        out: &mut [B::F],
        att: &mut [B::F],
        qkv: &[B::F],
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
        dqkv: &mut [B::F],
        dout: &[B::F],
        qkv: &[B::F],
        att: &[B::F],
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
    fn gelu_forward(&self, out: &mut [B::F], inp: &[B::F]) {
        self.time(Kind::Elementwise, || self.inner.gelu_forward(out, inp))
    }
    fn gelu_backward(&self, dinp: &mut [B::F], inp: &[B::F], dout: &[B::F]) {
        self.time(Kind::Elementwise, || {
            self.inner.gelu_backward(dinp, inp, dout)
        })
    }
    fn residual_forward(&self, out: &mut [B::F], a: &[B::F], b: &[B::F]) {
        self.time(Kind::Elementwise, || self.inner.residual_forward(out, a, b))
    }
    fn accumulate(&self, acc: &mut [B::F], x: &[B::F]) {
        self.time(Kind::Elementwise, || self.inner.accumulate(acc, x))
    }
    fn row_max(&self, max: &mut [B::F], logits: &[B::F], cols: usize, valid: usize) {
        self.time(Kind::Elementwise, || {
            self.inner.row_max(max, logits, cols, valid)
        })
    }
    fn row_sum_exp(
        &self,
        sum: &mut [B::F],
        exps: &mut [B::F],
        logits: &[B::F],
        max: &[B::F],
        cols: usize,
        valid: usize,
    ) {
        self.time(Kind::Elementwise, || {
            self.inner.row_sum_exp(sum, exps, logits, max, cols, valid)
        })
    }
    fn target_logit(
        &self,
        picked: &mut [B::F],
        logits: &[B::F],
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
        dlogits: &mut [B::F],
        exps: &[B::F],
        sum: &[B::F],
        targets: &[u32],
        dloss: &[B::F],
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

    fn round_bf16(&self, x: &mut [B::F]) {
        self.time(Kind::Elementwise, || self.inner.round_bf16(x))
    }
}
