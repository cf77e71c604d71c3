//! Set-up the trainer's benchmarks share: their size from the environment, and a model
//! initialised as the trainer initialises one.

#![allow(dead_code)]

use sieve_trainer::backend::Cpu;
use sieve_trainer::model::init::init_params;
use sieve_trainer::model::{Activations, Gpt, GptConfig, ModelShard, Precision};

/// The number in environment variable `name`, or `default`.
pub fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A full-precision model of `cfg` at rank position `shard` on `backend`, its parameters
/// drawn as the trainer draws them (seed 1, std 0.02).
pub fn initialised_model(cfg: &GptConfig, shard: ModelShard, backend: Cpu<f32>) -> Gpt<Cpu<f32>> {
    let mut model = Gpt::new(cfg.clone(), shard, backend, Precision::Full).unwrap();
    let layout = model.layout.clone();
    init_params(&mut model.params, &layout, shard, cfg.layers, 1, 0.02);
    model.params_changed();
    model
}

/// A micro-batch of `b` rows of `s` tokens from `tokens` (rows of s + 1: inputs and their
/// next-token targets).
pub fn micro_batch(tokens: &[u32], (b, s): (usize, usize)) -> Activations<Cpu<f32>> {
    let mut acts = Activations::new(b, s);
    for row in tokens.chunks_exact(s + 1) {
        acts.tokens.extend_from_slice(&row[..s]);
        acts.targets.extend_from_slice(&row[1..]);
    }
    acts
}
