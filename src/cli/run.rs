//! `sieve run SPEC.toml`: a whole pipeline from a spec file, as the ordered steps of its
//! [`Plan`] (see `plan.rs` for how a spec becomes passes, global steps and token steps).
//! `--plan` lists the steps, `--show-settings` every stage's settings; `--step NAME --shard I/N` runs one task of one step, which is
//! what a Slurm array task does.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::Outcome;
use crate::orchestrate::plan::Plan;

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
    /// Process only task I of N (0-based): of the whole spec when it has no global or token
    /// stages, else of the step named by `--step`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Run only this step (see `--plan`).
    #[arg(long, value_name = "NAME")]
    pub step: Option<String>,
    /// Print the spec's steps and their task counts as JSON, and run nothing.
    #[arg(long)]
    pub plan: bool,
    /// Print every setting of every stage (the spec's `[[stage]]` tables with the defaults
    /// filled in), and run nothing.
    #[arg(long)]
    pub show_settings: bool,
    /// No progress output.
    #[arg(short, long)]
    pub quiet: bool,
    /// Run the spec over other data: `DATASET=PATH[,PATH...]` replaces the paths of the
    /// spec's input of that dataset (e.g. `--input cc=data-samples/web`). Repeatable.
    #[arg(long = "input", value_name = "DATASET=PATHS")]
    pub inputs: Vec<String>,
}

/// The plan of a spec with the command line's output, threads and quietness.
pub fn plan_of(a: &RunSpecArgs) -> Result<Plan> {
    Plan::load(
        &a.spec,
        a.output.clone(),
        a.threads,
        a.shard.clone(),
        a.quiet,
        &a.inputs,
    )
}

pub fn run(a: RunSpecArgs) -> Result<Outcome> {
    let plan = plan_of(&a)?;
    if a.show_settings {
        print!("{}", plan.settings_toml()?);
        return Ok(Outcome::Ok);
    }
    if a.plan {
        println!("{}", serde_json::to_string_pretty(&plan.steps)?);
        return Ok(Outcome::Ok);
    }
    let Some(name) = &a.step else {
        return plan.run_all(&a.spec);
    };
    let step = plan.step(name)?;
    let task = a
        .shard
        .as_deref()
        .map(crate::io::source::parse_shard_spec)
        .transpose()?;
    plan.execute(step, task)
}
