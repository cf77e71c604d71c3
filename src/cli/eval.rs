//! `sieve eval`: score sieve's components against labelled data in `../shared/data/`.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::Outcome;
use crate::eval::extraction;

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub what: EvalCommand,
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Word-level precision/recall/F1 of `extract` on the HTML extraction benchmarks.
    Extract(EvalExtractArgs),
}

#[derive(Debug, Args)]
pub struct EvalExtractArgs {
    /// A benchmark name, or `all`.
    #[arg(long, default_value = "all")]
    pub benchmark: String,
    /// The shared data directory.
    #[arg(long, default_value = "../shared/data")]
    pub data: PathBuf,
    /// Also list the N pages with the lowest F1.
    #[arg(long, default_value_t = 0)]
    pub worst: usize,
}

pub fn run(a: EvalArgs) -> Result<Outcome> {
    match a.what {
        EvalCommand::Extract(e) => eval_extract(e),
    }
}

fn eval_extract(a: EvalExtractArgs) -> Result<Outcome> {
    let names: Vec<&str> = if a.benchmark == "all" {
        extraction::BENCHMARKS.to_vec()
    } else {
        vec![a.benchmark.as_str()]
    };
    println!(
        "{:<24} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "benchmark", "pages", "precision", "recall", "F1", "pages/s"
    );
    for name in names {
        let pages = extraction::load(name, &a.data)?;
        let s = extraction::score(&pages);
        println!(
            "{:<24} {:>6} {:>9.3} {:>9.3} {:>9.3} {:>9.0}",
            name,
            s.pages,
            s.precision,
            s.recall,
            s.f1,
            s.pages as f64 / s.seconds.max(1e-9)
        );
        for (id, p, r, f) in s.per_page.iter().take(a.worst) {
            println!("    worst: {id:<40} P {p:.3} R {r:.3} F1 {f:.3}");
        }
    }
    Ok(Outcome::Ok)
}
