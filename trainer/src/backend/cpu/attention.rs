//! Causal self-attention on the CPU, one (batch, head) pair per parallel task: the scores,
//! the softmax and the weighted sum forward, and their gradients backward.

use rayon::prelude::*;

use super::SendPtr;
use crate::backend::Float;

pub(super) fn attention_forward<F: Float>(
    out: &mut [F],
    att: &mut [F],
    qkv: &[F],
    batch: usize,
    seq: usize,
    heads: usize,
    hs: usize,
) {
    let c = heads * hs;
    let c3 = 3 * c;
    debug_assert_eq!(att.len(), batch * heads * seq * seq);
    let scale = F::ONE / F::from_f64(hs as f64).sqrt();
    let out_ptr = SendPtr(out.as_mut_ptr());
    att.par_chunks_mut(seq * seq)
        .enumerate()
        .for_each(|(bh, a)| {
            let (b, h) = (bh / heads, bh % heads);
            let q = qkv[b * seq * c3 + h * hs..].as_ptr();
            let k = qkv[b * seq * c3 + c + h * hs..].as_ptr();
            let v = qkv[b * seq * c3 + 2 * c + h * hs..].as_ptr();
            // scores[t, s] = q[t]·k[s] · scale (the full square; the mask follows).
            unsafe {
                F::gemm(
                    seq,
                    hs,
                    seq,
                    scale,
                    q,
                    c3 as isize,
                    1,
                    k,
                    1,
                    c3 as isize,
                    F::ZERO,
                    a.as_mut_ptr(),
                    seq as isize,
                    1,
                )
            }
            for t in 0..seq {
                let row = &mut a[t * seq..(t + 1) * seq];
                let mx = row[..=t].iter().fold(F::NEG_INFINITY, |m, &x| m.max(x));
                let mut sum = F::ZERO;
                for x in row[..=t].iter_mut() {
                    *x = (*x - mx).exp();
                    sum += *x;
                }
                let inv = F::ONE / sum;
                row[..=t].iter_mut().for_each(|x| *x *= inv);
                row[t + 1..].fill(F::ZERO);
            }
            // out[t, h] = Σ_s att[t, s] · v[s]; each (b, h) writes its own columns.
            unsafe {
                F::gemm(
                    seq,
                    seq,
                    hs,
                    F::ONE,
                    a.as_ptr(),
                    seq as isize,
                    1,
                    v,
                    c3 as isize,
                    1,
                    F::ZERO,
                    out_ptr.get().add(b * seq * c + h * hs),
                    c as isize,
                    1,
                )
            }
        });
}

#[allow(clippy::too_many_arguments)]
pub(super) fn attention_backward<F: Float>(
    dqkv: &mut [F],
    dout: &[F],
    qkv: &[F],
    att: &[F],
    batch: usize,
    seq: usize,
    heads: usize,
    hs: usize,
) {
    let c = heads * hs;
    let c3 = 3 * c;
    let scale = F::ONE / F::from_f64(hs as f64).sqrt();
    let dqkv_ptr = SendPtr(dqkv.as_mut_ptr());
    (0..batch * heads).into_par_iter().for_each(|bh| {
        let (b, h) = (bh / heads, bh % heads);
        let a = &att[bh * seq * seq..(bh + 1) * seq * seq];
        let base = b * seq * c3 + h * hs;
        let q = qkv[base..].as_ptr();
        let k = qkv[base + c..].as_ptr();
        let v = qkv[base + 2 * c..].as_ptr();
        let dy = dout[b * seq * c + h * hs..].as_ptr();
        let d = dqkv_ptr.get();
        let mut datt = vec![F::ZERO; seq * seq];
        unsafe {
            // datt = dout · vᵀ
            F::gemm(
                seq,
                hs,
                seq,
                F::ONE,
                dy,
                c as isize,
                1,
                v,
                1,
                c3 as isize,
                F::ZERO,
                datt.as_mut_ptr(),
                seq as isize,
                1,
            );
            // dv += attᵀ · dout
            F::gemm(
                seq,
                seq,
                hs,
                F::ONE,
                a.as_ptr(),
                1,
                seq as isize,
                dy,
                c as isize,
                1,
                F::ONE,
                d.add(base + 2 * c),
                c3 as isize,
                1,
            );
        }
        // Softmax backward, row by row, into scaled score gradients.
        for t in 0..seq {
            let p = &a[t * seq..=t * seq + t];
            let g = &mut datt[t * seq..(t + 1) * seq];
            let dot: F = p.iter().zip(g.iter()).map(|(&p, &g)| p * g).sum();
            for s in 0..=t {
                g[s] = p[s] * (g[s] - dot) * scale;
            }
            g[t + 1..].fill(F::ZERO);
        }
        unsafe {
            // dq += dscores · k
            F::gemm(
                seq,
                seq,
                hs,
                F::ONE,
                datt.as_ptr(),
                seq as isize,
                1,
                k,
                c3 as isize,
                1,
                F::ONE,
                d.add(base),
                c3 as isize,
                1,
            );
            // dk += dscoresᵀ · q
            F::gemm(
                seq,
                seq,
                hs,
                F::ONE,
                datt.as_ptr(),
                1,
                seq as isize,
                q,
                c3 as isize,
                1,
                F::ONE,
                d.add(base + c),
                c3 as isize,
                1,
            );
        }
    });
}
