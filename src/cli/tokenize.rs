//! `sieve tokenize`: document shards → Megatron indexed datasets, one per source corpus.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::Outcome;
use crate::io::shards::ShardFormat;
use crate::pipeline::command::{shard_jobs, RunArgs};
use crate::tokenize::options::TokenizeOptions;
use crate::tokenize::step::print_summary;
use crate::tokenize::step::tokenize_all;
use crate::tokenize::Tokenizer;

#[derive(Debug, Args)]
pub struct TokenizeArgs {
    /// Input document shards (files or run output directories).
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// Output directory: OUT/<dataset>/<shard>.bin|.idx and OUT/tokenize.json.
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    #[command(flatten)]
    pub options: TokenizeOptions,
    /// Worker threads (one input shard each); default: all cores.
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,
    /// Process only task I of N (0-based); tokenize.json is written by the task that
    /// finds every shard done.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// No progress output.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(a: TokenizeArgs) -> Result<Outcome> {
    let run = RunArgs {
        output: a.output.clone(),
        threads: a.threads,
        shard: a.shard.clone(),
        format: ShardFormat::Parquet,
        write_rejected: false,
        base_url: String::new(),
        quiet: a.quiet,
    };
    let tokenizer = Tokenizer::by_name(&a.options.tokenizer)?;
    let all = shard_jobs(&a.inputs, &run)?;
    let selected = run.select(all.clone())?;
    let manifest = tokenize_all(
        &a.output,
        &tokenizer,
        a.options.seed,
        &all,
        &selected,
        run.threads(),
        a.quiet,
    )?;
    if let (Some(m), false) = (&manifest, a.quiet) {
        print_summary(m, &a.output);
    }
    Ok(Outcome::Ok)
}
