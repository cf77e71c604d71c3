//! Options every stage command shares, and the code that turns them into a run.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use super::Outcome;
use crate::io::shards::ShardFormat;
use crate::io::source::{parse_shard_spec, resolve, select_shard, InputKind, Resolve};
use crate::pipeline::runner::{self, disambiguate_stems, jobs_for, Job, RunConfig};
use crate::pipeline::stage::StageFactory;
use crate::read::SourceSpec;

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Directory for output shards, stats and completion markers.
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// Worker threads (one input shard each); default: all cores.
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,
    /// Process only task I of N (0-based), e.g. `--shard $SLURM_ARRAY_TASK_ID/1000`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Output shard format.
    #[arg(long, value_enum, default_value = "parquet")]
    pub format: ShardFormat,
    /// Also write dropped documents, with their stage and reason, under OUT/rejected/.
    #[arg(long)]
    pub write_rejected: bool,
    /// Base URL (or directory) for the relative paths of `*.paths[.gz]` listings.
    #[arg(
        long,
        value_name = "URL",
        default_value = "https://data.commoncrawl.org/"
    )]
    pub base_url: String,
    /// No progress output.
    #[arg(short, long)]
    pub quiet: bool,
}

/// The flags of one task of a global step (`sieve dedup lsh`, `sieve decontam count`, …):
/// how many threads, and which of the step's tasks.
#[derive(Debug, Clone, Args)]
pub struct TaskArgs {
    /// Worker threads; default: all cores.
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,
    /// Run only task I of N (0-based).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
}

impl TaskArgs {
    pub fn threads(&self) -> usize {
        thread_count(self.threads)
    }

    /// This task: (I, N), or (0, 1) for the whole step.
    pub fn part(&self) -> Result<(usize, usize)> {
        match &self.shard {
            Some(s) => parse_shard_spec(s),
            None => Ok((0, 1)),
        }
    }

    /// Every input shard of the step, and this task's share of them.
    pub fn jobs(&self, inputs: &[String], work: &Path) -> Result<(Vec<Job>, Vec<Job>)> {
        let run = RunArgs {
            output: work.to_path_buf(),
            threads: self.threads,
            shard: self.shard.clone(),
            format: ShardFormat::Parquet,
            write_rejected: false,
            base_url: String::new(),
            quiet: false,
        };
        let all = shard_jobs(inputs, &run)?;
        let mine = run.select(all.clone())?;
        Ok((all, mine))
    }
}

impl RunArgs {
    pub fn threads(&self) -> usize {
        thread_count(self.threads)
    }

    pub fn config(&self, label: &str) -> RunConfig {
        RunConfig {
            output: self.output.clone(),
            format: self.format,
            threads: self.threads(),
            write_rejected: self.write_rejected,
            quiet: self.quiet,
            label: format!("sieve {label}"),
        }
    }

    /// Keeps this task's share of the jobs when `--shard` is given.
    /// Resolves the command-line inputs with this command's `--base-url`.
    pub fn resolve(
        &self,
        inputs: &[String],
        kind: InputKind,
    ) -> Result<Vec<crate::io::source::Input>> {
        resolve(
            inputs,
            &Resolve {
                kind,
                base_url: self.base_url.clone(),
            },
        )
    }

    /// Names shards unambiguously, then keeps this task's share (`--shard`).
    pub fn finish_jobs(&self, mut jobs: Vec<Job>) -> Result<Vec<Job>> {
        disambiguate_stems(&mut jobs);
        self.select(jobs)
    }

    pub fn select(&self, jobs: Vec<Job>) -> Result<Vec<Job>> {
        let Some(spec) = &self.shard else {
            return Ok(jobs);
        };
        let (i, n) = parse_shard_spec(spec)?;
        Ok(select_shard(jobs, i, n))
    }
}

/// `-j N`, or every core when it is absent or 0.
pub fn thread_count(n: Option<usize>) -> usize {
    n.filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Input document shards as jobs, named the same way by every step of a global stage
/// (all of them, before any `--shard` selection).
pub fn shard_jobs(inputs: &[String], run: &RunArgs) -> Result<Vec<Job>> {
    let resolved = run.resolve(inputs, InputKind::Shards)?;
    let mut jobs = jobs_for(resolved, &SourceSpec::Shards, None);
    disambiguate_stems(&mut jobs);
    Ok(jobs)
}

/// Resolves inputs, runs them through `stages`, prints the stats, and maps the result to an
/// outcome. Shared by every stage command.
pub fn run_stage_command(
    label: &str,
    inputs: &[String],
    kind: InputKind,
    source: SourceSpec,
    stages: StageFactory,
    args: &RunArgs,
) -> Result<Outcome> {
    let resolved = args.resolve(inputs, kind)?;
    let jobs = args.finish_jobs(jobs_for(resolved, &source, None))?;
    execute(label, jobs, stages, args)
}

/// Resolves inputs that may be WARC files (read as documents of `dataset`) or document
/// shards, and runs them through `stages`.
pub fn run_on_warc_or_shards(
    label: &str,
    inputs: &[String],
    dataset: &str,
    stages: StageFactory,
    args: &RunArgs,
) -> Result<Outcome> {
    let resolved = args.resolve(inputs, InputKind::PreferWarc)?;
    let (warcs, shards): (Vec<_>, Vec<_>) = resolved
        .into_iter()
        .partition(|i| InputKind::Warc.accepts(&i.key));
    let mut jobs = jobs_for(
        warcs,
        &SourceSpec::Warc {
            dataset: dataset.to_string(),
        },
        None,
    );
    jobs.extend(jobs_for(shards, &SourceSpec::Shards, None));
    jobs.sort_by(|a, b| a.input.key.cmp(&b.input.key));
    let jobs = args.finish_jobs(jobs)?;
    execute(label, jobs, stages, args)
}

/// Runs jobs and reports.
/// Steps write to a filesystem every task sees (they rename files into place and read each
/// other's work); object storage is where a finished run is published.
pub fn refuse_remote_output(output: &std::path::Path) -> Result<()> {
    let o = output.to_string_lossy();
    if o.starts_with("s3:/") || o.starts_with("http:/") || o.starts_with("https:/") {
        anyhow::bail!(
            "--output {o}: steps write to a local or shared filesystem; write there, then copy \
             the finished run with `sieve publish OUT {o}` (or `[output] publish = \"{o}\"` in a spec)"
        );
    }
    Ok(())
}

pub fn execute(
    label: &str,
    jobs: Vec<Job>,
    stages: StageFactory,
    args: &RunArgs,
) -> Result<Outcome> {
    refuse_remote_output(&args.output)?;
    let cfg = args.config(label);
    let summary = runner::run(jobs, stages, &cfg)?;
    if !args.quiet {
        eprint!("{}", summary.stats.table());
        eprintln!(
            "sieve {label}: {} shards processed, {} already done, {} failed; stats in {}",
            summary.processed,
            summary.skipped,
            summary.failed.len(),
            cfg.output.join("stats.json").display()
        );
    }
    Ok(if summary.failed.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Partial
    })
}
