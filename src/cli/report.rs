//! `sieve report RUN_DIR`: the data card of a run (also the last step of `sieve run` and of
//! a Slurm run). See `src/report/` for what it shows and where it comes from.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::Outcome;
use crate::pipeline::spec::PipelineSpec;
use crate::report::{write, SpecFacts};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The output directory of a run (it holds stats.json).
    pub run: PathBuf,
    /// Where to write index.html, README.md and the charts; default RUN/report.
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// The spec the run was made with, for the settings its records do not hold (the
    /// quality filter's Pareto shape, the languages kept).
    #[arg(long, value_name = "SPEC.toml")]
    pub spec: Option<PathBuf>,
}

pub fn run(a: ReportArgs) -> Result<Outcome> {
    let spec = match &a.spec {
        Some(path) => SpecFacts::of(&PipelineSpec::load(path)?),
        None => SpecFacts::default(),
    };
    let dir = a.output.clone().unwrap_or_else(|| a.run.join("report"));
    let written = write(&a.run, &dir, &spec)?;
    println!(
        "{}\n{} ({} charts beside it)",
        written.html.display(),
        written.markdown.display(),
        written.charts.len()
    );
    Ok(Outcome::Ok)
}
