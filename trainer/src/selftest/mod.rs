//! `sieve-train selftest`: what a user runs first on a new machine. Every backend function
//! against its CPU twin ([`kernels`]), a few training steps against the CPU backend, then
//! throughput and model FLOP utilisation at real model shapes.

pub mod kernels;

use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use crate::backend::{Backend, BackendExt, Role};
use crate::model::init::init_params;
use crate::model::{Activations, Gpt, GptConfig, ModelShard, Precision};
use crate::optim::{AdamConfig, AdamState, AdamStep};

/// The losses of the same steps on both backends.
#[derive(Debug, Clone, Serialize)]
pub struct StepsCheck {
    pub reference: Vec<f64>,
    pub device: Vec<f64>,
    /// The largest relative difference of a step's loss.
    pub worst_relative: f64,
    pub tolerance: f64,
}

impl StepsCheck {
    pub fn passed(&self) -> bool {
        self.worst_relative <= self.tolerance
    }
}

/// The loss tolerance of the training check: bf16 activations on both sides, sums in other
/// orders, over a few steps.
pub const STEP_LOSS_TOLERANCE: f64 = 2e-2;

const ADAM: AdamConfig = AdamConfig {
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    weight_decay: 0.1,
};

/// A model on `backend` in bf16 mixed precision, initialised from `seed` as the trainer does.
fn model<B: Backend<F = f32>>(backend: B, cfg: &GptConfig, seed: u64) -> Result<Gpt<B>> {
    let mut m = Gpt::new(cfg.clone(), ModelShard::SINGLE, backend, Precision::Bf16)?;
    let mut host = vec![0f32; m.layout.len];
    init_params(
        &mut host,
        &m.layout,
        ModelShard::SINGLE,
        cfg.layers,
        seed,
        0.02,
    );
    let be = &m.backend;
    be.upload(be.whole_mut(&mut m.params), &host);
    m.params_changed();
    Ok(m)
}

/// One optimiser step on one micro-batch: forward, backward, AdamW. Returns the mean loss.
fn step<B: Backend<F = f32>>(
    m: &mut Gpt<B>,
    acts: &mut Activations<B>,
    adam: &mut AdamState<B::Buf>,
    decay: &B::Buf,
    solo: &B::Group,
    t: u64,
) -> Result<f64> {
    let n = acts.tokens.len();
    m.zero_grads();
    let loss = m.forward(acts, solo)?.unwrap_or(0.0) / n as f64;
    m.backward(acts, 1.0 / n as f32, None, solo, None)?;
    let be = &m.backend;
    be.adamw_step(
        be.whole_mut(&mut m.params),
        be.whole(&m.grads),
        be.whole_mut(&mut adam.m),
        be.whole_mut(&mut adam.v),
        be.whole(decay),
        &AdamStep::new(&ADAM, 1e-3, t),
    );
    m.params_changed();
    m.backend.synchronize()?;
    Ok(loss)
}

fn random_tokens(n: usize, vocab: usize, seed: u64) -> Vec<u32> {
    let mut rng = sieve_shards::rng::SplitMix(seed);
    (0..n)
        .map(|_| (rng.next_u64() % vocab as u64) as u32)
        .collect()
}

/// Losses of `steps` steps of the same small model on the same tokens, on both backends.
pub fn training_steps<R: Backend<F = f32>, D: Backend<F = f32>>(
    reference: R,
    device: D,
    steps: u64,
) -> Result<StepsCheck> {
    let cfg = GptConfig::preset("tiny", 500)?;
    let (batch, seq) = (2, 64);
    let tokens = random_tokens(batch * (seq + 1), cfg.vocab_size, 11);
    let reference = run_steps(model(reference, &cfg, 5)?, &tokens, batch, seq, steps)?;
    let device = run_steps(model(device, &cfg, 5)?, &tokens, batch, seq, steps)?;
    let worst_relative = reference
        .iter()
        .zip(&device)
        .map(|(a, b)| {
            if a.is_finite() && b.is_finite() {
                (a - b).abs() / a.abs().max(1e-12)
            } else {
                f64::INFINITY
            }
        })
        .fold(0.0, f64::max);
    Ok(StepsCheck {
        reference,
        device,
        worst_relative,
        tolerance: STEP_LOSS_TOLERANCE,
    })
}

fn run_steps<B: Backend<F = f32>>(
    mut m: Gpt<B>,
    tokens: &[u32],
    batch: usize,
    seq: usize,
    steps: u64,
) -> Result<Vec<f64>> {
    let mut steps_of = Steps::new(&m, tokens, batch, seq);
    (1..=steps).map(|t| steps_of.step(&mut m, t)).collect()
}

/// What repeated steps of one model need besides the model: a group of one, the AdamW state,
/// the decay mask, and one micro-batch of `batch` rows of `seq` tokens cut from `tokens`.
struct Steps<B: Backend<F = f32>> {
    solo: Box<B::Group>,
    adam: AdamState<B::Buf>,
    decay: B::Buf,
    acts: Activations<B>,
}

impl<B: Backend<F = f32>> Steps<B> {
    fn new(m: &Gpt<B>, tokens: &[u32], batch: usize, seq: usize) -> Self {
        let mut acts = Activations::new(batch, seq);
        for row in tokens.chunks_exact(seq + 1).take(batch) {
            acts.tokens.extend_from_slice(&row[..seq]);
            acts.targets.extend_from_slice(&row[1..]);
        }
        Steps {
            solo: m.backend.single_group(),
            adam: AdamState::new(&m.backend, m.layout.len),
            decay: m.backend.uploaded(&m.layout.mask(|t| t.decay), Role::Stat),
            acts,
        }
    }

    /// Optimiser step `t` (from 1); the mean loss.
    fn step(&mut self, m: &mut Gpt<B>, t: u64) -> Result<f64> {
        step(
            m,
            &mut self.acts,
            &mut self.adam,
            &self.decay,
            &self.solo,
            t,
        )
    }
}

/// Training throughput at one model shape.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub preset: String,
    pub batch: usize,
    pub seq: usize,
    pub tokens_per_second: f64,
    /// Achieved model FLOP/s (6N + attention per token, as Megatron counts) over the peak.
    pub mfu: Option<f64>,
    pub peak_flops: Option<f64>,
}

/// Tokens per second of full training steps (forward, backward, AdamW) of `preset` at
/// `batch × seq`, the best of `steps` after one warm-up step.
pub fn throughput<B: Backend<F = f32>>(
    backend: B,
    preset: &str,
    batch: usize,
    seq: usize,
    steps: u64,
    peak_flops: Option<f64>,
) -> Result<Throughput> {
    let mut cfg = GptConfig::preset(preset, 50_257)?;
    cfg.max_seq = cfg.max_seq.max(seq);
    let mut m = model(backend, &cfg, 1)?;
    let tokens = random_tokens(batch * (seq + 1), cfg.vocab_size, 3);
    let mut steps_of = Steps::new(&m, &tokens, batch, seq);
    let mut best = f64::MAX;
    for t in 0..=steps {
        let started = Instant::now();
        steps_of.step(&mut m, t + 1)?;
        if t > 0 {
            best = best.min(started.elapsed().as_secs_f64());
        }
    }
    let tokens_per_second = (batch * seq) as f64 / best;
    let achieved = tokens_per_second * cfg.flops_per_token(seq);
    Ok(Throughput {
        preset: preset.to_string(),
        batch,
        seq,
        tokens_per_second,
        mfu: peak_flops.map(|p| achieved / p),
        peak_flops,
    })
}

/// Dense bf16 tensor-core peak of a GPU, from its name (NVIDIA's data sheets; SXM parts).
pub fn bf16_peak_flops(device_name: &str) -> Option<f64> {
    let name = device_name.to_ascii_uppercase();
    [
        ("H200", 989e12),
        ("H100", 989e12),
        ("A100", 312e12),
        ("L40S", 362e12),
        ("A10", 125e12),
    ]
    .iter()
    .find(|(key, _)| name.contains(key))
    .map(|&(_, f)| f)
}
