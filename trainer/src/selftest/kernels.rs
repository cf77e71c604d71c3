//! Every backend function on one backend against the same function on a reference backend
//! (the CPU), on the same random inputs. Inputs a device stores in bf16 (weights and
//! activations) are rounded to bf16 on the host first, so both sides start from the same
//! numbers and the differences are the device's own: bf16 outputs, fp32 sums in another
//! order, fast `exp`.

use crate::backend::{Backend, BackendExt, Float, Role};
use crate::optim::{AdamConfig, AdamStep};

/// How far a device output may be from the reference: `|d − r| ≤ rel·|r| + abs·max|r|`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    pub rel: f64,
    pub abs: f64,
}

/// bf16 outputs: one rounding (2⁻⁸ relative) and change.
pub const BF16_OUT: Tolerance = Tolerance {
    rel: 1e-2,
    abs: 2e-3,
};
/// fp32 outputs of fp32 sums in another order.
pub const F32_OUT: Tolerance = Tolerance {
    rel: 1e-3,
    abs: 1e-4,
};
/// Attention: the probabilities are stored in bf16 between its two GEMMs.
pub const ATTENTION: Tolerance = Tolerance {
    rel: 3e-2,
    abs: 1e-2,
};
/// Pure fp32 element-wise arithmetic (AdamW, scaling).
pub const EXACT_F32: Tolerance = Tolerance {
    rel: 1e-5,
    abs: 1e-6,
};

/// One output of one function compared.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    pub function: &'static str,
    pub output: &'static str,
    pub elements: usize,
    /// The largest `|d − r| / (rel·|r| + abs·max|r|)`: at most 1 passes.
    pub worst: f64,
    pub max_abs_diff: f64,
    pub rel: f64,
    pub abs: f64,
    /// The device's error when it ran the function (synchronized right after it), if any.
    pub failure: Option<String>,
}

impl Check {
    pub fn passed(&self) -> bool {
        self.failure.is_none() && self.worst <= 1.0
    }
}

/// The sizes the checks run at: small enough for a CPU reference, with every dimension
/// different so that a swapped one shows, and rows (3 × 37), widths (72) and outputs (80, 168)
/// that are not multiples of a kernel's 16- or 32-wide tiles, so that a tile's edge shows.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub batch: usize,
    pub seq: usize,
    pub c: usize,
    pub heads: usize,
    pub oc: usize,
    pub vocab_cols: usize,
    pub vocab_valid: usize,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            batch: 3,
            seq: 37,
            c: 72,
            heads: 4,
            oc: 80,
            vocab_cols: 168,
            vocab_valid: 150,
        }
    }
}

fn stored_in_bf16(role: Role) -> bool {
    matches!(role, Role::Weights | Role::Activation)
}

/// The two backends and the inputs' random source.
struct Pair<'a, R: Backend<F = f32>, D: Backend<F = f32>> {
    r: &'a R,
    d: &'a D,
    rng: sieve_shards::rng::SplitMix,
    checks: Vec<Check>,
    /// The device's failure in the function last run, for each of its outputs' lines.
    failed: Option<(&'static str, String)>,
}

impl<'a, R: Backend<F = f32>, D: Backend<F = f32>> Pair<'a, R, D> {
    fn new(reference: &'a R, device: &'a D, seed: u64) -> Self {
        Pair {
            r: reference,
            d: device,
            rng: sieve_shards::rng::SplitMix(seed),
            checks: Vec::new(),
            failed: None,
        }
    }
}

struct Both<R: Backend, D: Backend> {
    r: R::Buf,
    d: D::Buf,
    n: usize,
    role: Role,
}

/// Both sides' values of an output before a function that adds into it.
struct Before {
    r: Vec<f32>,
    d: Vec<f32>,
}

impl<R: Backend<F = f32>, D: Backend<F = f32>> Pair<'_, R, D> {
    /// `n` random values in [−scale, scale) on both backends.
    fn random(&mut self, n: usize, role: Role, scale: f32) -> Both<R, D> {
        let host: Vec<f32> = (0..n)
            .map(|_| ((self.rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale)
            .collect();
        self.put(&host, role)
    }

    fn put(&mut self, host: &[f32], role: Role) -> Both<R, D> {
        let host: Vec<f32> = if stored_in_bf16(role) {
            host.iter().map(|x| x.round_bf16()).collect()
        } else {
            host.to_vec()
        };
        Both {
            r: self.r.uploaded(&host, role),
            d: self.d.uploaded(&host, role),
            n: host.len(),
            role,
        }
    }

    fn ids(&mut self, n: usize, below: usize) -> Vec<u32> {
        (0..n)
            .map(|_| (self.rng.next_u64() % below as u64) as u32)
            .collect()
    }

    /// Waits for the device and keeps its failure for `function`'s lines: kernels run
    /// asynchronously, and a failure found later would be reported against another function
    /// (and read back as zeros).
    fn synchronize(&mut self, function: &'static str) {
        if let Err(e) = self.d.synchronize() {
            self.failed = Some((function, format!("{e:#}")));
        }
    }

    fn failure(&self, function: &'static str) -> Option<String> {
        match &self.failed {
            Some((f, e)) if *f == function => Some(e.clone()),
            _ => None,
        }
    }

    fn compare(
        &mut self,
        function: &'static str,
        output: &'static str,
        b: &Both<R, D>,
        tol: Tolerance,
    ) {
        self.synchronize(function);
        let r = self.r.to_host(self.r.whole(&b.r), b.n);
        let d = self.d.to_host(self.d.whole(&b.d), b.n);
        self.compare_host(function, output, &r, &d, tol);
    }

    /// `b`'s reference values on both sides: the input of a function that reads another's
    /// output, so that a failure of the first is not reported again against the second.
    fn same(&mut self, b: &Both<R, D>) -> Both<R, D> {
        let host = self.r.to_host(self.r.whole(&b.r), b.n);
        self.put(&host, b.role)
    }

    /// Both sides' values of `b` now, before a function adds into it.
    fn before(&self, b: &Both<R, D>) -> Before {
        Before {
            r: self.r.to_host(self.r.whole(&b.r), b.n),
            d: self.d.to_host(self.d.whole(&b.d), b.n),
        }
    }

    /// An output the function adds into, compared by what it added on each side: the sum
    /// with the random start would hide a wrong increment smaller than the start. A device
    /// that stores the output in bf16 rounds the sum, not the increment: one bf16 step of
    /// the sum is allowed on top of the tolerance.
    fn compare_added(
        &mut self,
        function: &'static str,
        output: &'static str,
        b: &Both<R, D>,
        before: Before,
        tol: Tolerance,
    ) {
        self.synchronize(function);
        let r = self.r.to_host(self.r.whole(&b.r), b.n);
        let d = self.d.to_host(self.d.whole(&b.d), b.n);
        let added = |after: &[f32], start: &[f32]| -> Vec<f32> {
            after.iter().zip(start).map(|(a, s)| a - s).collect()
        };
        let rounding: Vec<f64> = match stored_in_bf16(b.role) {
            true => r.iter().map(|&x| f64::from(x).abs() / 256.0).collect(),
            false => vec![0.0; r.len()],
        };
        let (ar, ad) = (added(&r, &before.r), added(&d, &before.d));
        self.compare_with_slack(function, output, &ar, &ad, tol, &rounding);
    }

    fn compare_host(
        &mut self,
        function: &'static str,
        output: &'static str,
        r: &[f32],
        d: &[f32],
        tol: Tolerance,
    ) {
        self.compare_with_slack(function, output, r, d, tol, &vec![0.0; r.len()]);
    }

    /// As [`Pair::compare_host`], each element's bound widened by its `slack`.
    fn compare_with_slack(
        &mut self,
        function: &'static str,
        output: &'static str,
        r: &[f32],
        d: &[f32],
        tol: Tolerance,
        slack: &[f64],
    ) {
        let scale = r.iter().fold(0f64, |m, &x| m.max(f64::from(x).abs()));
        let (mut worst, mut max_abs) = (0f64, 0f64);
        for ((&x, &y), &extra) in r.iter().zip(d).zip(slack) {
            let diff = (f64::from(x) - f64::from(y)).abs();
            let bound = tol.rel * f64::from(x).abs() + tol.abs * scale.max(1e-30) + extra;
            let ratio = if diff.is_nan() {
                f64::INFINITY
            } else {
                diff / bound
            };
            worst = worst.max(ratio);
            max_abs = max_abs.max(diff);
        }
        self.checks.push(Check {
            function,
            output,
            elements: r.len(),
            worst,
            max_abs_diff: max_abs,
            rel: tol.rel,
            abs: tol.abs,
            failure: self.failure(function),
        });
    }
}

macro_rules! both {
    ($p:expr, $f:ident ( $($arg:tt)* )) => {{
        let (r, d) = ($p.r, $p.d);
        both!(@call r, $f, $($arg)*);
        both!(@call d, $f, $($arg)*);
    }};
    (@call $be:ident, $f:ident, $($arg:tt)*) => {
        both!(@args $be, $f, [] $($arg)*)
    };
    // Each argument: `mut x` (a Both written), `ref x` (a Both read), or a plain expression.
    (@args $be:ident, $f:ident, [$($done:tt)*] mut $x:ident $(, $($rest:tt)*)?) => {
        both!(@args $be, $f, [$($done)* $be.whole_mut(&mut $x.$be),] $($($rest)*)?)
    };
    (@args $be:ident, $f:ident, [$($done:tt)*] ref $x:ident $(, $($rest:tt)*)?) => {
        both!(@args $be, $f, [$($done)* $be.whole(&$x.$be),] $($($rest)*)?)
    };
    (@args $be:ident, $f:ident, [$($done:tt)*] $e:expr $(, $($rest:tt)*)?) => {
        both!(@args $be, $f, [$($done)* $e,] $($($rest)*)?)
    };
    (@args $be:ident, $f:ident, [$($done:tt)*]) => {
        $be.$f($($done)*)
    };
}

/// Runs every backend function on `device` and on `reference` and compares the outputs.
pub fn compare<R: Backend<F = f32>, D: Backend<F = f32>>(
    reference: &R,
    device: &D,
    s: Shape,
    seed: u64,
) -> Vec<Check> {
    let mut p = Pair::new(reference, device, seed);
    let (act, w, grad, stat) = (Role::Activation, Role::Weights, Role::Grad, Role::Stat);
    let n = s.batch * s.seq;
    let c = s.c;
    let hs = c / s.heads;

    // Embeddings: this rank holds vocabulary rows [40, 40 + 100); some tokens fall outside.
    let (vocab_start, rows) = (40, 100);
    let tokens = p.ids(n, 200);
    let wte = p.random(rows * c, w, 1.0);
    let mut out = p.random(n * c, act, 1.0);
    both!(p, embed_tokens(mut out, &tokens, ref wte, vocab_start, c));
    p.compare("embed_tokens", "out", &out, BF16_OUT);
    let dout = p.random(n * c, act, 1.0);
    let mut dwte = p.random(rows * c, grad, 1.0);
    let start = p.before(&dwte);
    both!(
        p,
        embed_tokens_backward(mut dwte, ref dout, &tokens, vocab_start, c)
    );
    p.compare_added("embed_tokens_backward", "dwte", &dwte, start, F32_OUT);
    let wpe = p.random(s.seq * c, w, 1.0);
    let start = p.before(&out);
    both!(p, add_positions(mut out, ref wpe, s.seq, c));
    p.compare_added("add_positions", "out", &out, start, BF16_OUT);
    let mut dwpe = p.random(s.seq * c, grad, 1.0);
    let start = p.before(&dwpe);
    both!(p, add_positions_backward(mut dwpe, ref dout, s.seq, c));
    p.compare_added("add_positions_backward", "dwpe", &dwpe, start, F32_OUT);

    // LayerNorm.
    let inp = p.random(n * c, act, 2.0);
    let (gain, bias) = (p.random(c, w, 1.0), p.random(c, w, 0.5));
    let (mut ln, mut mean, mut rstd) = (
        p.random(n * c, act, 1.0),
        p.random(n, stat, 1.0),
        p.random(n, stat, 1.0),
    );
    both!(
        p,
        layernorm_forward(mut ln, mut mean, mut rstd, ref inp, ref gain, ref bias, c)
    );
    p.compare("layernorm_forward", "out", &ln, BF16_OUT);
    p.compare("layernorm_forward", "mean", &mean, F32_OUT);
    p.compare("layernorm_forward", "rstd", &rstd, F32_OUT);
    let (mut dinp, mut dg, mut db) = (
        p.random(n * c, act, 1.0),
        p.random(c, grad, 1.0),
        p.random(c, grad, 1.0),
    );
    let starts = [p.before(&dinp), p.before(&dg), p.before(&db)];
    both!(
        p,
        layernorm_backward(
            mut dinp,
            mut dg,
            mut db,
            ref dout,
            ref inp,
            ref gain,
            ref mean,
            ref rstd,
            c,
        )
    );
    let [s_dinp, s_dg, s_db] = starts;
    p.compare_added("layernorm_backward", "dinp", &dinp, s_dinp, BF16_OUT);
    p.compare_added("layernorm_backward", "dweight", &dg, s_dg, F32_OUT);
    p.compare_added("layernorm_backward", "dbias", &db, s_db, F32_OUT);

    // A linear layer, forward with its bias epilogue and backward.
    let oc = s.oc;
    let weight = p.random(oc * c, w, 0.2);
    let lbias = p.random(oc, w, 0.5);
    let mut y = p.random(n * oc, act, 1.0);
    {
        let (r, d) = (p.r, p.d);
        r.matmul_forward(
            r.whole_mut(&mut y.r),
            r.whole(&inp.r),
            r.whole(&weight.r),
            Some(r.whole(&lbias.r)),
            c,
            oc,
        );
        d.matmul_forward(
            d.whole_mut(&mut y.d),
            d.whole(&inp.d),
            d.whole(&weight.d),
            Some(d.whole(&lbias.d)),
            c,
            oc,
        );
    }
    p.compare("matmul_forward", "out", &y, BF16_OUT);
    let dy = p.random(n * oc, act, 1.0);
    let (mut dx, mut dw, mut dbias) = (
        p.random(n * c, act, 1.0),
        p.random(oc * c, grad, 1.0),
        p.random(oc, grad, 1.0),
    );
    let starts = [p.before(&dx), p.before(&dw), p.before(&dbias)];
    {
        let (r, d) = (p.r, p.d);
        r.matmul_backward(
            r.whole_mut(&mut dx.r),
            r.whole_mut(&mut dw.r),
            Some(r.whole_mut(&mut dbias.r)),
            r.whole(&dy.r),
            r.whole(&inp.r),
            r.whole(&weight.r),
            c,
            oc,
        );
        d.matmul_backward(
            d.whole_mut(&mut dx.d),
            d.whole_mut(&mut dw.d),
            Some(d.whole_mut(&mut dbias.d)),
            d.whole(&dy.d),
            d.whole(&inp.d),
            d.whole(&weight.d),
            c,
            oc,
        );
    }
    let [s_dx, s_dw, s_dbias] = starts;
    p.compare_added("matmul_backward", "dinp", &dx, s_dx, BF16_OUT);
    p.compare_added("matmul_backward", "dweight", &dw, s_dw, F32_OUT);
    p.compare_added("matmul_backward", "dbias", &dbias, s_dbias, F32_OUT);
    let start = p.before(&y);
    both!(p, bias_add(mut y, ref lbias));
    p.compare_added("bias_add", "out", &y, start, BF16_OUT);
    let mut dbias2 = p.random(oc, grad, 1.0);
    let start = p.before(&dbias2);
    both!(p, bias_backward(mut dbias2, ref dy));
    p.compare_added("bias_backward", "dbias", &dbias2, start, F32_OUT);

    // Attention over this rank's heads.
    let qkv = p.random(n * 3 * c, act, 1.0);
    let (mut atty, mut att) = (
        p.random(n * c, act, 1.0),
        p.random(s.batch * s.heads * s.seq * s.seq, act, 1.0),
    );
    both!(p, attention_forward(mut atty, mut att, ref qkv, s.batch, s.seq, s.heads, hs));
    p.compare("attention_forward", "out", &atty, ATTENTION);
    p.compare("attention_forward", "att", &att, ATTENTION);
    let att = p.same(&att);
    let mut dqkv = p.random(n * 3 * c, act, 1.0);
    let start = p.before(&dqkv);
    both!(p, attention_backward(mut dqkv, ref dout, ref qkv, ref att, s.batch, s.seq, s.heads, hs));
    p.compare_added("attention_backward", "dqkv", &dqkv, start, ATTENTION);

    // Element-wise.
    let mut g = p.random(n * c, act, 1.0);
    both!(p, gelu_forward(mut g, ref inp));
    p.compare("gelu_forward", "out", &g, BF16_OUT);
    let mut dg2 = p.random(n * c, act, 1.0);
    let start = p.before(&dg2);
    both!(p, gelu_backward(mut dg2, ref inp, ref dout));
    p.compare_added("gelu_backward", "dinp", &dg2, start, BF16_OUT);
    let mut res = p.random(n * c, act, 1.0);
    both!(p, residual_forward(mut res, ref inp, ref dout));
    p.compare("residual_forward", "out", &res, BF16_OUT);
    let (mut acc, x) = (p.random(n * c, grad, 1.0), p.random(n * c, grad, 1.0));
    let start = p.before(&acc);
    both!(p, accumulate(mut acc, ref x));
    p.compare_added("accumulate", "acc", &acc, start, EXACT_F32);
    let mut x = p.random(n * c, grad, 1.0);
    both!(p, scale(mut x, 0.37));
    p.compare("scale", "x", &x, EXACT_F32);

    // Vocab-parallel cross-entropy on this rank's columns.
    let (cols, valid) = (s.vocab_cols, s.vocab_valid);
    let logits = p.random(n * cols, act, 4.0);
    let mut max = p.random(n, stat, 1.0);
    both!(p, row_max(mut max, ref logits, cols, valid));
    p.compare("row_max", "max", &max, F32_OUT);
    let max = p.same(&max);
    let (mut sum, mut exps) = (p.random(n, stat, 1.0), p.random(n * cols, stat, 1.0));
    both!(
        p,
        row_sum_exp(mut sum, mut exps, ref logits, ref max, cols, valid)
    );
    p.compare("row_sum_exp", "sum", &sum, F32_OUT);
    p.compare("row_sum_exp", "exps", &exps, F32_OUT);
    let (sum, exps) = (p.same(&sum), p.same(&exps));
    let targets = p.ids(n, 200);
    let mut picked = p.random(n, stat, 1.0);
    both!(
        p,
        target_logit(mut picked, ref logits, &targets, vocab_start, cols)
    );
    p.compare("target_logit", "picked", &picked, F32_OUT);
    let picked = p.same(&picked);
    let mut losses = p.random(n, stat, 1.0);
    both!(
        p,
        cross_entropy_loss(mut losses, ref sum, ref max, ref picked)
    );
    p.compare("cross_entropy_loss", "losses", &losses, F32_OUT);
    let dloss = p.random(n, stat, 1.0);
    let mut dlogits = p.random(n * cols, act, 1.0);
    both!(
        p,
        cross_entropy_backward(
            mut dlogits,
            ref exps,
            ref sum,
            &targets,
            ref dloss,
            vocab_start,
            cols,
            valid,
        )
    );
    p.compare("cross_entropy_backward", "dlogits", &dlogits, BF16_OUT);

    // The optimizer's functions over fp32 state.
    let np = 5000;
    let (mut params, grads) = (p.random(np, Role::Master, 1.0), p.random(np, grad, 1.0));
    let (mut m, mut v) = (
        p.random(np, Role::Master, 0.1),
        p.random(np, Role::Master, 0.0),
    );
    let decay_host: Vec<f32> = (0..np).map(|i| (i % 3 != 0) as u8 as f32).collect();
    let decay = p.put(&decay_host, stat);
    let cfg = AdamConfig {
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weight_decay: 0.1,
    };
    let k = AdamStep::new(&cfg, 1e-3, 3);
    both!(
        p,
        adamw_step(mut params, ref grads, mut m, mut v, ref decay, &k)
    );
    p.compare("adamw_step", "params", &params, EXACT_F32);
    p.compare("adamw_step", "m", &m, EXACT_F32);
    p.compare("adamw_step", "v", &v, EXACT_F32);
    let (r, d) = (p.r, p.d);
    let sr = r.sum_squares(r.whole(&grads.r), r.whole(&decay.r));
    let sd = d.sum_squares(d.whole(&grads.d), d.whole(&decay.d));
    p.compare_host("sum_squares", "sum", &[sr as f32], &[sd as f32], F32_OUT);

    // Buffers: rounding, converting copies, zeroing.
    let mut x = p.random(np, Role::Master, 1.0);
    both!(p, round_bf16(mut x));
    p.compare("round_bf16", "x", &x, EXACT_F32);
    let mut bf = p.random(np, w, 1.0);
    both!(p, copy(mut bf, ref grads));
    p.compare("copy", "fp32 to bf16", &bf, BF16_OUT);
    both!(p, fill_zero(mut bf));
    p.compare("fill_zero", "x", &bf, EXACT_F32);
    p.checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cuda::kernels::{Twin, TWINS};
    use crate::backend::Cpu;

    /// Every function that runs device code (a kernel or cuBLASLt) is checked by the
    /// selftest, so a GPU user learns about each of them.
    #[test]
    fn the_selftest_checks_every_kernel_function() {
        let checks = compare(&Cpu::<f32>::new(), &Cpu::<f32>::new(), Shape::default(), 1);
        for (function, twin) in TWINS {
            if matches!(twin, Twin::Kernels(_) | Twin::CublasLt(_)) {
                assert!(
                    checks.iter().any(|c| c.function == *function),
                    "the selftest does not check {function}"
                );
            }
        }
        assert!(
            checks.iter().all(Check::passed),
            "the CPU against itself: {checks:?}"
        );
    }

    /// An output a function adds into is judged by what was added: an increment twice the
    /// reference's fails, though the two sums (100.01 against 100.02) agree within the
    /// tolerance of their size.
    #[test]
    fn a_wrong_increment_fails_though_the_sums_agree() {
        let be = Cpu::<f32>::new();
        let mut p = Pair::new(&be, &be, 1);
        let (start, r, d) = ([100.0f32, -50.0], [100.01f32, -49.99], [100.02f32, -49.99]);
        let b = Both::<Cpu<f32>, Cpu<f32>> {
            r: be.uploaded(&r, Role::Grad),
            d: be.uploaded(&d, Role::Grad),
            n: 2,
            role: Role::Grad,
        };
        let before = Before {
            r: start.to_vec(),
            d: start.to_vec(),
        };
        p.compare_added("f", "added", &b, before, F32_OUT);
        p.compare_host("f", "sums", &r, &d, F32_OUT);
        assert!(!p.checks[0].passed(), "{:?}", p.checks[0]);
        assert!(p.checks[1].passed(), "{:?}", p.checks[1]);
    }

    /// The comparison fails a device output one tolerance away, and passes one inside it.
    #[test]
    fn a_difference_beyond_the_tolerance_fails() {
        let be = Cpu::<f32>::new();
        let mut p = Pair::new(&be, &be, 1);
        let r = [1.0f32, -2.0, 4.0];
        // Bound at element 2: 1e-2 · 4 + 2e-3 · 4 = 0.048.
        p.compare_host("f", "inside", &r, &[1.0, -2.0, 4.047], BF16_OUT);
        p.compare_host("f", "outside", &r, &[1.0, -2.0, 4.049], BF16_OUT);
        p.compare_host("f", "nan", &r, &[1.0, f32::NAN, 4.0], BF16_OUT);
        assert!(p.checks[0].passed(), "{:?}", p.checks[0]);
        assert!(!p.checks[1].passed(), "{:?}", p.checks[1]);
        assert!(!p.checks[2].passed(), "{:?}", p.checks[2]);
    }
}
