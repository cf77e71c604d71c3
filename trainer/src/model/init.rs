//! Initial weights. Each element of a full tensor is drawn from its own counter-based stream
//! (seed, tensor name, element index), so any rank computes its slice of the full tensor
//! without building the rest, and every parallel layout starts from bitwise the same model
//! (Megatron gets the same property by building the master weight and slicing it).

use super::layout::{Init, Layout, ModelShard};
use crate::backend::Float;

/// A standard normal draw for element `index` of tensor `name` (Box–Muller on two 53-bit
/// uniforms from xxh3).
pub fn normal(seed: u64, name: &str, index: usize) -> f64 {
    let key = xxhash_rust::xxh3::xxh3_64_with_seed(name.as_bytes(), seed);
    let h1 = xxhash_rust::xxh3::xxh3_64_with_seed(&(index as u64).to_le_bytes(), key);
    let h2 = xxhash_rust::xxh3::xxh3_64_with_seed(&(index as u64).to_le_bytes(), key ^ 0x5bd1_e995);
    let u1 = ((h1 >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let u2 = (h2 >> 11) as f64 / (1u64 << 53) as f64;
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Fills `params` (laid out by `layout` for `shard`) with GPT-2's initialisation: N(0, std)
/// matrices, std/√(2L) for the projections into the residual stream, zero biases, unit
/// LayerNorm gains.
pub fn init_params<F: Float>(
    params: &mut [F],
    layout: &Layout,
    shard: ModelShard,
    layers: usize,
    seed: u64,
    std: f64,
) {
    let residual_std = std / (2.0 * layers as f64).sqrt();
    for t in &layout.tensors {
        let out = &mut params[t.range()];
        match t.init {
            Init::Zeros => out.fill(F::ZERO),
            Init::Ones => out.fill(F::ONE),
            Init::Normal | Init::ResidualNormal => {
                let s = if t.init == Init::Normal {
                    std
                } else {
                    residual_std
                };
                let cols = t.local[1];
                for (k, v) in out.iter_mut().enumerate() {
                    let full = t.full_index(k / cols, k % cols, shard.tp_rank, shard.tp);
                    *v = F::from_f64(s * normal(seed, &t.name, full));
                }
            }
        }
    }
}
