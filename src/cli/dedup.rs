//! `sieve dedup`: exact, URL and fuzzy dedup across datasets, all steps at once or one step
//! at a time (each step with `--shard I/N` for Slurm arrays).

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};

use super::Outcome;
use crate::dedup::components::print_report;
use crate::dedup::config::DedupOptions;
use crate::dedup::files::WorkDir;
use crate::dedup::filter::filter_factory;
use crate::dedup::{components, edges, explain, find_duplicates, index_build, lsh, signatures};
use crate::pipeline::command::{execute, shard_jobs, RunArgs, TaskArgs};

#[derive(Debug, Args)]
#[command(subcommand_negates_reqs = true)]
pub struct DedupArgs {
    #[command(subcommand)]
    pub step: Option<DedupStep>,
    /// Input document shards (files, directories, globs).
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// Work directory for the intermediate files; default: OUT/dedup-work.
    #[arg(long, value_name = "DIR")]
    pub work: Option<PathBuf>,
    #[command(flatten)]
    pub options: DedupOptions,
    /// Optional only so that the step subcommands parse; required without one.
    #[command(flatten)]
    pub run: Option<RunArgs>,
}

#[derive(Debug, Subcommand)]
pub enum DedupStep {
    /// Step 1 (map): keys, shingle sets and MinHash signatures of every input shard.
    Signatures(SignaturesArgs),
    /// Step 2 (map): band keys of every signatures shard, partitioned and sorted.
    Lsh(StepArgs),
    /// Step 3 (reduce per band and key range): candidate pairs → verified edges.
    Edges(StepArgs),
    /// Step 4 (one task): connected components, representatives, remove lists, reports.
    Components(WorkArgs),
    /// Step 5 (map): drop the documents the components step listed.
    Filter(FilterArgs),
    /// Why a document was removed (or kept): its representative and its verified edges.
    Explain(ExplainArgs),
    /// Add a finished run's kept documents to a dedup index as a new generation (for later
    /// runs' --against).
    Index(IndexArgs),
}

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// The finished dedup work directory.
    #[arg(long, value_name = "DIR")]
    pub work: PathBuf,
    /// The index directory (created if absent).
    pub index: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long)]
    pub threads: Option<usize>,
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct WorkArgs {
    /// The dedup work directory.
    #[arg(long, value_name = "DIR")]
    pub work: PathBuf,
}

#[derive(Debug, Args)]
pub struct StepArgs {
    #[arg(long, value_name = "DIR")]
    pub work: PathBuf,
    #[command(flatten)]
    pub task: TaskArgs,
}

#[derive(Debug, Args)]
pub struct SignaturesArgs {
    /// Input document shards.
    #[arg(required = true)]
    pub inputs: Vec<String>,
    #[arg(long, value_name = "DIR")]
    pub work: PathBuf,
    #[command(flatten)]
    pub options: DedupOptions,
    #[command(flatten)]
    pub task: TaskArgs,
}

#[derive(Debug, Args)]
pub struct FilterArgs {
    /// The same input shards given to `signatures`.
    #[arg(required = true)]
    pub inputs: Vec<String>,
    #[arg(long, value_name = "DIR")]
    pub work: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[arg(long, value_name = "DIR")]
    pub work: PathBuf,
    /// The document id.
    pub id: String,
}

/// A step whose tasks are partitions of the work directory's files (lsh, edges).
type PartitionedStep = fn(&WorkDir, (usize, usize), usize, bool) -> Result<()>;

fn partitioned(step: PartitionedStep, s: &StepArgs) -> Result<Outcome> {
    step(
        &WorkDir::new(&s.work),
        s.task.part()?,
        s.task.threads(),
        false,
    )?;
    Ok(Outcome::Ok)
}

pub fn run(a: DedupArgs) -> Result<Outcome> {
    match a.step {
        None => {
            let Some(run) = a.run else {
                bail!("`sieve dedup` needs --output DIR (or a step: signatures, lsh, edges, components, filter, explain)");
            };
            if run.shard.is_some() {
                bail!("`sieve dedup` runs every step on one box; for task arrays run the steps (`sieve dedup signatures --shard I/N`, ...)");
            }
            let cfg = a.options.config()?;
            let work = WorkDir::new(&a.work.unwrap_or_else(|| run.output.join("dedup-work")));
            let jobs = shard_jobs(&a.inputs, &run)?;
            let report = find_duplicates(&work, &cfg, &jobs, run.threads(), run.quiet)?;
            if !run.quiet {
                print_report(&report, &work);
            }
            if let Some(index) = &cfg.write_index {
                index_build::build(&work, index, run.threads(), run.quiet)?;
            }
            execute("dedup", jobs, filter_factory(work, None), &run)
        }
        Some(DedupStep::Signatures(s)) => {
            let cfg = s.options.config()?;
            let (all, mine) = s.task.jobs(&s.inputs, &s.work)?;
            signatures::run(
                &WorkDir::new(&s.work),
                &cfg,
                &all,
                &mine,
                s.task.threads(),
                false,
            )?;
            Ok(Outcome::Ok)
        }
        Some(DedupStep::Lsh(s)) => partitioned(lsh::run, &s),
        Some(DedupStep::Edges(s)) => partitioned(edges::run, &s),
        Some(DedupStep::Components(s)) => {
            let work = WorkDir::new(&s.work);
            let report = components::run(&work)?;
            print_report(&report, &work);
            Ok(Outcome::Ok)
        }
        Some(DedupStep::Filter(f)) => {
            let work = WorkDir::new(&f.work);
            let jobs = f.run.select(shard_jobs(&f.inputs, &f.run)?)?;
            execute("dedup filter", jobs, filter_factory(work, None), &f.run)
        }
        Some(DedupStep::Index(i)) => {
            let threads = crate::pipeline::command::thread_count(i.threads);
            index_build::build(&WorkDir::new(&i.work), &i.index, threads, i.quiet)?;
            Ok(Outcome::Ok)
        }
        Some(DedupStep::Explain(e)) => {
            let x = explain::explain(&WorkDir::new(&e.work), &e.id)?;
            println!("{}", serde_json::to_string_pretty(&x)?);
            Ok(Outcome::Ok)
        }
    }
}
