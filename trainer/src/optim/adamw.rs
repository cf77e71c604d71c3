//! AdamW as PyTorch and Megatron apply it: decoupled weight decay first, then the
//! bias-corrected Adam step. The state covers one contiguous range of the parameters, so
//! ZeRO-1 gives each data-parallel rank its own shard of it. The per-element loop is the
//! backend's `adamw_step`; this file holds the state and the per-step constants.

use serde::{Deserialize, Serialize};

use crate::backend::{Backend, Float, Role};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

/// First and second moments for a range of parameters, in the backend's buffers.
#[derive(Debug, Clone, PartialEq)]
pub struct AdamState<Buf> {
    pub m: Buf,
    pub v: Buf,
}

impl<Buf> AdamState<Buf> {
    pub fn new<B: Backend<Buf = Buf>>(backend: &B, n: usize) -> Self {
        AdamState {
            m: backend.zeros(n, Role::Master),
            v: backend.zeros(n, Role::Master),
        }
    }
}

/// The constants of step `step` (counting from 1), computed once on the host in f64 and
/// rounded to the backend's precision, so every backend's per-element loop sees the same
/// numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep<F> {
    pub beta1: F,
    pub beta2: F,
    /// 1 − β₁ᵗ and 1 − β₂ᵗ.
    pub correction1: F,
    pub correction2: F,
    pub lr: F,
    /// 1 − lr · weight decay.
    pub shrink: F,
    pub eps: F,
}

impl<F: Float> AdamStep<F> {
    pub fn new(cfg: &AdamConfig, lr: f64, step: u64) -> Self {
        AdamStep {
            beta1: F::from_f64(cfg.beta1),
            beta2: F::from_f64(cfg.beta2),
            correction1: F::from_f64(1.0 - cfg.beta1.powi(step as i32)),
            correction2: F::from_f64(1.0 - cfg.beta2.powi(step as i32)),
            lr: F::from_f64(lr),
            shrink: F::from_f64(1.0 - lr * cfg.weight_decay),
            eps: F::from_f64(cfg.eps),
        }
    }
}
