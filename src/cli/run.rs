//! `sieve run SPEC.toml`: a whole pipeline from a spec file.
//!
//! Global stages (`dedup`, `decontam`) need every document before they can decide about any,
//! so a spec runs in passes split at them: the stages before the first global stage write
//! `OUT/work/before-<stage>/`; the global stage's reduce runs over those shards in
//! `OUT/work/<stage>/`; its per-document part (the dedup filter, the decontam strip) then
//! leads the next pass, and the last pass writes `OUT/`. `OUT/stats.json` covers the chain.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Result};
use clap::Args;

use super::common::{execute, shard_jobs, RunArgs};
use super::Outcome;
use crate::decontam::passes::DecontamConfig;
use crate::dedup::config::DedupConfig;
use crate::dedup::files::WorkDir;
use crate::dedup::find_duplicates;
use crate::io::shards::{AtomicFile, ShardFormat};
use crate::pipeline::registry;
use crate::pipeline::runner::Job;
use crate::pipeline::spec::{PipelineSpec, StageSpec};
use crate::pipeline::stage::StageFactory;
use crate::pipeline::stats::RunStats;

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

const GLOBAL_STAGES: &[&str] = &["dedup", "decontam"];

/// `first` then `then`, per shard.
fn chain(first: Option<StageFactory>, then: StageFactory) -> StageFactory {
    match first {
        None => then,
        Some(first) => Arc::new(move |stem: &str| {
            let mut stages = first(stem)?;
            stages.extend(then(stem)?);
            Ok(stages)
        }),
    }
}

/// Runs a global stage's reduce over `jobs`; returns its per-document stage.
fn prepare_global(
    spec: &StageSpec,
    jobs: &[Job],
    work: PathBuf,
    args: &RunArgs,
) -> Result<StageFactory> {
    match spec.name.as_str() {
        "dedup" => {
            let cfg = DedupConfig::from_table(&spec.options)?;
            let work = WorkDir::new(&work);
            let report = find_duplicates(&work, &cfg, jobs, args.threads(), args.quiet)?;
            if !args.quiet {
                super::dedup::print_report(&report, &work);
            }
            Ok(super::dedup::filter_factory(work, None))
        }
        "decontam" => {
            let cfg = DecontamConfig::from_table(&spec.options)?;
            let index = super::decontam::prepare(&work, &cfg, jobs, args.threads(), args.quiet)?;
            Ok(super::decontam::strip_factory(index, &cfg))
        }
        other => bail!("`{other}` is not a global stage"),
    }
}

pub fn run(a: RunSpecArgs) -> Result<Outcome> {
    let spec = PipelineSpec::load(&a.spec)?;
    let args = RunArgs {
        output: a.output.unwrap_or_else(|| spec.output_dir()),
        threads: a.threads,
        shard: a.shard,
        format: spec.output.format,
        write_rejected: spec.output.write_rejected,
        base_url: String::new(),
        quiet: a.quiet,
    };
    let globals = spec
        .stages
        .iter()
        .filter(|s| GLOBAL_STAGES.contains(&s.name.as_str()))
        .count();
    if globals == 0 {
        let stages = registry::factory(&spec.stages)?;
        let jobs = args.select(spec.jobs()?)?;
        return execute("run", jobs, stages, &args);
    }
    if args.shard.is_some() {
        bail!("a spec with a dedup or decontam stage runs as one task; for task arrays run the stages and the `sieve dedup` / `sieve decontam` steps as separate commands");
    }

    let mut jobs = spec.jobs()?;
    let mut lead: Option<StageFactory> = None;
    let mut pending: Vec<StageSpec> = Vec::new();
    let mut passes: Vec<PathBuf> = Vec::new();
    for stage in &spec.stages {
        if !GLOBAL_STAGES.contains(&stage.name.as_str()) {
            pending.push(stage.clone());
            continue;
        }
        // One pass up to this global stage, into the work directory.
        let pass_args = RunArgs {
            output: args
                .output
                .join("work")
                .join(format!("before-{}", stage.name)),
            format: ShardFormat::Parquet,
            ..args.clone()
        };
        let stages = chain(lead.take(), registry::factory(&pending)?);
        if execute("run", jobs, stages, &pass_args)? == Outcome::Partial {
            eprintln!(
                "sieve run: some shards failed before {}; fix them and re-run (finished shards are kept)",
                stage.name
            );
            return Ok(Outcome::Partial);
        }
        passes.push(pass_args.output.clone());
        pending.clear();
        jobs = shard_jobs(&[pass_args.output.to_string_lossy().into_owned()], &args)?;
        let work = args.output.join("work").join(&stage.name);
        lead = Some(prepare_global(stage, &jobs, work, &args)?);
    }
    let outcome = execute(
        "run",
        jobs,
        chain(lead, registry::factory(&pending)?),
        &args,
    )?;

    // The whole chain's counters: the first pass's reading, then every stage once.
    passes.push(args.output.clone());
    let mut total = RunStats::default();
    for (i, dir) in passes.iter().enumerate() {
        let s = RunStats::load(&dir.join("stats.json"))?;
        if i == 0 {
            total = s;
        } else {
            total
                .stages
                .extend(s.stages.into_iter().filter(|s| s.name != "read"));
        }
    }
    AtomicFile::write_all(&args.output.join("stats.json"), &total.to_json())?;
    if !args.quiet {
        eprint!("whole pipeline:\n{}", total.table());
    }
    if spec.stages.iter().any(|s| s.name == "decontam") {
        let summary = super::decontam::summarize(&args.output)?;
        if !args.quiet {
            super::decontam::print_summary(&summary, &args.output);
        }
    }
    Ok(outcome)
}
