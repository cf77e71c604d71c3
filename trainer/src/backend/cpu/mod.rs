//! The CPU backend: the reference every other backend is checked against. GEMMs go through
//! matrixmultiply; everything is split over rayon in chunks of a fixed number of rows, and
//! every reduction over rows (bias and LayerNorm gradients, position gradients) sums fixed
//! chunks in a fixed order, so results never depend on the thread count.

use std::marker::PhantomData;

mod attention;

use rayon::prelude::*;

use std::ops::Range;

use anyhow::Result;

use super::clock::{KernelClock, Kind, Tick};
use super::{Backend, Float, Role};
use crate::dist::{Comm, ReduceOp};
use crate::optim::AdamStep;

/// Rows per parallel task. Fixed, so that chunk boundaries (and hence every floating-point
/// sum) are the same on every machine.
const ROWS_PER_TASK: usize = 16;

/// Rows of a GEMM's output per parallel task. Each task packs the whole of the other operand
/// (the weight, for a linear layer), so tasks must be tall enough for that copy to be small
/// next to their arithmetic; a fixed size keeps results independent of the thread count.
const GEMM_ROWS: usize = 256;

/// Output rows per task of the weight-gradient GEMM: each task packs the layer input again,
/// so the classifier's tall weight (the vocabulary) gets taller tasks.
fn weight_grad_rows(oc: usize) -> usize {
    if oc >= 8192 {
        1024
    } else {
        GEMM_ROWS
    }
}

pub struct Cpu<F: Float> {
    /// Time per kind of kernel, when asked for (`with_clock`; the step benchmark's split).
    clock: Option<KernelClock>,
    _f: PhantomData<F>,
}

impl<F: Float> Default for Cpu<F> {
    fn default() -> Self {
        Cpu {
            clock: None,
            _f: PhantomData,
        }
    }
}

impl<F: Float> Cpu<F> {
    pub fn new() -> Self {
        Self::default()
    }

    /// A backend that adds up the time of its kernels by kind (AdamW is not counted).
    pub fn with_clock() -> Self {
        Cpu {
            clock: Some(KernelClock::default()),
            _f: PhantomData,
        }
    }

    pub fn clock(&self) -> Option<&KernelClock> {
        self.clock.as_ref()
    }

    fn tick(&self, kind: Kind) -> Option<Tick<'_>> {
        self.clock.as_ref().map(|c| c.start(kind))
    }
}

/// A raw pointer that may cross threads; used where parallel tasks write disjoint strided
/// regions of one buffer (the heads of attention), which slices cannot express.
#[derive(Clone, Copy)]
struct SendPtr<F>(*mut F);
unsafe impl<F> Send for SendPtr<F> {}
unsafe impl<F> Sync for SendPtr<F> {}

impl<F> SendPtr<F> {
    fn get(self) -> *mut F {
        self.0
    }
}

/// Sums per-chunk partial column sums in chunk order: `acc[j] += Σ_chunks partial[j]`.
fn reduce_partials<F: Float>(acc: &mut [F], partials: Vec<Vec<F>>) {
    for p in partials {
        for (a, v) in acc.iter_mut().zip(p) {
            *a += v;
        }
    }
}

/// Column sums of a `[n, c]` matrix, deterministic.
fn column_sums<F: Float>(x: &[F], c: usize) -> Vec<Vec<F>> {
    x.par_chunks(c * ROWS_PER_TASK)
        .map(|chunk| {
            let mut s = vec![F::ZERO; c];
            for row in chunk.chunks_exact(c) {
                for (a, &v) in s.iter_mut().zip(row) {
                    *a += v;
                }
            }
            s
        })
        .collect()
}

#[inline]
fn gelu_scale<F: Float>() -> F {
    F::from_f64((2.0 / std::f64::consts::PI).sqrt())
}

impl<F: Float> Backend for Cpu<F> {
    type F = F;
    type Buf = Vec<F>;
    type Ref<'a> = &'a [F];
    type Mut<'a> = &'a mut [F];
    type Group = dyn Comm<F>;

    fn zeros(&self, n: usize, _role: Role) -> Vec<F> {
        vec![F::ZERO; n]
    }
    fn buf_len(&self, buf: &Vec<F>) -> usize {
        buf.len()
    }
    fn view<'a>(&self, buf: &'a Vec<F>, range: Range<usize>) -> &'a [F] {
        &buf[range]
    }
    fn view_mut<'a>(&self, buf: &'a mut Vec<F>, range: Range<usize>) -> &'a mut [F] {
        &mut buf[range]
    }
    fn view_mut2<'a>(
        &self,
        buf: &'a mut Vec<F>,
        a: Range<usize>,
        b: Range<usize>,
    ) -> (&'a mut [F], &'a mut [F]) {
        assert!(a.end <= b.start, "ranges out of order");
        let (lo, hi) = buf.split_at_mut(b.start);
        (&mut lo[a], &mut hi[..b.end - b.start])
    }
    fn upload(&self, dst: &mut [F], src: &[F]) {
        dst.copy_from_slice(src);
    }
    fn download(&self, src: &[F], dst: &mut [F]) {
        dst.copy_from_slice(src);
    }
    fn fill_zero(&self, x: &mut [F]) {
        x.fill(F::ZERO);
    }
    fn copy(&self, dst: &mut [F], src: &[F]) {
        dst.copy_from_slice(src);
    }
    fn synchronize(&self) -> Result<()> {
        Ok(())
    }

    fn single_group(&self) -> Box<dyn Comm<F>> {
        Box::new(crate::dist::Solo)
    }
    fn group_rank(&self, group: &dyn Comm<F>) -> usize {
        group.rank()
    }
    fn group_size(&self, group: &dyn Comm<F>) -> usize {
        group.size()
    }
    fn all_reduce(&self, group: &dyn Comm<F>, buf: &mut [F], op: ReduceOp) -> Result<()> {
        group.all_reduce(buf, op)
    }
    // Nothing runs beside the CPU's kernels: the reduction happens now.
    fn all_reduce_overlapped(
        &self,
        group: &dyn Comm<F>,
        buf: &mut [F],
        op: ReduceOp,
    ) -> Result<()> {
        group.all_reduce(buf, op)
    }
    fn wait_overlapped(&self, _group: &dyn Comm<F>) -> Result<()> {
        Ok(())
    }
    fn reduce_scatter(&self, group: &dyn Comm<F>, input: &[F], out: &mut [F]) -> Result<()> {
        group.reduce_scatter(input, out)
    }
    fn all_gather(&self, group: &dyn Comm<F>, local: &[F], out: &mut [F]) -> Result<()> {
        group.all_gather(local, out)
    }
    fn send(&self, group: &dyn Comm<F>, to: usize, buf: &[F]) -> Result<()> {
        group.send(to, buf)
    }
    // The host communicators buffer sends: nothing to group.
    fn p2p_group_start(&self, _group: &dyn Comm<F>) {}
    fn p2p_group_end(&self, _group: &dyn Comm<F>) -> Result<()> {
        Ok(())
    }
    fn recv(&self, group: &dyn Comm<F>, from: usize, buf: &mut [F]) -> Result<()> {
        group.recv(from, buf)
    }

    fn embed_tokens(&self, out: &mut [F], tokens: &[u32], wte: &[F], vocab_start: usize, c: usize) {
        let _tick = self.tick(Kind::Elementwise);
        let rows = wte.len() / c;
        out.par_chunks_mut(c)
            .zip(tokens.par_iter())
            .for_each(|(o, &tok)| {
                let t = tok as usize;
                if t >= vocab_start && t < vocab_start + rows {
                    let at = (t - vocab_start) * c;
                    o.copy_from_slice(&wte[at..at + c]);
                } else {
                    o.fill(F::ZERO);
                }
            });
    }

    fn embed_tokens_backward(
        &self,
        dwte: &mut [F],
        dout: &[F],
        tokens: &[u32],
        vocab_start: usize,
        c: usize,
    ) {
        let _tick = self.tick(Kind::Elementwise);
        // Sequential in row order: several rows may hit the same token, and the order of
        // their sums must not depend on scheduling.
        let rows = dwte.len() / c;
        for (r, &tok) in tokens.iter().enumerate() {
            let t = tok as usize;
            if t >= vocab_start && t < vocab_start + rows {
                let at = (t - vocab_start) * c;
                for (d, &g) in dwte[at..at + c].iter_mut().zip(&dout[r * c..(r + 1) * c]) {
                    *d += g;
                }
            }
        }
    }

    fn add_positions(&self, out: &mut [F], wpe: &[F], seq: usize, c: usize) {
        let _tick = self.tick(Kind::Elementwise);
        out.par_chunks_mut(seq * c).for_each(|sample| {
            for (o, &p) in sample.iter_mut().zip(&wpe[..seq * c]) {
                *o += p;
            }
        });
    }

    fn add_positions_backward(&self, dwpe: &mut [F], dout: &[F], seq: usize, c: usize) {
        let _tick = self.tick(Kind::Elementwise);
        for sample in dout.chunks_exact(seq * c) {
            for (d, &g) in dwpe[..seq * c].iter_mut().zip(sample) {
                *d += g;
            }
        }
    }

    fn layernorm_forward(
        &self,
        out: &mut [F],
        mean: &mut [F],
        rstd: &mut [F],
        inp: &[F],
        weight: &[F],
        bias: &[F],
        c: usize,
    ) {
        let _tick = self.tick(Kind::Elementwise);
        let eps = F::from_f64(1e-5);
        let cf = F::from_f64(c as f64);
        out.par_chunks_mut(c)
            .zip(mean.par_iter_mut())
            .zip(rstd.par_iter_mut())
            .zip(inp.par_chunks(c))
            .for_each(|(((o, m), s), x)| {
                let mu = x.iter().copied().sum::<F>() / cf;
                let var = x.iter().map(|&v| (v - mu) * (v - mu)).sum::<F>() / cf;
                let r = F::ONE / (var + eps).sqrt();
                for j in 0..c {
                    o[j] = (x[j] - mu) * r * weight[j] + bias[j];
                }
                *m = mu;
                *s = r;
            });
    }

    fn layernorm_backward(
        &self,
        dinp: &mut [F],
        dweight: &mut [F],
        dbias: &mut [F],
        dout: &[F],
        inp: &[F],
        weight: &[F],
        mean: &[F],
        rstd: &[F],
        c: usize,
    ) {
        let _tick = self.tick(Kind::Elementwise);
        let cf = F::from_f64(c as f64);
        let partials: Vec<(Vec<F>, Vec<F>)> = dinp
            .par_chunks_mut(c * ROWS_PER_TASK)
            .zip(dout.par_chunks(c * ROWS_PER_TASK))
            .zip(inp.par_chunks(c * ROWS_PER_TASK))
            .zip(mean.par_chunks(ROWS_PER_TASK))
            .zip(rstd.par_chunks(ROWS_PER_TASK))
            .map(|((((di, dy), x), mu), rs)| {
                let mut dw = vec![F::ZERO; c];
                let mut db = vec![F::ZERO; c];
                for (r, ((di, dy), x)) in di
                    .chunks_exact_mut(c)
                    .zip(dy.chunks_exact(c))
                    .zip(x.chunks_exact(c))
                    .enumerate()
                {
                    let (m, s) = (mu[r], rs[r]);
                    let mut dnorm_mean = F::ZERO;
                    let mut dnorm_norm_mean = F::ZERO;
                    for j in 0..c {
                        let norm = (x[j] - m) * s;
                        let dnorm = weight[j] * dy[j];
                        dnorm_mean += dnorm;
                        dnorm_norm_mean += dnorm * norm;
                    }
                    dnorm_mean = dnorm_mean / cf;
                    dnorm_norm_mean = dnorm_norm_mean / cf;
                    for j in 0..c {
                        let norm = (x[j] - m) * s;
                        let dnorm = weight[j] * dy[j];
                        db[j] += dy[j];
                        dw[j] += norm * dy[j];
                        di[j] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
                    }
                }
                (dw, db)
            })
            .collect();
        for (dw, db) in partials {
            for j in 0..c {
                dweight[j] += dw[j];
                dbias[j] += db[j];
            }
        }
    }

    fn matmul_forward(
        &self,
        out: &mut [F],
        inp: &[F],
        weight: &[F],
        bias: Option<&[F]>,
        c: usize,
        oc: usize,
    ) {
        let _tick = self.tick(Kind::Gemm);
        debug_assert_eq!(weight.len(), oc * c);
        out.par_chunks_mut(oc * GEMM_ROWS)
            .zip(inp.par_chunks(c * GEMM_ROWS))
            .for_each(|(o, x)| {
                let m = x.len() / c;
                match bias {
                    Some(b) => o.chunks_exact_mut(oc).for_each(|r| r.copy_from_slice(b)),
                    None => o.fill(F::ZERO),
                }
                // o[m, oc] = x[m, c] · wᵀ: w read with column stride c (its transpose).
                unsafe {
                    F::gemm(
                        m,
                        c,
                        oc,
                        F::ONE,
                        x.as_ptr(),
                        c as isize,
                        1,
                        weight.as_ptr(),
                        1,
                        c as isize,
                        F::ONE,
                        o.as_mut_ptr(),
                        oc as isize,
                        1,
                    )
                }
            });
    }

    fn matmul_backward(
        &self,
        dinp: &mut [F],
        dweight: &mut [F],
        dbias: Option<&mut [F]>,
        dout: &[F],
        inp: &[F],
        weight: &[F],
        c: usize,
        oc: usize,
    ) {
        let _tick = self.tick(Kind::Gemm);
        let n = dout.len() / oc;
        // dinp[n, c] += dout[n, oc] · w[oc, c], split over rows.
        dinp.par_chunks_mut(c * GEMM_ROWS)
            .zip(dout.par_chunks(oc * GEMM_ROWS))
            .for_each(|(di, dy)| {
                let m = dy.len() / oc;
                unsafe {
                    F::gemm(
                        m,
                        oc,
                        c,
                        F::ONE,
                        dy.as_ptr(),
                        oc as isize,
                        1,
                        weight.as_ptr(),
                        c as isize,
                        1,
                        F::ONE,
                        di.as_mut_ptr(),
                        c as isize,
                        1,
                    )
                }
            });
        // dweight[oc, c] += doutᵀ[oc, n] · inp[n, c], split over output rows.
        let rows = weight_grad_rows(oc);
        dweight
            .par_chunks_mut(c * rows)
            .enumerate()
            .for_each(|(k, dw)| {
                let m = dw.len() / c;
                unsafe {
                    F::gemm(
                        m,
                        n,
                        c,
                        F::ONE,
                        dout.as_ptr().add(k * rows),
                        1,
                        oc as isize,
                        inp.as_ptr(),
                        c as isize,
                        1,
                        F::ONE,
                        dw.as_mut_ptr(),
                        c as isize,
                        1,
                    )
                }
            });
        if let Some(db) = dbias {
            self.bias_backward(db, dout);
        }
    }

    fn bias_add(&self, out: &mut [F], bias: &[F]) {
        let _tick = self.tick(Kind::Elementwise);
        out.par_chunks_mut(bias.len()).for_each(|r| {
            for (o, &b) in r.iter_mut().zip(bias) {
                *o += b;
            }
        });
    }

    fn bias_backward(&self, dbias: &mut [F], dout: &[F]) {
        let _tick = self.tick(Kind::Elementwise);
        reduce_partials(dbias, column_sums(dout, dbias.len()));
    }

    fn attention_forward(
        &self,
        out: &mut [F],
        att: &mut [F],
        qkv: &[F],
        batch: usize,
        seq: usize,
        heads: usize,
        hs: usize,
    ) {
        let _tick = self.tick(Kind::Attention);
        attention::attention_forward(out, att, qkv, batch, seq, heads, hs)
    }

    fn attention_backward(
        &self,
        dqkv: &mut [F],
        dout: &[F],
        qkv: &[F],
        att: &[F],
        batch: usize,
        seq: usize,
        heads: usize,
        hs: usize,
    ) {
        let _tick = self.tick(Kind::Attention);
        attention::attention_backward(dqkv, dout, qkv, att, batch, seq, heads, hs)
    }

    fn gelu_forward(&self, out: &mut [F], inp: &[F]) {
        let _tick = self.tick(Kind::Elementwise);
        let s = gelu_scale::<F>();
        let half = F::from_f64(0.5);
        let cube = F::from_f64(0.044715);
        out.par_chunks_mut(4096)
            .zip(inp.par_chunks(4096))
            .for_each(|(o, x)| {
                for (o, &x) in o.iter_mut().zip(x) {
                    *o = half * x * (F::ONE + (s * (x + cube * x * x * x)).tanh_fast());
                }
            });
    }

    fn gelu_backward(&self, dinp: &mut [F], inp: &[F], dout: &[F]) {
        let _tick = self.tick(Kind::Elementwise);
        let s = gelu_scale::<F>();
        let half = F::from_f64(0.5);
        let cube = F::from_f64(0.044715);
        let three_cube = F::from_f64(3.0 * 0.044715);
        dinp.par_chunks_mut(4096)
            .zip(inp.par_chunks(4096))
            .zip(dout.par_chunks(4096))
            .for_each(|((di, x), dy)| {
                for ((di, &x), &dy) in di.iter_mut().zip(x).zip(dy) {
                    let u = s * (x + cube * x * x * x);
                    let th = u.tanh_fast();
                    let sech2 = F::ONE - th * th;
                    let local =
                        half * (F::ONE + th) + half * x * sech2 * s * (F::ONE + three_cube * x * x);
                    *di += local * dy;
                }
            });
    }

    fn residual_forward(&self, out: &mut [F], a: &[F], b: &[F]) {
        let _tick = self.tick(Kind::Elementwise);
        out.par_chunks_mut(4096)
            .zip(a.par_chunks(4096))
            .zip(b.par_chunks(4096))
            .for_each(|((o, a), b)| {
                for ((o, &a), &b) in o.iter_mut().zip(a).zip(b) {
                    *o = a + b;
                }
            });
    }

    fn accumulate(&self, acc: &mut [F], x: &[F]) {
        let _tick = self.tick(Kind::Elementwise);
        acc.par_chunks_mut(4096)
            .zip(x.par_chunks(4096))
            .for_each(|(a, x)| {
                for (a, &x) in a.iter_mut().zip(x) {
                    *a += x;
                }
            });
    }

    fn row_max(&self, max: &mut [F], logits: &[F], cols: usize, valid: usize) {
        let _tick = self.tick(Kind::Elementwise);
        max.par_iter_mut()
            .zip(logits.par_chunks(cols))
            .for_each(|(m, row)| {
                *m = row[..valid].iter().fold(F::NEG_INFINITY, |a, &x| a.max(x));
            });
    }

    fn row_sum_exp(
        &self,
        sum: &mut [F],
        exps: &mut [F],
        logits: &[F],
        max: &[F],
        cols: usize,
        valid: usize,
    ) {
        let _tick = self.tick(Kind::Elementwise);
        sum.par_iter_mut()
            .zip(exps.par_chunks_mut(cols))
            .zip(logits.par_chunks(cols))
            .zip(max.par_iter())
            .for_each(|(((s, e), row), &m)| {
                let mut acc = F::ZERO;
                for (e, &x) in e[..valid].iter_mut().zip(&row[..valid]) {
                    *e = (x - m).exp_fast();
                }
                for &e in &e[..valid] {
                    acc += e;
                }
                e[valid..].fill(F::ZERO);
                *s = acc;
            });
    }

    fn target_logit(
        &self,
        picked: &mut [F],
        logits: &[F],
        targets: &[u32],
        vocab_start: usize,
        cols: usize,
    ) {
        let _tick = self.tick(Kind::Elementwise);
        picked
            .par_iter_mut()
            .zip(logits.par_chunks(cols))
            .zip(targets.par_iter())
            .for_each(|((p, row), &t)| {
                let t = t as usize;
                *p = if t >= vocab_start && t < vocab_start + cols {
                    row[t - vocab_start]
                } else {
                    F::ZERO
                };
            });
    }

    fn cross_entropy_backward(
        &self,
        dlogits: &mut [F],
        exps: &[F],
        sum: &[F],
        targets: &[u32],
        dloss: &[F],
        vocab_start: usize,
        cols: usize,
        valid: usize,
    ) {
        let _tick = self.tick(Kind::Elementwise);
        dlogits
            .par_chunks_mut(cols)
            .zip(exps.par_chunks(cols))
            .enumerate()
            .for_each(|(r, (d, e))| {
                let scale = dloss[r] / sum[r];
                for (d, &e) in d[..valid].iter_mut().zip(&e[..valid]) {
                    *d = e * scale;
                }
                d[valid..].fill(F::ZERO);
                let t = targets[r] as usize;
                if t >= vocab_start && t < vocab_start + valid {
                    d[t - vocab_start] -= dloss[r];
                }
            });
    }

    fn cross_entropy_loss(&self, losses: &mut [F], sum: &[F], max: &[F], picked: &[F]) {
        let _tick = self.tick(Kind::Elementwise);
        for (((l, &s), &m), &p) in losses.iter_mut().zip(sum).zip(max).zip(picked) {
            *l = s.ln() + m - p;
        }
    }

    fn scale(&self, x: &mut [F], k: F) {
        let _tick = self.tick(Kind::Elementwise);
        x.par_chunks_mut(4096).for_each(|c| {
            for v in c {
                *v *= k;
            }
        });
    }

    fn sum_squares(&self, x: &[F], mask: &[F]) -> f64 {
        let _tick = self.tick(Kind::Elementwise);
        x.iter()
            .zip(mask)
            .filter(|(_, &m)| m != F::ZERO)
            .map(|(&g, _)| g.to_f64() * g.to_f64())
            .sum()
    }

    fn adamw_step(
        &self,
        params: &mut [F],
        grads: &[F],
        m: &mut [F],
        v: &mut [F],
        decay: &[F],
        k: &AdamStep<F>,
    ) {
        let one = F::ONE;
        for i in 0..params.len() {
            let g = grads[i];
            let mi = k.beta1 * m[i] + (one - k.beta1) * g;
            let vi = k.beta2 * v[i] + (one - k.beta2) * g * g;
            m[i] = mi;
            v[i] = vi;
            let mut p = params[i];
            if decay[i] != F::ZERO {
                p *= k.shrink;
            }
            p -= k.lr * (mi / k.correction1) / ((vi / k.correction2).sqrt() + k.eps);
            params[i] = p;
        }
    }

    fn round_bf16(&self, x: &mut [F]) {
        let _tick = self.tick(Kind::Elementwise);
        x.par_chunks_mut(4096).for_each(|c| {
            for v in c {
                *v = v.round_bf16();
            }
        });
    }
}
