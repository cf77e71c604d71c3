//! `sieve-train eval`: a checkpoint's loss on the valid or test split of a blend, on one rank.
//! The split's samples are built as training builds them (Megatron's sizes: the valid split
//! for `train_iters / eval_interval + 1` evaluations, the test split for one), and the
//! evaluation covers their first `--eval-iters` global batches: the batches a training run's
//! first evaluation sees, the same for every checkpoint of a run.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::backend::Cpu;
use crate::ckpt;
use crate::data::{BlendDir, SampleSource, Split};
use crate::model::ModelShard;
use crate::train::{Groups, Trainer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EvalSplit {
    Valid,
    Test,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// A checkpoint (iteration directory or save directory).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The `sieve blend` output the checkpoint was trained on (its data digest is checked).
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, value_enum, default_value = "valid")]
    pub split: EvalSplit,
    /// Global batches to evaluate (default: the run's --eval-iters).
    #[arg(long)]
    pub eval_iters: Option<u64>,
    #[arg(short = 'j', long)]
    pub threads: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct EvalReport {
    pub split: String,
    pub step: u64,
    pub samples: u64,
    pub tokens: u64,
    pub loss: f64,
    pub perplexity: f64,
}

pub fn run(args: &EvalArgs) -> Result<EvalReport> {
    let (config, tensors) = ckpt::consolidate(&args.checkpoint)?;
    let (_, _, state) = ckpt::open(&args.checkpoint)?;
    let blend = BlendDir::open(&args.data, false)?;
    if let Some(want) = &config.data_sha256 {
        if &blend.manifest.config_sha256 != want {
            bail!(
                "{}: not the data {} was trained on (config sha256 {}, the checkpoint's {want})",
                args.data.display(),
                args.checkpoint.display(),
                blend.manifest.config_sha256
            );
        }
    }
    // One rank holds the whole model.
    let mut cfg = config.train.clone();
    let eval_iters = args.eval_iters.unwrap_or(cfg.eval_iters);
    if eval_iters == 0 {
        bail!("nothing to evaluate: --eval-iters is 0 (give --eval-iters N)");
    }
    (cfg.tp, cfg.pp, cfg.dp, cfg.zero1) = (1, 1, 1, false);
    (cfg.virtual_stages, cfg.sequence_parallel) = (1, false);
    let global = cfg.batch.global;
    let (split, n) = match args.split {
        EvalSplit::Valid => (Split::Valid, cfg.valid_samples().max(eval_iters * global)),
        EvalSplit::Test => (Split::Test, eval_iters * global),
    };
    cfg.eval_iters = eval_iters;
    let seed = u32::try_from(cfg.seed).context("the run's seed is not below 2^32")?;
    let data = SampleSource::blended(&blend, split, n, cfg.seq, seed)
        .with_context(|| format!("the {:?} split of {}", args.split, args.data.display()))?;
    let mut trainer: Trainer<Cpu<f32>> =
        Trainer::new(cfg.clone(), ModelShard::SINGLE, Groups::single())?;
    for t in tensors {
        let range = trainer.model.layout.get(&t.name).range();
        trainer.model.params[range].copy_from_slice(&t.data);
    }
    trainer.model.params_changed();
    let loss = trainer.evaluate(&data, false)?;
    Ok(EvalReport {
        split: format!("{:?}", args.split).to_lowercase(),
        step: state.step,
        samples: eval_iters * global,
        tokens: eval_iters * global * cfg.seq as u64,
        loss,
        perplexity: loss.exp(),
    })
}
