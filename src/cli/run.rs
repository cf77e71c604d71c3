//! `sieve run SPEC.toml`: a whole pipeline from a spec file.
//!
//! A spec whose stages include `dedup` runs in three parts, because dedup needs every
//! document before it can drop any: the stages before it write `OUT/work/before-dedup/`,
//! the dedup steps run over those shards in `OUT/work/dedup/`, and the dedup filter plus
//! the stages after it write `OUT/`. `OUT/stats.json` covers the whole chain.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use super::common::{execute, RunArgs};
use super::dedup::{filter_factory, print_report};
use super::Outcome;
use crate::dedup::config::DedupConfig;
use crate::dedup::files::WorkDir;
use crate::dedup::find_duplicates;
use crate::io::shards::{AtomicFile, ShardFormat};
use crate::io::source::InputKind;
use crate::pipeline::registry;
use crate::pipeline::runner::{disambiguate_stems, jobs_for};
use crate::pipeline::spec::PipelineSpec;
use crate::pipeline::stats::RunStats;
use crate::read::SourceSpec;

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
    let args = RunArgs {
        output: a.output.unwrap_or_else(|| spec.output_dir()),
        threads: a.threads,
        shard: a.shard,
        format: spec.output.format,
        write_rejected: spec.output.write_rejected,
        base_url: String::new(),
        quiet: a.quiet,
    };
    let dedup_at: Vec<usize> = spec
        .stages
        .iter()
        .enumerate()
        .filter(|(_, s)| s.name == "dedup")
        .map(|(i, _)| i)
        .collect();
    let Some(&at) = dedup_at.first() else {
        let stages = registry::factory(&spec.stages)?;
        let jobs = args.select(spec.jobs()?)?;
        return execute("run", jobs, stages, &args);
    };
    if dedup_at.len() > 1 {
        bail!("a pipeline spec can have one dedup stage");
    }
    if args.shard.is_some() {
        bail!("a spec with a dedup stage runs as one task; for task arrays run the stages and `sieve dedup` steps as separate commands");
    }
    let cfg = DedupConfig::from_table(&spec.stages[at].options)?;
    let before = registry::factory(&spec.stages[..at])?;
    let after = registry::factory(&spec.stages[at + 1..])?;

    // Part 1: the stages before dedup.
    let work = args.output.join("work");
    let before_args = RunArgs {
        output: work.join("before-dedup"),
        format: ShardFormat::Parquet,
        ..args.clone()
    };
    if execute("run", spec.jobs()?, before, &before_args)? == Outcome::Partial {
        eprintln!("sieve run: some inputs failed before dedup; fix them and re-run (finished shards are kept)");
        return Ok(Outcome::Partial);
    }

    // Part 2: dedup over everything part 1 wrote.
    let resolved = args.resolve(
        &[before_args.output.to_string_lossy().into_owned()],
        InputKind::Shards,
    )?;
    let mut jobs = jobs_for(resolved, &SourceSpec::Shards, None);
    disambiguate_stems(&mut jobs);
    let dedup_work = WorkDir::new(&work.join("dedup"));
    let report = find_duplicates(&dedup_work, &cfg, &jobs, args.threads(), args.quiet)?;
    if !args.quiet {
        print_report(&report, &dedup_work);
    }

    // Part 3: the dedup filter and the stages after it.
    let outcome = execute("run", jobs, filter_factory(dedup_work, Some(after)), &args)?;
    let mut total = RunStats::load(&before_args.output.join("stats.json"))?;
    let last = RunStats::load(&args.output.join("stats.json"))?;
    total
        .stages
        .extend(last.stages.into_iter().filter(|s| s.name != "read"));
    AtomicFile::write_all(&args.output.join("stats.json"), &total.to_json())?;
    if !args.quiet {
        eprint!("whole pipeline:\n{}", total.table());
    }
    Ok(outcome)
}
