//! The `sieve-train` command line: one file per subcommand.

pub mod eval;
pub mod launch;
pub mod sample;
pub mod selftest;
pub mod train;

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "sieve-train",
    version,
    about = "Train a GPT on sieve's blended shards"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a GPT on a `sieve blend` output.
    Train(Box<train::TrainArgs>),
    /// Start one node's ranks as processes: `launch --nproc-per-node N -- train …`.
    Launch(launch::LaunchArgs),
    /// Check this machine's backend: every kernel against its CPU twin, a few training steps
    /// against the CPU, then tokens/s and MFU (the first thing to run on a new cluster).
    Selftest(selftest::SelftestArgs),
    /// Generate text from a checkpoint.
    Sample(sample::SampleArgs),
    /// A checkpoint's loss and perplexity on the valid or test split of its blend.
    Eval(eval::EvalArgs),
    /// The training card of a metrics file: index.html, card.md and charts/*.svg (loss,
    /// validation loss, learning rate, gradient norm, tokens/s, MFU).
    Card {
        /// A run's --metrics file (JSON lines or CSV).
        #[arg(long)]
        metrics: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Gather a checkpoint's tensor- and pipeline-parallel shards into one safetensors file.
    Consolidate {
        #[arg(long)]
        checkpoint: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Export a checkpoint for Hugging Face transformers (GPT2LMHeadModel).
    Export {
        #[arg(long)]
        checkpoint: PathBuf,
        #[arg(long, default_value = "safetensors")]
        format: String,
        /// Directory for model.safetensors, config.json, generation_config.json and the
        /// tokenizer's files.
        #[arg(short, long)]
        output: PathBuf,
    },
}

pub fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Train(args) => {
            let summary = train::run(&args)?;
            if summary.rank == 0 {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            }
        }
        Command::Launch(args) => launch::run(&args)?,
        Command::Sample(args) => println!("{}", sample::run(&args)?),
        Command::Eval(args) => {
            if let Some(n) = args.threads {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build_global()
                    .ok();
            }
            println!("{}", serde_json::to_string_pretty(&eval::run(&args)?)?);
        }
        Command::Selftest(args) => {
            let report = selftest::run(&args, &mut |part| {
                use std::io::Write;
                print!("{part}");
                std::io::stdout().flush().ok();
            })?;
            if !report.passed {
                bail!("selftest failed");
            }
        }
        Command::Card { metrics, output } => {
            crate::card::write_card(&metrics, &output)?;
            eprintln!(
                "sieve-train: training card in {}",
                output.join("index.html").display()
            );
        }
        Command::Consolidate { checkpoint, output } => {
            crate::ckpt::write_consolidated(&checkpoint, &output)?;
        }
        Command::Export {
            checkpoint,
            format,
            output,
        } => {
            if format != "safetensors" {
                bail!("--format {format:?}: only safetensors is supported");
            }
            crate::export::export_hf(&checkpoint, &output)?;
        }
    }
    Ok(())
}
