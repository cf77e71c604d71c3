//! `sieve-train selftest`: what a user runs first on a new machine. Every backend function
//! against its CPU twin ([`kernels`]), a few training steps against the CPU backend, then
//! throughput and model FLOP utilisation at real model shapes.

pub mod kernels;
pub mod multi;

use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use crate::backend::{Backend, BackendExt, Role};
use crate::model::init::init_params;
use crate::model::{Activations, Gpt, GptConfig, ModelShard, Precision};
use crate::optim::{AdamConfig, AdamState, AdamStep};

/// The losses of the same steps on both sides.
#[derive(Debug, Clone, Serialize)]
pub struct StepsCheck {
    /// What the device was checked against.
    pub against: String,
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

/// The loss tolerance against the host reference optimizer: the same forward and backward,
/// only the update in f64 instead of the kernel's f32, which bf16 rounding of the weights turns
/// into about 2e-5 of the loss in four steps; a wrong bias correction moves it by 1.6e-2 (β₂)
/// or 2.8e-2 (β₁), which the 2e-2 of the device check would let through.
pub const HOST_REFERENCE_TOLERANCE: f64 = 2e-4;

const ADAM: AdamConfig = AdamConfig {
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    weight_decay: 0.1,
};

/// Rank position `shard`'s part of a model on `backend` in bf16 mixed precision, initialised
/// from `seed` as the trainer does.
fn model<B: Backend<F = f32>>(
    backend: B,
    cfg: &GptConfig,
    seed: u64,
    shard: ModelShard,
) -> Result<Gpt<B>> {
    let mut m = Gpt::new(cfg.clone(), shard, backend, Precision::Bf16)?;
    let mut host = vec![0f32; m.layout.len];
    init_params(&mut host, &m.layout, shard, cfg.layers, seed, 0.02);
    let be = &m.backend;
    be.upload(be.whole_mut(&mut m.params), &host);
    m.params_changed();
    Ok(m)
}

/// The learning rate of the training check.
const LR: f64 = 1e-3;

/// AdamW on the host in f64, written from PyTorch's definition (decay decoupled from the
/// gradient and applied first, then the bias-corrected step), apart from the backends' fused
/// kernel that it checks. `m` and `v` are the host's own moments.
fn host_adamw(p: &mut [f32], g: &[f32], (m, v): (&mut [f64], &mut [f64]), decay: &[f32], t: u64) {
    let (b1, b2) = (ADAM.beta1, ADAM.beta2);
    let (c1, c2) = (1.0 - b1.powi(t as i32), 1.0 - b2.powi(t as i32));
    for i in 0..p.len() {
        let g = g[i] as f64;
        let decayed = p[i] as f64 * (1.0 - LR * ADAM.weight_decay * decay[i] as f64);
        m[i] = b1 * m[i] + (1.0 - b1) * g;
        v[i] = b2 * v[i] + (1.0 - b2) * g * g;
        p[i] = (decayed - LR * (m[i] / c1) / ((v[i] / c2).sqrt() + ADAM.eps)) as f32;
    }
}

/// How a run takes its optimiser step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Optimizer {
    /// The backend's fused AdamW kernel.
    Backend,
    /// [`host_adamw`]: the independent reference.
    HostReference,
}

/// One optimiser step on one micro-batch: forward, backward, AdamW. Returns the mean loss.
fn step<B: Backend<F = f32>>(m: &mut Gpt<B>, s: &mut Steps<B>, t: u64) -> Result<f64> {
    let acts = &mut s.acts;
    let n = acts.tokens.len();
    m.zero_grads();
    let loss = m.forward(acts, &s.solo)?.unwrap_or(0.0) / n as f64;
    m.backward(acts, 1.0 / n as f32, None, &s.solo, true, None)?;
    let be = &m.backend;
    match s.optimizer {
        Optimizer::Backend => be.adamw_step(
            be.whole_mut(&mut m.params),
            be.whole(&m.grads),
            be.whole_mut(&mut s.adam.m),
            be.whole_mut(&mut s.adam.v),
            be.whole(&s.decay),
            &AdamStep::new(&ADAM, LR, t),
        ),
        Optimizer::HostReference => {
            let len = m.layout.len;
            let mut p = be.to_host(be.whole(&m.params), len);
            let g = be.to_host(be.whole(&m.grads), len);
            let (hm, hv) = &mut s.host_moments;
            host_adamw(&mut p, &g, (hm, hv), &s.host_decay, t);
            be.upload(be.whole_mut(&mut m.params), &p);
        }
    }
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

/// Losses of `steps` steps of the same small model on the same tokens, on both backends
/// (each with its AdamW kernel).
pub fn training_steps<R: Backend<F = f32>, D: Backend<F = f32>>(
    reference: R,
    device: D,
    steps: u64,
) -> Result<StepsCheck> {
    let (r, o) = (reference, Optimizer::Backend);
    compare_steps(
        ("the CPU backend", r, o),
        device,
        steps,
        STEP_LOSS_TOLERANCE,
    )
}

/// Losses of `steps` steps on `device` against the same steps on `reference` with the host's
/// own AdamW: what the CPU backend is checked against (comparing it with itself would prove
/// nothing).
pub fn training_steps_against_host<R: Backend<F = f32>, D: Backend<F = f32>>(
    reference: R,
    device: D,
    steps: u64,
) -> Result<StepsCheck> {
    let against = (
        "the host reference optimizer",
        reference,
        Optimizer::HostReference,
    );
    compare_steps(against, device, steps, HOST_REFERENCE_TOLERANCE)
}

fn compare_steps<R: Backend<F = f32>, D: Backend<F = f32>>(
    (against, reference, optimizer): (&str, R, Optimizer),
    device: D,
    steps: u64,
    tolerance: f64,
) -> Result<StepsCheck> {
    let cfg = GptConfig::preset("tiny", 500)?;
    let (batch, seq) = (2, 64);
    let tokens = random_tokens(batch * (seq + 1), cfg.vocab_size, 11);
    let reference = model(reference, &cfg, 5, ModelShard::SINGLE)?;
    let reference = run_steps(reference, &tokens, (batch, seq), steps, optimizer)?;
    let device = model(device, &cfg, 5, ModelShard::SINGLE)?;
    let device = run_steps(device, &tokens, (batch, seq), steps, Optimizer::Backend)?;
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
        against: against.to_string(),
        reference,
        device,
        worst_relative,
        tolerance,
    })
}

fn run_steps<B: Backend<F = f32>>(
    mut m: Gpt<B>,
    tokens: &[u32],
    (batch, seq): (usize, usize),
    steps: u64,
    optimizer: Optimizer,
) -> Result<Vec<f64>> {
    let mut steps_of = Steps::new(&m, tokens, batch, seq, optimizer);
    (1..=steps).map(|t| steps_of.step(&mut m, t)).collect()
}

/// What repeated steps of one model need besides the model: a group of one, the AdamW state,
/// the decay mask, and one micro-batch of `batch` rows of `seq` tokens cut from `tokens`.
struct Steps<B: Backend<F = f32>> {
    solo: Box<B::Group>,
    adam: AdamState<B::Buf>,
    decay: B::Buf,
    acts: Activations<B>,
    optimizer: Optimizer,
    /// The host reference's moments and decay mask (empty for the backend's kernel).
    host_moments: (Vec<f64>, Vec<f64>),
    host_decay: Vec<f32>,
}

impl<B: Backend<F = f32>> Steps<B> {
    fn new(m: &Gpt<B>, tokens: &[u32], batch: usize, seq: usize, optimizer: Optimizer) -> Self {
        let mut acts = Activations::new(batch, seq);
        for row in tokens.chunks_exact(seq + 1).take(batch) {
            acts.tokens.extend_from_slice(&row[..seq]);
            acts.targets.extend_from_slice(&row[1..]);
        }
        let host = optimizer == Optimizer::HostReference;
        let n = if host { m.layout.len } else { 0 };
        let mask = m.layout.mask(|t| t.decay);
        Steps {
            solo: m.backend.single_group(),
            adam: AdamState::new(&m.backend, m.layout.len),
            decay: m.backend.uploaded(&mask, Role::Stat),
            acts,
            optimizer,
            host_moments: (vec![0.0; n], vec![0.0; n]),
            host_decay: if host { mask } else { Vec::new() },
        }
    }

    /// Optimiser step `t` (from 1); the mean loss.
    fn step(&mut self, m: &mut Gpt<B>, t: u64) -> Result<f64> {
        step(m, self, t)
    }
}

/// One parameter tensor's gradient after one forward and backward on both backends.
#[derive(Debug, Clone, Serialize)]
pub struct GradientCheck {
    pub tensor: String,
    pub elements: usize,
    /// The largest `|d − r| / bound` (see [`GRADIENT`]): at most 1 passes.
    pub worst: f64,
    pub max_abs_diff: f64,
}

impl GradientCheck {
    pub fn passed(&self) -> bool {
        self.worst <= 1.0
    }
}

/// Gradients after one step: bf16 activations on both sides, sums in other orders through
/// the whole backward. The `abs` part is of the tensor's largest magnitude, at least 1% of the
/// whole model's (a gradient that is zero in exact arithmetic, as the key bias's, is noise).
pub const GRADIENT: kernels::Tolerance = kernels::Tolerance {
    rel: 5e-2,
    abs: 1e-2,
};

/// The gradient of every parameter tensor after one forward and backward of the training
/// check's model on its tokens, on `device` against `reference`. A kernel wrong in one
/// gradient shows here by name, where the loss would show it only steps later, if at all.
pub fn gradients<R: Backend<F = f32>, D: Backend<F = f32>>(
    reference: R,
    device: D,
) -> Result<Vec<GradientCheck>> {
    let cfg = GptConfig::preset("tiny", 500)?;
    let (batch, seq) = (2, 64);
    let tokens = random_tokens(batch * (seq + 1), cfg.vocab_size, 11);
    let (layout, r) = one_backward(
        model(reference, &cfg, 5, ModelShard::SINGLE)?,
        &tokens,
        (batch, seq),
    )?;
    let (_, d) = one_backward(
        model(device, &cfg, 5, ModelShard::SINGLE)?,
        &tokens,
        (batch, seq),
    )?;
    let pairs: Vec<(String, Vec<f32>, Vec<f32>)> = layout
        .tensors
        .iter()
        .map(|t| (t.name.clone(), r[t.range()].to_vec(), d[t.range()].to_vec()))
        .collect();
    Ok(compare_tensors(&pairs))
}

/// Each (tensor, reference gradient, device gradient) against [`GRADIENT`]; the `abs` part is
/// of the tensor's largest reference magnitude, at least 1% of the largest of them all.
fn compare_tensors(pairs: &[(String, Vec<f32>, Vec<f32>)]) -> Vec<GradientCheck> {
    let largest = |v: &[f32]| v.iter().fold(0f64, |m, &x| m.max(f64::from(x).abs()));
    let global = pairs.iter().map(|p| largest(&p.1)).fold(0f64, f64::max);
    pairs
        .iter()
        .map(|(tensor, r, d)| {
            let scale = largest(r).max(1e-2 * global).max(1e-30);
            let (mut worst, mut max_abs_diff) = (0f64, 0f64);
            for (&x, &y) in r.iter().zip(d) {
                let diff = (f64::from(x) - f64::from(y)).abs();
                let bound = GRADIENT.rel * f64::from(x).abs() + GRADIENT.abs * scale;
                worst = worst.max(if diff.is_nan() {
                    f64::INFINITY
                } else {
                    diff / bound
                });
                max_abs_diff = max_abs_diff.max(diff);
            }
            GradientCheck {
                tensor: tensor.clone(),
                elements: r.len(),
                worst,
                max_abs_diff,
            }
        })
        .collect()
}

/// One forward and backward of `m` on a micro-batch cut from `tokens`: the layout and the
/// gradient, on the host.
fn one_backward<B: Backend<F = f32>>(
    mut m: Gpt<B>,
    tokens: &[u32],
    (batch, seq): (usize, usize),
) -> Result<(crate::model::Layout, Vec<f32>)> {
    let mut s = Steps::new(&m, tokens, batch, seq, Optimizer::Backend);
    let n = s.acts.tokens.len();
    m.zero_grads();
    m.forward(&mut s.acts, &s.solo)?;
    m.backward(&s.acts, 1.0 / n as f32, None, &s.solo, true, None)?;
    m.backend.synchronize()?;
    let be = &m.backend;
    Ok((
        m.layout.clone(),
        be.to_host(be.whole(&m.grads), m.layout.len),
    ))
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
    let mut m = model(backend, &cfg, 1, ModelShard::SINGLE)?;
    let tokens = random_tokens(batch * (seq + 1), cfg.vocab_size, 3);
    let mut steps_of = Steps::new(&m, &tokens, batch, seq, Optimizer::Backend);
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

/// About how many bytes a training step of `cfg` at `batch × seq` holds at its peak: the
/// parameters' copies (bf16 weights, fp32 master, gradient and AdamW's two moments on a GPU;
/// five f32 copies on the CPU), each layer's kept activations (`16·sbh + a·s²·b` elements in
/// 16 bits, plus four fp32 row statistics; see the activation-memory benchmark) and the
/// classifier's logits, probabilities and their gradient (8 bytes a logit). GPT-2 124M at
/// 16 × 1024 tokens comes to about 18 GB, the 1.3B shape at 4 × 2048 to about 53 GB.
pub fn step_bytes(cfg: &GptConfig, batch: usize, seq: usize, gpu: bool) -> u64 {
    let (b, s, h, a) = (
        batch as u64,
        seq as u64,
        cfg.hidden as u64,
        cfg.heads as u64,
    );
    let (param_bytes, act_bytes, stat_bytes, logit_bytes) = match gpu {
        true => (18, 2, 4, 8),
        false => (20, 4, 4, 12),
    };
    let layer = act_bytes * (16 * s * b * h + a * s * s * b) + stat_bytes * 4 * s * b;
    let logits = logit_bytes * b * s * cfg.padded_vocab() as u64;
    param_bytes * cfg.parameters() + cfg.layers as u64 * layer + logits
}

/// The selftest's default throughput shapes.
pub const DEFAULT_SHAPES: [(&str, usize, usize); 2] =
    [("gpt2-124m", 8, 1024), ("gpt-1.3b", 4, 2048)];

/// A throughput run to make (preset, batch, sequence), or why it is skipped.
pub type PlannedRun = std::result::Result<(String, usize, usize), String>;

/// Each default shape at the largest batch (halving from its own) whose step fits in 85% of
/// `free` bytes, or why it is skipped.
pub fn shapes_for(free: u64, gpu: bool) -> Result<Vec<PlannedRun>> {
    let budget = free / 100 * 85;
    let mut runs = Vec::new();
    for (preset, batch, seq) in DEFAULT_SHAPES {
        let mut cfg = GptConfig::preset(preset, 50_257)?;
        cfg.max_seq = cfg.max_seq.max(seq);
        let mut b = batch;
        while b > 1 && step_bytes(&cfg, b, seq, gpu) > budget {
            b /= 2;
        }
        let need = step_bytes(&cfg, b, seq, gpu);
        runs.push(match need <= budget {
            true => Ok((preset.to_string(), b, seq)),
            false => Err(format!(
                "{preset}: skipped: 1 × {seq} tokens needs about {:.1} GiB, {:.1} GiB is free",
                need as f64 / (1u64 << 30) as f64,
                free as f64 / (1u64 << 30) as f64
            )),
        });
    }
    Ok(runs)
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
