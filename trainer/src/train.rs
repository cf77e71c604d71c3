//! One rank's training loop: fetch its share of the global batch, forward and backward each
//! micro-batch, reduce gradients over the data-parallel group, clip by the global norm, and
//! step AdamW on the schedule. The data position is the number of samples consumed, so a run
//! resumed from a checkpoint continues with exactly the samples it would have seen.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::backend::Cpu;
use crate::data::SampleSource;
use crate::dist::{Comm, ReduceOp, Solo};
use crate::model::init::init_params;
use crate::model::{Activations, Gpt, GptConfig, ModelShard, Precision};
use crate::optim::{AdamConfig, AdamState, BatchSchedule, LrSchedule};

/// Everything that decides the run's numbers; stored in every checkpoint, and a resumed run
/// must agree with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub model: GptConfig,
    pub seq: usize,
    pub micro_batch: usize,
    pub batch: BatchSchedule,
    pub lr: LrSchedule,
    pub adam: AdamConfig,
    /// Clip the global gradient norm to this (0: no clipping).
    pub clip_grad: f64,
    pub init_std: f64,
    pub seed: u64,
    pub train_iters: u64,
    pub eval_interval: u64,
    pub eval_iters: u64,
    pub precision: Precision,
    pub tp: usize,
    pub pp: usize,
    pub dp: usize,
}

impl TrainConfig {
    /// Samples the train split must hold (Megatron: train_iters × global batch, or the
    /// ramp-up's sum).
    pub fn train_samples(&self) -> u64 {
        self.batch.samples_for(self.train_iters)
    }

    /// Samples the valid split must hold: Megatron's `(train_iters // eval_interval + 1) ×
    /// eval_iters × global batch`.
    pub fn valid_samples(&self) -> u64 {
        if self.eval_interval == 0 || self.eval_iters == 0 {
            return 0;
        }
        (self.train_iters / self.eval_interval + 1) * self.eval_iters * self.batch.global
    }
}

/// The process groups of one rank.
pub struct Groups {
    pub tp: Box<dyn Comm<f32>>,
    pub pp: Box<dyn Comm<f32>>,
    pub dp: Box<dyn Comm<f32>>,
}

impl Groups {
    pub fn single() -> Groups {
        Groups {
            tp: Box::new(Solo),
            pp: Box::new(Solo),
            dp: Box::new(Solo),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepStats {
    pub step: u64,
    pub loss: f64,
    pub lr: f64,
    pub grad_norm: f64,
    pub batch: u64,
    pub tokens: u64,
    pub seconds: f64,
}

pub struct Trainer {
    pub cfg: TrainConfig,
    pub model: Gpt<Cpu<f32>>,
    pub adam: AdamState<f32>,
    decay: Vec<bool>,
    /// Optimiser steps taken.
    pub step: u64,
    /// Train samples consumed (the data cursor).
    pub consumed: u64,
    pub groups: Groups,
}

impl Trainer {
    /// A fresh model for rank position `shard`, initialised from the seed.
    pub fn new(cfg: TrainConfig, shard: ModelShard, groups: Groups) -> Result<Trainer> {
        if cfg.seq == 0 || cfg.seq > cfg.model.max_seq {
            bail!(
                "sequence length {} must be between 1 and the model's {} positions",
                cfg.seq,
                cfg.model.max_seq
            );
        }
        if cfg.tp != shard.tp || cfg.pp != shard.pp {
            bail!(
                "rank layout {shard:?} does not match tp {} pp {}",
                cfg.tp,
                cfg.pp
            );
        }
        if cfg.pp != 1 {
            bail!("pipeline parallelism is not available in this build yet (use --pp 1)");
        }
        let mut model = Gpt::new(cfg.model.clone(), shard, Cpu::new(), cfg.precision)?;
        let layout = model.layout.clone();
        init_params(
            &mut model.params,
            &layout,
            shard,
            cfg.model.layers,
            cfg.seed,
            cfg.init_std,
        );
        model.params_changed();
        let mut decay = vec![false; layout.len];
        for t in &layout.tensors {
            decay[t.range()].fill(t.decay);
        }
        let adam = AdamState::new(layout.len);
        Ok(Trainer {
            cfg,
            model,
            adam,
            decay,
            step: 0,
            consumed: 0,
            groups,
        })
    }

    fn micro_batches(&self, global: u64) -> u64 {
        global / (self.cfg.micro_batch as u64 * self.cfg.dp as u64)
    }

    /// Megatron's pretraining sampler: each micro-step takes `micro × dp` consecutive samples
    /// and data-parallel rank d takes the d-th `micro` of them.
    fn fill(&self, data: &SampleSource, first: u64, acts: &mut Activations<f32>) -> Result<()> {
        let seq = self.cfg.seq;
        acts.tokens.clear();
        acts.targets.clear();
        let mut buf = Vec::with_capacity(seq + 1);
        for s in 0..self.cfg.micro_batch as u64 {
            buf.clear();
            let k = first + s;
            if k >= data.len() {
                bail!(
                    "sample {k} asked of a split built with {} samples",
                    data.len()
                );
            }
            data.sample(k, &mut buf)?;
            acts.tokens.extend_from_slice(&buf[..seq]);
            acts.targets.extend_from_slice(&buf[1..=seq]);
        }
        Ok(())
    }

    /// Forward and backward over one global batch starting at sample `start`; gradients summed
    /// into `model.grads` scaled by 1 / (global tokens). Returns the mean loss.
    fn accumulate(
        &mut self,
        data: &SampleSource,
        start: u64,
        global: u64,
        backward: bool,
    ) -> Result<f64> {
        let mb = self.cfg.micro_batch as u64;
        let dp = self.cfg.dp as u64;
        let dp_rank = self.groups.dp.rank() as u64;
        let tokens = (global * self.cfg.seq as u64) as f64;
        let scale = (1.0 / tokens) as f32;
        let mut loss = 0.0;
        for u in 0..self.micro_batches(global) {
            let first = start + u * mb * dp + dp_rank * mb;
            let mut acts = Activations::new(self.cfg.micro_batch, self.cfg.seq);
            self.fill(data, first, &mut acts)?;
            let tp = self.groups.tp.as_ref();
            loss += self.model.forward(&mut acts, tp)?.unwrap_or(0.0);
            if backward {
                self.model.backward(&acts, scale, None, tp)?;
            }
        }
        let mut l = [loss as f32];
        self.groups.dp.all_reduce(&mut l, ReduceOp::Sum)?;
        Ok(l[0] as f64 / tokens)
    }

    /// One optimiser step on the next global batch of `data`.
    pub fn train_step(&mut self, data: &SampleSource) -> Result<StepStats> {
        let started = std::time::Instant::now();
        let global = self.cfg.batch.at(self.consumed);
        self.model.zero_grads();
        let loss = self.accumulate(data, self.consumed, global, true)?;
        self.groups
            .dp
            .all_reduce(&mut self.model.grads, ReduceOp::Sum)?;
        let grad_norm = self.global_grad_norm()?;
        if self.cfg.clip_grad > 0.0 && grad_norm > self.cfg.clip_grad {
            let coef = (self.cfg.clip_grad / (grad_norm + 1e-6)) as f32;
            self.model.grads.iter_mut().for_each(|g| *g *= coef);
        }
        self.step += 1;
        let lr = self.cfg.lr.at(self.step);
        self.adam.step(
            &self.cfg.adam,
            &mut self.model.params,
            &self.model.grads,
            &self.decay,
            lr,
            self.step,
        );
        self.model.params_changed();
        self.consumed += global;
        Ok(StepStats {
            step: self.step,
            loss,
            lr,
            grad_norm,
            batch: global,
            tokens: global * self.cfg.seq as u64,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// The L2 norm of the whole model's gradient, computed in f64: tensor-parallel replicas
    /// are counted once (only TP rank 0 adds replicated tensors), then summed over the TP and
    /// pipeline groups.
    pub fn global_grad_norm(&self) -> Result<f64> {
        let tp_rank = self.groups.tp.rank();
        let mut sq = 0.0f64;
        for t in &self.model.layout.tensors {
            if t.split == crate::model::Split::Replicated && tp_rank != 0 {
                continue;
            }
            sq += self.model.grads[t.range()]
                .iter()
                .map(|&g| (g as f64) * (g as f64))
                .sum::<f64>();
        }
        let mut s = [sq as f32];
        if self.groups.tp.size() > 1 || self.groups.pp.size() > 1 {
            self.groups.tp.all_reduce(&mut s, ReduceOp::Sum)?;
            self.groups.pp.all_reduce(&mut s, ReduceOp::Sum)?;
            return Ok((s[0] as f64).sqrt());
        }
        Ok(sq.sqrt())
    }

    /// Mean loss over the first `eval_iters` global batches of `data` (the same samples at
    /// every evaluation, so the curve compares like with like).
    pub fn evaluate(&mut self, data: &SampleSource) -> Result<f64> {
        let global = self.cfg.batch.global;
        let mut total = 0.0;
        for i in 0..self.cfg.eval_iters {
            total += self.accumulate(data, i * global, global, false)?;
        }
        Ok(total / self.cfg.eval_iters.max(1) as f64)
    }
}
