//! `sieve run SPEC.toml`: a whole pipeline from a spec file.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::common::{execute, RunArgs};
use super::Outcome;
use crate::pipeline::registry;
use crate::pipeline::spec::PipelineSpec;

#[derive(Debug, Args)]
pub struct RunSpecArgs {
    /// The pipeline spec (see pipelines/sample.toml).
    pub spec: PathBuf,
    /// Output directory (overrides the spec's `[output] dir`).
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Worker threads; default: all cores.
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,
    /// Process only task I of N (0-based).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// No progress output.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(a: RunSpecArgs) -> Result<Outcome> {
    let spec = PipelineSpec::load(&a.spec)?;
    let stages = registry::factory(&spec.stages)?;
    let args = RunArgs {
        output: a.output.unwrap_or_else(|| spec.output_dir()),
        threads: a.threads,
        shard: a.shard,
        format: spec.output.format,
        write_rejected: spec.output.write_rejected,
        base_url: String::new(),
        quiet: a.quiet,
    };
    let jobs = args.select(spec.jobs()?)?;
    execute("run", jobs, stages, &args)
}
