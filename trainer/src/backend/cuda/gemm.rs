//! The cuBLASLt matmuls of a step, as descriptors: cuBLAS is column-major, the model's
//! buffers are row-major, so each product is stated as cuBLAS sees it (a row-major `[r, c]`
//! matrix is a column-major `c × r` one with leading dimension `c`). The descriptors are
//! plain data; `apply` evaluates one on the host, so tests check every transpose and leading
//! dimension against the CPU backend without a GPU.

/// Whether cuBLAS transposes an operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    N,
    T,
}

/// What cuBLASLt's epilogue adds to the product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Epilogue {
    None,
    /// Adds a bias per row of the column-major result (per output feature).
    Bias,
}

/// `C = alpha · op(A) · op(B) + beta · C` over `batch` matrices, column-major.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gemm {
    pub transa: Op,
    pub transb: Op,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub lda: usize,
    pub ldb: usize,
    pub ldc: usize,
    pub batch: usize,
    pub stride_a: usize,
    pub stride_b: usize,
    pub stride_c: usize,
    /// 0: overwrite C; 1: accumulate into it (gradients).
    pub beta: f32,
    pub epilogue: Epilogue,
}

impl Gemm {
    fn single(
        transa: Op,
        transb: Op,
        m: usize,
        n: usize,
        k: usize,
        lda: usize,
        ldb: usize,
    ) -> Gemm {
        Gemm {
            transa,
            transb,
            m,
            n,
            k,
            lda,
            ldb,
            ldc: m,
            batch: 1,
            stride_a: 0,
            stride_b: 0,
            stride_c: 0,
            beta: 0.0,
            epilogue: Epilogue::None,
        }
    }

    fn batched(mut self, batch: usize, stride_a: usize, stride_b: usize, stride_c: usize) -> Gemm {
        self.batch = batch;
        self.stride_a = stride_a;
        self.stride_b = stride_b;
        self.stride_c = stride_c;
        self
    }

    fn accumulate(mut self) -> Gemm {
        self.beta = 1.0;
        self
    }
}

/// The linear layer's forward, `out[rows, oc] = inp[rows, c] · weight[oc, c]ᵀ (+ bias)`:
/// A = weight (T), B = inp (N). The bias goes in the epilogue.
pub fn linear_forward(rows: usize, c: usize, oc: usize, bias: bool) -> Gemm {
    let mut g = Gemm::single(Op::T, Op::N, oc, rows, c, c, c);
    if bias {
        g.epilogue = Epilogue::Bias;
    }
    g
}

/// `dinp[rows, c] += dout[rows, oc] · weight[oc, c]`: A = weight (N), B = dout (N).
pub fn linear_backward_input(rows: usize, c: usize, oc: usize) -> Gemm {
    Gemm::single(Op::N, Op::N, c, rows, oc, c, oc).accumulate()
}

/// `dweight[oc, c] += dout[rows, oc]ᵀ · inp[rows, c]`: A = inp (N), B = dout (T).
pub fn linear_backward_weight(rows: usize, c: usize, oc: usize) -> Gemm {
    Gemm::single(Op::N, Op::T, c, oc, rows, c, oc).accumulate()
}

/// Attention's four products per (batch, head), over q, k, v permuted to
/// `[batch · heads, seq, hs]` (attention_permute) and the probabilities `[batch · heads, seq,
/// seq]`. `bh` = batch · heads.
pub mod attention {
    use super::{Gemm, Op};

    /// `scores[t, s] = q[t] · k[s]` (scaled by 1/√hs before the softmax): A = k (T), B = q (N).
    pub fn scores(bh: usize, seq: usize, hs: usize) -> Gemm {
        Gemm::single(Op::T, Op::N, seq, seq, hs, hs, hs).batched(bh, seq * hs, seq * hs, seq * seq)
    }

    /// `y[t] = Σ_s att[t, s] · v[s]`: A = v (N), B = att (N).
    pub fn values(bh: usize, seq: usize, hs: usize) -> Gemm {
        Gemm::single(Op::N, Op::N, hs, seq, seq, hs, seq).batched(bh, seq * hs, seq * seq, seq * hs)
    }

    /// `datt[t, s] = dy[t] · v[s]`: A = v (T), B = dy (N), the product shape of `scores`.
    pub fn datt(bh: usize, seq: usize, hs: usize) -> Gemm {
        scores(bh, seq, hs)
    }

    /// `dv[s] = Σ_t att[t, s] · dy[t]`: A = dy (N), B = att (T).
    pub fn dv(bh: usize, seq: usize, hs: usize) -> Gemm {
        Gemm::single(Op::N, Op::T, hs, seq, seq, hs, seq).batched(bh, seq * hs, seq * seq, seq * hs)
    }

    /// `dq[t] = Σ_s dscores[t, s] · k[s]`: A = k (N), B = dscores (N), the shape of `values`.
    pub fn dq(bh: usize, seq: usize, hs: usize) -> Gemm {
        values(bh, seq, hs)
    }

    /// `dk[s] = Σ_t dscores[t, s] · q[t]`: A = q (N), B = dscores (T), the shape of `dv`.
    pub fn dk(bh: usize, seq: usize, hs: usize) -> Gemm {
        dv(bh, seq, hs)
    }
}

/// Evaluates a descriptor on the host, as cuBLAS would (for tests): `alpha` scales the
/// product, `bias` (length m) is the epilogue's.
pub fn apply(g: &Gemm, alpha: f64, a: &[f64], b: &[f64], c: &mut [f64], bias: Option<&[f64]>) {
    for p in 0..g.batch {
        let (a, b) = (&a[p * g.stride_a..], &b[p * g.stride_b..]);
        let c = &mut c[p * g.stride_c..];
        for j in 0..g.n {
            for i in 0..g.m {
                let mut acc = 0.0;
                for l in 0..g.k {
                    let av = match g.transa {
                        Op::N => a[i + l * g.lda],
                        Op::T => a[l + i * g.lda],
                    };
                    let bv = match g.transb {
                        Op::N => b[l + j * g.ldb],
                        Op::T => b[j + l * g.ldb],
                    };
                    acc += av * bv;
                }
                let mut v = alpha * acc;
                if g.epilogue == Epilogue::Bias {
                    v += bias.expect("a bias epilogue without a bias")[i];
                }
                let at = i + j * g.ldc;
                c[at] = v + f64::from(g.beta) * c[at];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, Cpu};

    fn random(n: usize, seed: u64) -> Vec<f64> {
        let mut s = sieve_shards::rng::SplitMix(seed);
        (0..n)
            .map(|_| (s.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
            .collect()
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() < 1e-9, "element {i}: {x} vs {y}");
        }
    }

    #[test]
    fn linear_descriptors_match_the_cpu_backend() {
        let cpu = Cpu::<f64>::default();
        let (rows, c, oc) = (7, 5, 3);
        let inp = random(rows * c, 1);
        let w = random(oc * c, 2);
        let bias = random(oc, 3);
        let dout = random(rows * oc, 4);

        let mut want = vec![0.0; rows * oc];
        cpu.matmul_forward(&mut want, &inp, &w, Some(&bias), c, oc);
        let mut got = vec![0.0; rows * oc];
        apply(
            &linear_forward(rows, c, oc, true),
            1.0,
            &w,
            &inp,
            &mut got,
            Some(&bias),
        );
        close(&got, &want);

        // Backward accumulates into what is there, on both sides.
        let start_dinp = random(rows * c, 5);
        let start_dw = random(oc * c, 6);
        let (mut dinp, mut dw, mut db) = (start_dinp.clone(), start_dw.clone(), vec![0.0; oc]);
        cpu.matmul_backward(&mut dinp, &mut dw, Some(&mut db), &dout, &inp, &w, c, oc);
        let mut got_dinp = start_dinp.clone();
        apply(
            &linear_backward_input(rows, c, oc),
            1.0,
            &w,
            &dout,
            &mut got_dinp,
            None,
        );
        close(&got_dinp, &dinp);
        let mut got_dw = start_dw.clone();
        apply(
            &linear_backward_weight(rows, c, oc),
            1.0,
            &inp,
            &dout,
            &mut got_dw,
            None,
        );
        close(&got_dw, &dw);
    }

    /// Element `i` of a `[b·h, t, hs]` tensor as an index into rows `[b, t, width]` holding
    /// the heads side by side (attention.cu's `row_index`).
    fn row_index(i: usize, t: usize, h: usize, hs: usize, width: usize) -> usize {
        let (d, ti, hi, bi) = (i % hs, (i / hs) % t, (i / (hs * t)) % h, i / (hs * t * h));
        (bi * t + ti) * width + hi * hs + d
    }

    #[test]
    fn attention_descriptors_match_the_cpu_backend() {
        let cpu = Cpu::<f64>::default();
        let (b, t, h, hs) = (2, 5, 3, 4);
        let (c, bh) = (h * hs, b * h);
        let qkv = random(b * t * 3 * c, 7);
        let dout = random(b * t * c, 8);
        let mut want_out = vec![0.0; b * t * c];
        let mut att_cpu = vec![0.0; bh * t * t];
        cpu.attention_forward(&mut want_out, &mut att_cpu, &qkv, b, t, h, hs);
        let mut want_dqkv = vec![0.0; b * t * 3 * c];
        cpu.attention_backward(&mut want_dqkv, &dout, &qkv, &att_cpu, b, t, h, hs);

        // attention_permute: q, k, v out of the qkv rows.
        let n = bh * t * hs;
        let part = |p: usize| -> Vec<f64> {
            (0..n)
                .map(|i| qkv[row_index(i, t, h, hs, 3 * c) + p * c])
                .collect()
        };
        let (q, k, v) = (part(0), part(1), part(2));
        let scale = 1.0 / (hs as f64).sqrt();
        let mut att = vec![0.0; bh * t * t];
        apply(&attention::scores(bh, t, hs), scale, &k, &q, &mut att, None);
        // The masked softmax (softmax_causal_forward), row by row.
        for row in 0..bh * t {
            let ti = row % t;
            let r = &mut att[row * t..(row + 1) * t];
            let mx = r[..=ti].iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = r[..=ti].iter().map(|x| (x - mx).exp()).sum();
            for (s, x) in r.iter_mut().enumerate() {
                *x = if s <= ti { (*x - mx).exp() / sum } else { 0.0 };
            }
        }
        close(&att, &att_cpu);
        let mut y = vec![0.0; bh * t * hs];
        apply(&attention::values(bh, t, hs), 1.0, &v, &att, &mut y, None);
        // attention_unpermute, then compare; and its backward for dout.
        let mut out = vec![0.0; b * t * c];
        let mut dy = vec![0.0; n];
        for i in 0..n {
            let row = row_index(i, t, h, hs, c);
            out[row] = y[i];
            dy[i] = dout[row];
        }
        close(&out, &want_out);

        // Backward: datt, dv; the softmax backward; dq, dk; then back into qkv rows.
        let mut datt = vec![0.0; bh * t * t];
        apply(&attention::datt(bh, t, hs), 1.0, &v, &dy, &mut datt, None);
        let mut dv = vec![0.0; bh * t * hs];
        apply(&attention::dv(bh, t, hs), 1.0, &dy, &att, &mut dv, None);
        for row in 0..bh * t {
            let ti = row % t;
            let a = &att[row * t..(row + 1) * t];
            let d = &mut datt[row * t..(row + 1) * t];
            let dot: f64 = (0..=ti).map(|s| a[s] * d[s]).sum();
            for s in 0..t {
                d[s] = if s <= ti {
                    a[s] * (d[s] - dot) * scale
                } else {
                    0.0
                };
            }
        }
        let (mut dq, mut dk) = (vec![0.0; bh * t * hs], vec![0.0; bh * t * hs]);
        apply(&attention::dq(bh, t, hs), 1.0, &k, &datt, &mut dq, None);
        apply(&attention::dk(bh, t, hs), 1.0, &q, &datt, &mut dk, None);
        // attention_permute_backward.
        let mut dqkv = vec![0.0; b * t * 3 * c];
        for i in 0..n {
            let row = row_index(i, t, h, hs, 3 * c);
            dqkv[row] += dq[i];
            dqkv[row + c] += dk[i];
            dqkv[row + 2 * c] += dv[i];
        }
        close(&dqkv, &want_dqkv);
    }
}
