//! AdamW as PyTorch and Megatron apply it: decoupled weight decay first, then the
//! bias-corrected Adam step. The state covers one contiguous range of the parameters, so
//! ZeRO-1 gives each data-parallel rank its own shard of it.

use serde::{Deserialize, Serialize};

use crate::backend::Float;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

/// First and second moments for a range of parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct AdamState<F> {
    pub m: Vec<F>,
    pub v: Vec<F>,
}

impl<F: Float> AdamState<F> {
    pub fn new(n: usize) -> Self {
        AdamState {
            m: vec![F::ZERO; n],
            v: vec![F::ZERO; n],
        }
    }

    /// One step (`step` counts from 1) on `params` with `grads`; `decay[i]` says whether
    /// element i is decayed.
    pub fn step(
        &mut self,
        cfg: &AdamConfig,
        params: &mut [F],
        grads: &[F],
        decay: &[bool],
        lr: f64,
        step: u64,
    ) {
        let b1 = F::from_f64(cfg.beta1);
        let b2 = F::from_f64(cfg.beta2);
        let one = F::ONE;
        let c1 = F::from_f64(1.0 - cfg.beta1.powi(step as i32));
        let c2 = F::from_f64(1.0 - cfg.beta2.powi(step as i32));
        let lr_f = F::from_f64(lr);
        let shrink = F::from_f64(1.0 - lr * cfg.weight_decay);
        let eps = F::from_f64(cfg.eps);
        for i in 0..params.len() {
            let g = grads[i];
            let m = b1 * self.m[i] + (one - b1) * g;
            let v = b2 * self.v[i] + (one - b2) * g * g;
            self.m[i] = m;
            self.v[i] = v;
            let mut p = params[i];
            if decay[i] {
                p *= shrink;
            }
            p -= lr_f * (m / c1) / ((v / c2).sqrt() + eps);
            params[i] = p;
        }
    }
}
