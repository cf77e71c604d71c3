//! `sieve run SPEC.toml`: a whole pipeline from a spec file.
//!
//! Global stages (`dedup`, `decontam`) need every document before they can decide about any,
//! so a spec runs in passes split at them: the stages before the first global stage write
//! `OUT/work/before-<stage>/`; the global stage's reduce runs over those shards in
//! `OUT/work/<stage>/`; its per-document part (the dedup filter, the decontam strip) then
//! leads the next pass, and the last pass writes `OUT/`. `OUT/stats.json` covers the chain.
//!
//! `tokenize` and `blend` end a spec: they turn the final documents into token shards
//! (`OUT/tokens/`, one dataset per corpus) and a weighted blend of them (`OUT/blend/`).

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
/// Stages that turn the final documents into tokens; they end a spec, in this order.
const TOKEN_STAGES: &[&str] = &["tokenize", "blend"];

/// Splits a spec's stages into document stages and the token stages that end it.
fn split_token_stages(stages: &[StageSpec]) -> Result<(Vec<StageSpec>, Vec<StageSpec>)> {
    let first = stages
        .iter()
        .position(|s| TOKEN_STAGES.contains(&s.name.as_str()))
        .unwrap_or(stages.len());
    let (docs, tail) = stages.split_at(first);
    let names: Vec<&str> = tail.iter().map(|s| s.name.as_str()).collect();
    if !names.is_empty() && names != ["tokenize"] && names != ["tokenize", "blend"] {
        bail!("a spec ends with `tokenize`, optionally followed by `blend` (found {names:?} at the end)");
    }
    Ok((docs.to_vec(), tail.to_vec()))
}

/// `tokenize` over the final shards in OUT, then `blend` (its spec's datasets default to
/// OUT/tokens/<name>).
fn run_token_stages(tail: &[StageSpec], args: &RunArgs) -> Result<()> {
    let Some(tokenize) = tail.first() else {
        return Ok(());
    };
    let text = |key: &str, default: &str| -> Result<String> {
        match tokenize.options.get(key) {
            None => Ok(default.to_string()),
            Some(toml::Value::String(s)) => Ok(s.clone()),
            Some(other) => bail!("tokenize: `{key}` must be a string, not {other}"),
        }
    };
    let tokenizer = crate::tokenize::Tokenizer::by_name(&text("tokenizer", "gpt2")?)?;
    let seed = match tokenize.options.get("seed") {
        None => 1234,
        Some(toml::Value::Integer(n)) if *n >= 0 => *n as u64,
        Some(other) => bail!("tokenize: `seed` must be a non-negative integer, not {other}"),
    };
    let tokens = args.output.join("tokens");
    let jobs = shard_jobs(&[args.output.to_string_lossy().into_owned()], args)?;
    let manifest = crate::tokenize::step::tokenize_all(
        &tokens,
        &tokenizer,
        seed,
        &jobs,
        &jobs,
        args.threads(),
        args.quiet,
    )?
    .expect("every shard was selected");
    if !args.quiet {
        super::tokenize::print_summary(&manifest, &tokens);
    }
    let Some(blend) = tail.get(1) else {
        return Ok(());
    };
    let Some(toml::Value::String(spec_path)) = blend.options.get("spec") else {
        bail!("blend: give the blend spec as `spec = \"BLEND.toml\"`");
    };
    let spec = crate::blend::spec::BlendSpec::load(std::path::Path::new(spec_path))?;
    let out = args.output.join("blend");
    let opts = crate::blend::build::BlendOptions {
        default_root: Some(tokens),
        no_stream: false,
        quiet: args.quiet,
    };
    let manifest = crate::blend::build::build_blend(&spec, &out, &opts)?;
    if !args.quiet {
        super::blend::print_summary(&manifest, &out);
    }
    Ok(())
}

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
    let mut spec = PipelineSpec::load(&a.spec)?;
    let (doc_stages, token_stages) = split_token_stages(&spec.stages)?;
    spec.stages = doc_stages;
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
        let outcome = execute("run", jobs, stages, &args)?;
        if !token_stages.is_empty() {
            if args.shard.is_some() {
                bail!("a spec with tokenize runs as one task; for task arrays run `sieve tokenize --shard` separately");
            }
            if outcome == Outcome::Ok {
                run_token_stages(&token_stages, &args)?;
            }
        }
        return Ok(outcome);
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
    if outcome == Outcome::Ok {
        run_token_stages(&token_stages, &args)?;
    }
    Ok(outcome)
}
