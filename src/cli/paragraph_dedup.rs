//! `sieve paragraph-dedup`: remove exact duplicate paragraphs (or lines) across the input
//! shards, every step on one box. On many machines, put the `paragraph-dedup` stage in a spec
//! and run it with `sieve run --step` or `sieve slurm submit`: each step then runs as tasks.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::Outcome;
use crate::paragraphs::options::ParagraphDedupOptions;
use crate::paragraphs::{count, merge, report};
use crate::pipeline::command::{execute, shard_jobs, RunArgs};
use crate::stages::paragraph_dedup::strip_factory;

#[derive(Debug, Args)]
pub struct ParagraphDedupArgs {
    /// Input document shards (files, directories, globs).
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// Work directory for the intermediate files; default: OUT/paragraph-dedup-work.
    #[arg(long, value_name = "DIR")]
    pub work: Option<PathBuf>,
    #[command(flatten)]
    pub options: ParagraphDedupOptions,
    #[command(flatten)]
    pub run: RunArgs,
}

pub fn run(a: ParagraphDedupArgs) -> Result<Outcome> {
    let run = a.run;
    if run.shard.is_some() {
        anyhow::bail!("`sieve paragraph-dedup` runs every step on one box; for task arrays put the stage in a spec (`sieve run --step`, `sieve slurm submit`)");
    }
    let work = a
        .work
        .unwrap_or_else(|| run.output.join("paragraph-dedup-work"));
    let jobs = shard_jobs(&a.inputs, &run)?;
    let threads = run.threads();
    count::run(&work, &a.options, &jobs, &jobs, threads, run.quiet)?;
    merge::run(&work, (0, 1), threads, run.quiet)?;
    let r = report::run(&work, &jobs)?;
    if !run.quiet {
        report::print_report(&r, &work);
    }
    execute("paragraph-dedup", jobs, strip_factory(work), &run)
}
