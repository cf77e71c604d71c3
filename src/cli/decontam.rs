//! `sieve decontam`: remove downstream-task n-grams (Megatron's algorithm), both passes at
//! once or one pass at a time (`count` and `strip` with `--shard I/N`, `merge` once).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};

use super::Outcome;
use crate::decontam::ngrams::NgramIndex;
use crate::decontam::options::DecontamOptions;
use crate::decontam::passes::{count_step, merge_step, strip_index, DecontamConfig};
use crate::decontam::summary::{print_summary, summarize};
use crate::pipeline::command::{execute, shard_jobs, RunArgs, TaskArgs};
use crate::pipeline::runner::Job;
use crate::stages::decontam::strip_factory;

#[derive(Debug, Args)]
#[command(subcommand_negates_reqs = true)]
pub struct DecontamArgs {
    #[command(subcommand)]
    pub pass: Option<DecontamPass>,
    /// Input document shards.
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// Work directory for counts; default: OUT/decontam-work.
    #[arg(long, value_name = "DIR")]
    pub work: Option<PathBuf>,
    #[command(flatten)]
    pub settings: DecontamSettings,
    /// Optional only so that the pass subcommands parse; required without one.
    #[command(flatten)]
    pub run: Option<RunArgs>,
}

#[derive(Debug, Subcommand)]
pub enum DecontamPass {
    /// Pass 1 (map): document frequencies of task n-grams in each input shard.
    Count(CountArgs),
    /// Pass 1 (reduce): sum the counts; n-grams in ≥ threshold documents leave the index.
    Merge(MergeArgs),
    /// Pass 2 (map): cut the remaining task n-grams out of the documents.
    Strip(StripArgs),
}

/// The tasks and rules of a decontamination; stored in WORK/config.json by `count`.
#[derive(Debug, Clone, Args)]
pub struct DecontamSettings {
    /// A task: NAME=FILE[:FIELD[,FIELD...]] (JSON lines; FIELD dotted, `a+b` joins fields;
    /// default field `text`). Repeat for more tasks or files. (A spec names a task set.)
    #[arg(long = "task", value_name = "NAME=FILE[:FIELDS]")]
    pub task: Vec<String>,
    #[command(flatten)]
    pub options: DecontamOptions,
}

impl DecontamSettings {
    pub fn config(&self) -> Result<DecontamConfig> {
        self.options.config(&self.task)
    }
}

#[derive(Debug, Args)]
pub struct CountArgs {
    #[arg(required = true)]
    pub inputs: Vec<String>,
    #[arg(long, value_name = "DIR")]
    pub work: PathBuf,
    #[command(flatten)]
    pub settings: DecontamSettings,
    #[command(flatten)]
    pub task: TaskArgs,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    #[arg(long, value_name = "DIR")]
    pub work: PathBuf,
}

#[derive(Debug, Args)]
pub struct StripArgs {
    #[arg(required = true)]
    pub inputs: Vec<String>,
    #[arg(long, value_name = "DIR")]
    pub work: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Both passes' global part: count all shards, merge; returns the strip index.
pub fn prepare(
    work: &Path,
    cfg: &DecontamConfig,
    jobs: &[Job],
    threads: usize,
    quiet: bool,
) -> Result<Arc<NgramIndex>> {
    count_step(work, cfg, jobs, jobs, threads, quiet)?;
    merge_step(work, quiet)?;
    strip_index(work)
}

pub fn run(a: DecontamArgs) -> Result<Outcome> {
    match a.pass {
        None => {
            let Some(run) = a.run else {
                bail!("`sieve decontam` needs --output DIR (or a pass: count, merge, strip)");
            };
            if run.shard.is_some() {
                bail!("`sieve decontam` runs both passes on one box; for task arrays run `count`, `merge` and `strip`");
            }
            let cfg = a.settings.config()?;
            let work = a.work.unwrap_or_else(|| run.output.join("decontam-work"));
            let jobs = shard_jobs(&a.inputs, &run)?;
            let index = prepare(&work, &cfg, &jobs, run.threads(), run.quiet)?;
            let outcome = execute("decontam", jobs, strip_factory(index, &cfg), &run)?;
            let s = summarize(&run.output)?;
            if !run.quiet {
                print_summary(&s, &run.output);
            }
            Ok(outcome)
        }
        Some(DecontamPass::Count(c)) => {
            let cfg = c.settings.config()?;
            let (all, mine) = c.task.jobs(&c.inputs, &c.work)?;
            count_step(&c.work, &cfg, &all, &mine, c.task.threads(), false)?;
            Ok(Outcome::Ok)
        }
        Some(DecontamPass::Merge(m)) => {
            merge_step(&m.work, false)?;
            Ok(Outcome::Ok)
        }
        Some(DecontamPass::Strip(s)) => {
            let cfg = DecontamConfig::load(&s.work)?;
            let index = strip_index(&s.work)?;
            let jobs = s.run.select(shard_jobs(&s.inputs, &s.run)?)?;
            let outcome = execute("decontam strip", jobs, strip_factory(index, &cfg), &s.run)?;
            let sum = summarize(&s.run.output)?;
            if !s.run.quiet {
                print_summary(&sum, &s.run.output);
            }
            Ok(outcome)
        }
    }
}
