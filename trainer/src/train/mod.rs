//! One rank's training loop: fetch its share of the global batch, forward and backward each
//! micro-batch, reduce gradients over the data-parallel group, clip by the global norm, and
//! step AdamW on the schedule. The data position is the number of samples consumed, so a run
//! resumed from a checkpoint continues with exactly the samples it would have seen.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::backend::{Backend, BackendExt, Cpu, Float, Role};
use crate::data::SampleSource;
use crate::dist::{ReduceOp, Solo};
use crate::model::init::init_params;
use crate::model::{Activations, Gpt, GptConfig, GradsReady, ModelShard, Precision};
use crate::optim::{AdamConfig, AdamState, AdamStep, BatchSchedule, LrSchedule};
use crate::parallel::pipeline::{self, MicroBatches};
use crate::parallel::schedule;

pub mod run;
pub mod stop;

/// Megatron's default data-parallel bucket size (elements).
pub const BUCKET_ELEMENTS: usize = 40_000_000;

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
    /// ZeRO-1: gradients reduce-scattered, AdamW state and update sharded over the
    /// data-parallel group, parameters all-gathered.
    #[serde(default)]
    pub zero1: bool,
    /// Gradient bucket size in elements (None: Megatron's max(40M, 1M·dp)).
    #[serde(default)]
    pub bucket_elements: Option<usize>,
    /// Activations backward recomputes instead of keeping (Megatron's
    /// `--recompute-granularity`); the results are bitwise the same.
    #[serde(default)]
    pub recompute: crate::model::Recompute,
    /// Megatron's sequence parallelism over the tensor-parallel group (see
    /// [`crate::model::Gpt::sequence_parallel`]).
    #[serde(default)]
    pub sequence_parallel: bool,
    /// Model chunks per pipeline stage (Megatron's virtual pipeline stages): more than one
    /// runs the interleaved 1F1B schedule.
    #[serde(default = "one")]
    pub virtual_stages: usize,
}

fn one() -> usize {
    1
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

/// The process groups of one rank, as the backend's communicators.
pub struct Groups<B: Backend = Cpu<f32>> {
    pub tp: Box<B::Group>,
    pub pp: Box<B::Group>,
    pub dp: Box<B::Group>,
}

impl<F: Float> Groups<Cpu<F>> {
    pub fn single() -> Groups<Cpu<F>> {
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

/// One rank's trainer on backend `B`: the CPU in f32 for CPU runs, in f64
/// (`Trainer<Cpu<f64>>`) for equivalence tests, where summation order no longer shows
/// through Adam's normalisation.
pub struct Trainer<B: Backend = Cpu<f32>> {
    pub cfg: TrainConfig,
    pub model: Gpt<B>,
    pub adam: AdamState<B::Buf>,
    /// 1 where a parameter is decayed, else 0.
    decay: B::Buf,
    /// 1 where an element counts towards the global gradient norm (tensor-parallel replicas
    /// and the last stage's copy of the tied embedding are counted once, elsewhere), else 0.
    counted: B::Buf,
    /// Optimiser steps taken.
    pub step: u64,
    /// Train samples consumed (the data cursor).
    pub consumed: u64,
    /// Validation samples consumed: each evaluation takes the next `eval_iters` global
    /// batches, as Megatron's validation iterator walks on.
    pub consumed_valid: u64,
    pub groups: Groups<B>,
    /// Activation buffers kept between micro-batches and steps.
    pool: Vec<Activations<B>>,
}

impl<B: Backend + Default> Trainer<B> {
    /// A fresh model for rank position `shard` on a default-constructed backend.
    pub fn new(cfg: TrainConfig, shard: ModelShard, groups: Groups<B>) -> Result<Trainer<B>> {
        Self::on(B::default(), cfg, shard, groups)
    }
}

impl<B: Backend> Trainer<B> {
    /// A fresh model for rank position `shard` on `backend`, initialised from the seed.
    pub fn on(
        backend: B,
        cfg: TrainConfig,
        shard: ModelShard,
        groups: Groups<B>,
    ) -> Result<Trainer<B>> {
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
        if cfg.virtual_stages > 1 {
            if cfg.pp < 2 {
                bail!("virtual pipeline stages need pipeline parallelism (--pp 2 or more)");
            }
            // Every global batch (each size of a ramp-up too) in whole groups of the stages.
            let per_step = (cfg.micro_batch * cfg.dp) as u64;
            let sizes = cfg.batch.sizes();
            if let Some(g) = sizes
                .iter()
                .find(|&&g| !(g / per_step).is_multiple_of(cfg.pp as u64))
            {
                bail!(
                    "the interleaved schedule needs the micro-batches of a step ({}, of a \
                     global batch of {g}) to be a multiple of --pp {}",
                    g / per_step,
                    cfg.pp
                );
            }
        }
        let shard = ModelShard {
            chunks: cfg.virtual_stages,
            ..shard
        };
        if cfg.micro_batch == 0 {
            bail!("micro-batch size is zero");
        }
        cfg.lr.check()?;
        if cfg.sequence_parallel && !cfg.seq.is_multiple_of(cfg.tp) {
            bail!(
                "sequence parallelism needs the sequence length {} divisible by --tp {}",
                cfg.seq,
                cfg.tp
            );
        }
        let mut model = Gpt::new(cfg.model.clone(), shard, backend, cfg.precision)?;
        model.recompute = cfg.recompute;
        model.sequence_parallel = cfg.sequence_parallel;
        let layout = model.layout.clone();
        let be = &model.backend;
        // Initialised on the host from the seed (the same numbers on every backend).
        let mut init = vec![B::F::ZERO; layout.len];
        init_params(
            &mut init,
            &layout,
            shard,
            cfg.model.layers,
            cfg.seed,
            cfg.init_std,
        );
        be.upload(be.whole_mut(&mut model.params), &init);
        let decay: Vec<B::F> = layout.mask(|t| t.decay);
        let counted: Vec<B::F> = layout.mask(|t| {
            let replica = t.split == crate::model::Split::Replicated && shard.tp_rank != 0;
            let tied_copy = t.name == "wte.weight" && cfg.pp > 1 && !shard.first_stage();
            !(replica || tied_copy)
        });
        let (decay, counted) = (
            be.uploaded(&decay, Role::Stat),
            be.uploaded(&counted, Role::Stat),
        );
        let dp_rank = be.group_rank(&groups.dp);
        let dp_size = be.group_size(&groups.dp);
        if dp_size != cfg.dp {
            bail!(
                "data-parallel group of {dp_size} ranks, configuration says {}",
                cfg.dp
            );
        }
        let state_len = if cfg.zero1 {
            zero_shard(layout.len, cfg.dp, dp_rank).len()
        } else {
            layout.len
        };
        let adam = AdamState::new(be, state_len);
        model.params_changed();
        Ok(Trainer {
            cfg,
            model,
            adam,
            decay,
            counted,
            step: 0,
            consumed: 0,
            consumed_valid: 0,
            groups,
            pool: Vec::new(),
        })
    }

    fn micro_batches(&self, global: u64) -> u64 {
        global / (self.cfg.micro_batch as u64 * self.cfg.dp as u64)
    }

    /// Forward and backward over one global batch starting at sample `start`; gradients summed
    /// into `model.grads` scaled by 1 / (global tokens). Returns this data-parallel replica's
    /// loss sum, summed over the pipeline: [`Trainer::mean_loss`] finishes it.
    fn accumulate(
        &mut self,
        data: &SampleSource,
        start: u64,
        global: u64,
        backward: bool,
        plan: Option<&mut BucketPlan>,
    ) -> Result<B::Buf> {
        let tokens = (global * self.cfg.seq as u64) as f64;
        let scale = B::F::from_f64(1.0 / tokens);
        let m = self.micro_batches(global) as usize;
        let batches = Sampler {
            data,
            start,
            micro: self.cfg.micro_batch as u64,
            dp: self.cfg.dp as u64,
            dp_rank: self.dp_rank() as u64,
            seq: self.cfg.seq,
            first_stage: self.model.shard.first_stage(),
            last_stage: self.model.shard.last_stage(),
        };
        let mut reducer = plan.map(|plan| BucketReducer {
            plan,
            group: &*self.groups.dp,
        });
        let (pp, stage) = (self.cfg.pp, self.model.shard.pp_rank);
        let ops = match self.cfg.virtual_stages {
            1 => schedule::one_f_one_b(pp, stage, m),
            v => schedule::interleaved(pp, stage, v, m)?,
        };
        let ops = match backward {
            true => ops,
            false => schedule::forward_only(ops),
        };
        let loss = pipeline::run_stage(
            &mut self.model,
            &ops,
            &batches,
            (self.cfg.micro_batch, self.cfg.seq),
            scale,
            (self.groups.tp.as_ref(), self.groups.pp.as_ref()),
            &mut self.pool,
            reducer.as_mut().map(|r| r as &mut dyn GradsReady<B>),
        )?;
        let be = &self.model.backend;
        let mut l = be.uploaded(&[B::F::from_f64(loss)], Role::Stat);
        be.all_reduce(&self.groups.pp, be.whole_mut(&mut l), ReduceOp::Sum)?;
        Ok(l)
    }

    /// The mean loss of a global batch (on every rank) from [`Trainer::accumulate`]'s sum:
    /// summed over the data-parallel group, which in training happens once its gradient
    /// buckets are done (NCCL runs collectives on one communicator in issue order, so a loss
    /// all-reduce issued among the buckets would wait for them anyway, or overtake them).
    fn mean_loss(&self, mut l: B::Buf, global: u64) -> Result<f64> {
        let be = &self.model.backend;
        be.all_reduce(&self.groups.dp, be.whole_mut(&mut l), ReduceOp::Sum)?;
        let tokens = (global * self.cfg.seq as u64) as f64;
        Ok(be.to_host(be.whole(&l), 1)[0].to_f64() / tokens)
    }

    fn dp_rank(&self) -> usize {
        self.model.backend.group_rank(&self.groups.dp)
    }

    /// With more than one stage, the first and the last stage each hold the tied embedding;
    /// both add the other's gradient (addition commutes exactly, so the copies stay bitwise
    /// equal).
    fn sync_tied_embedding(&mut self) -> Result<()> {
        let pp = self.cfg.pp;
        let shard = self.model.shard;
        if pp == 1 || !(shard.first_stage() || shard.last_stage()) {
            return Ok(());
        }
        let r = self.model.layout.get("wte.weight").range();
        let be = &self.model.backend;
        let mut other = be.zeros(r.len(), Role::Grad);
        let peer = if shard.first_stage() { pp - 1 } else { 0 };
        // Both ends send at once: one group, or NCCL's sends would wait for each other.
        be.p2p_group_start(&self.groups.pp);
        be.send(&self.groups.pp, peer, be.view(&self.model.grads, r.clone()))?;
        be.recv(&self.groups.pp, peer, be.whole_mut(&mut other))?;
        be.p2p_group_end(&self.groups.pp)?;
        be.accumulate(be.view_mut(&mut self.model.grads, r), be.whole(&other));
        Ok(())
    }

    /// One optimiser step on the next global batch of `data`.
    pub fn train_step(&mut self, data: &SampleSource) -> Result<StepStats> {
        let started = std::time::Instant::now();
        let global = self.cfg.batch.at(self.consumed);
        self.model.zero_grads();
        let mut plan = self.bucket_plan();
        let loss_sum = self.accumulate(data, self.consumed, global, true, plan.as_mut())?;
        self.sync_tied_embedding()?;
        let n = self.model.layout.len;
        let (dp, dp_rank) = (self.cfg.dp, self.dp_rank());
        let mine = if self.cfg.zero1 {
            // Each rank receives the sum of its own shard only.
            let r = zero_shard(n, dp, dp_rank);
            let per = n.div_ceil(dp);
            let be = &self.model.backend;
            let mut padded = be.zeros(per * dp, Role::Grad);
            be.copy(be.view_mut(&mut padded, 0..n), be.whole(&self.model.grads));
            let mut shard = be.zeros(per, Role::Grad);
            be.reduce_scatter(&self.groups.dp, be.whole(&padded), be.whole_mut(&mut shard))?;
            be.copy(
                be.view_mut(&mut self.model.grads, r.clone()),
                be.view(&shard, 0..r.len()),
            );
            r
        } else {
            self.finish_buckets(plan)?;
            0..n
        };
        // The loss goes over the data-parallel group after the gradients have.
        let loss = self.mean_loss(loss_sum, global)?;
        let grad_norm = self.global_grad_norm()?;
        let be = &self.model.backend;
        if self.cfg.clip_grad > 0.0 && grad_norm > self.cfg.clip_grad {
            let coef = B::F::from_f64(self.cfg.clip_grad / (grad_norm + 1e-6));
            be.scale(be.view_mut(&mut self.model.grads, mine.clone()), coef);
        }
        self.step += 1;
        let lr = self.cfg.lr.at(self.consumed, self.cfg.batch.global);
        // Under ZeRO-1 the state covers this rank's shard only; else all of the parameters.
        let local = 0..mine.len();
        be.adamw_step(
            be.view_mut(&mut self.model.params, mine.clone()),
            be.view(&self.model.grads, mine.clone()),
            be.view_mut(&mut self.adam.m, local.clone()),
            be.view_mut(&mut self.adam.v, local),
            be.view(&self.decay, mine.clone()),
            &AdamStep::new(&self.cfg.adam, lr, self.step),
        );
        if self.cfg.zero1 {
            let per = n.div_ceil(dp);
            let mut padded = be.zeros(per, Role::Master);
            be.copy(
                be.view_mut(&mut padded, 0..mine.len()),
                be.view(&self.model.params, mine),
            );
            let mut all = be.zeros(per * dp, Role::Master);
            be.all_gather(&self.groups.dp, be.whole(&padded), be.whole_mut(&mut all))?;
            be.copy(be.whole_mut(&mut self.model.params), be.view(&all, 0..n));
        }
        self.model.params_changed();
        self.model.backend.synchronize()?;
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

    /// Megatron's bucketed gradient reduction: the gradient buffer in buckets of
    /// `max(40M, 1M·dp)` elements from its end (the order backward produces gradients, last
    /// layer first), one all-reduce each, started during the step's last backward as soon as
    /// a bucket's gradients are final (on a GPU they overlap the rest of the backward). None
    /// without data parallelism, or with ZeRO-1 (which reduce-scatters instead).
    fn bucket_plan(&self) -> Option<BucketPlan> {
        if self.cfg.dp == 1 || self.cfg.zero1 {
            return None;
        }
        let bucket = self
            .cfg
            .bucket_elements
            .unwrap_or(BUCKET_ELEMENTS.max(1_000_000 * self.cfg.dp))
            .max(1);
        let mut buckets = Vec::new();
        let mut end = self.model.layout.len;
        while end > 0 {
            let start = end.saturating_sub(bucket);
            buckets.push(start..end);
            end = start;
        }
        // The tied embedding's gradient is final only after the two pipeline ends have added
        // each other's (sync_tied_embedding): buckets that hold any of it wait for that.
        let shard = self.model.shard;
        let hold_below = match self.cfg.pp > 1 && (shard.first_stage() || shard.last_stage()) {
            true => self.model.layout.get("wte.weight").range().end,
            false => 0,
        };
        Some(BucketPlan {
            buckets,
            next: 0,
            hold_below,
        })
    }

    /// Reduces the buckets the backward did not start, then waits for all of them.
    fn finish_buckets(&mut self, plan: Option<BucketPlan>) -> Result<()> {
        let Some(mut plan) = plan else {
            return Ok(());
        };
        let be = &self.model.backend;
        let mut reducer = BucketReducer {
            plan: &mut plan,
            group: &*self.groups.dp,
        };
        reducer.reduce_from(be, &mut self.model.grads, 0, true)?;
        be.wait_overlapped(&self.groups.dp)
    }

    /// The L2 norm of the whole model's gradient, in f64. Squares are summed per ZeRO shard
    /// (every shard on every rank without ZeRO, each rank its own with it), the shard sums
    /// added in rank order, then over the tensor- and pipeline-parallel groups; so ZeRO and
    /// plain data parallelism clip by bitwise the same norm.
    pub fn global_grad_norm(&self) -> Result<f64> {
        let n = self.model.layout.len;
        let (dp, dp_rank) = (self.cfg.dp, self.dp_rank());
        let be = &self.model.backend;
        let partial = |d: usize| -> f64 {
            let r = zero_shard(n, dp, d);
            be.sum_squares(
                be.view(&self.model.grads, r.clone()),
                be.view(&self.counted, r),
            )
        };
        let sq = if self.cfg.zero1 {
            sum_over(be, &self.groups.dp, partial(dp_rank))?
        } else {
            (0..dp).map(partial).fold(0.0, |a, b| a + b)
        };
        let sq = sum_over(be, &self.groups.tp, sq)?;
        let sq = sum_over(be, &self.groups.pp, sq)?;
        Ok(sq.sqrt())
    }

    /// Activation buffers this rank has made (all of them back in its pool between steps):
    /// the most micro-batches it held at once.
    pub fn activation_buffers(&self) -> usize {
        self.pool.len()
    }

    /// Mean loss over the next `eval_iters` global batches of `data`, the validation set,
    /// which each evaluation walks on from where the last stopped (Megatron's
    /// `consumed_valid_samples`, saved in checkpoints). `advance` false evaluates the next
    /// batches without consuming them: the baseline at step 0, which Megatron does not run,
    /// so that every later evaluation sees the samples Megatron's would. A walk that would run
    /// past the end of the set (it holds Megatron's `train_iters / eval_interval + 1`
    /// evaluations) starts again from its beginning.
    pub fn evaluate(&mut self, data: &SampleSource, advance: bool) -> Result<f64> {
        let global = self.cfg.batch.global;
        let need = self.cfg.eval_iters * global;
        let start = match self.consumed_valid + need > data.len() {
            true => 0,
            false => self.consumed_valid,
        };
        let mut total = 0.0;
        for i in 0..self.cfg.eval_iters {
            let sum = self.accumulate(data, start + i * global, global, false, None)?;
            total += self.mean_loss(sum, global)?;
        }
        if advance {
            self.consumed_valid = start + need;
        }
        Ok(total / self.cfg.eval_iters.max(1) as f64)
    }
}

/// The data-parallel gradient buckets of one step, from the end of the buffer, and how many
/// have been started.
struct BucketPlan {
    buckets: Vec<std::ops::Range<usize>>,
    next: usize,
    /// Buckets starting below this wait for the tied embedding's sync.
    hold_below: usize,
}

/// Starts each bucket's all-reduce once backward has made its gradients final.
struct BucketReducer<'a, B: Backend> {
    plan: &'a mut BucketPlan,
    group: &'a B::Group,
}

impl<B: Backend> BucketReducer<'_, B> {
    /// Starts every bucket, in order, whose gradients are all at or above `offset` (and, unless
    /// `all`, not held for the tied embedding).
    fn reduce_from(&mut self, be: &B, grads: &mut B::Buf, offset: usize, all: bool) -> Result<()> {
        let plan = &mut *self.plan;
        while let Some(r) = plan.buckets.get(plan.next) {
            if r.start < offset || (!all && r.start < plan.hold_below) {
                break;
            }
            be.all_reduce_overlapped(self.group, be.view_mut(grads, r.clone()), ReduceOp::Sum)?;
            plan.next += 1;
        }
        Ok(())
    }
}

impl<B: Backend> GradsReady<B> for BucketReducer<'_, B> {
    fn ready_from(&mut self, be: &B, grads: &mut B::Buf, offset: usize) -> Result<()> {
        self.reduce_from(be, grads, offset, false)
    }
}

/// Megatron's pretraining sampler: each micro-step takes `micro × dp` consecutive samples and
/// data-parallel rank d takes the d-th `micro` of them. Only the first stage needs the tokens
/// and only the last the targets.
struct Sampler<'a> {
    data: &'a SampleSource,
    start: u64,
    micro: u64,
    dp: u64,
    dp_rank: u64,
    seq: usize,
    first_stage: bool,
    last_stage: bool,
}

impl MicroBatches for Sampler<'_> {
    fn fill(&self, mb: usize, tokens: &mut Vec<u32>, targets: &mut Vec<u32>) -> Result<()> {
        if !(self.first_stage || self.last_stage) {
            return Ok(());
        }
        let first = self.start + mb as u64 * self.micro * self.dp + self.dp_rank * self.micro;
        let seq = self.seq;
        tokens.clear();
        targets.clear();
        let mut buf = Vec::with_capacity(seq + 1);
        for k in first..first + self.micro {
            buf.clear();
            if k >= self.data.len() {
                bail!(
                    "sample {k} asked of a split built with {} samples",
                    self.data.len()
                );
            }
            self.data.sample(k, &mut buf)?;
            tokens.extend_from_slice(&buf[..seq]);
            targets.extend_from_slice(&buf[1..=seq]);
        }
        Ok(())
    }
}

/// The parameter range data-parallel rank `d` of `dp` owns under ZeRO-1 (equal shards of
/// `n.div_ceil(dp)`, the last one shorter).
pub fn zero_shard(n: usize, dp: usize, d: usize) -> std::ops::Range<usize> {
    let per = n.div_ceil(dp);
    (d * per).min(n)..((d + 1) * per).min(n)
}

/// The f64 sum of one value per rank, added in rank order on every rank. Values travel as
/// two elements (the value rounded to F and the remainder), so f32 communicators keep f64
/// precision.
fn sum_over<B: Backend>(be: &B, group: &B::Group, x: f64) -> Result<f64> {
    let hi = B::F::from_f64(x);
    let lo = B::F::from_f64(x - hi.to_f64());
    let size = be.group_size(group);
    let local = be.uploaded(&[hi, lo], Role::Stat);
    let mut all = be.zeros(2 * size, Role::Stat);
    be.all_gather(group, be.whole(&local), be.whole_mut(&mut all))?;
    Ok(be
        .to_host(be.whole(&all), 2 * size)
        .chunks(2)
        .fold(0.0, |acc, p| acc + (p[0].to_f64() + p[1].to_f64())))
}
