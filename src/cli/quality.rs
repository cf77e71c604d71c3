//! `sieve quality train` and `sieve quality filter`: the MT-NLG quality classifier.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::Outcome;
use crate::io::source::InputKind;
use crate::pipeline::command::{run_stage_command, RunArgs};
use crate::pipeline::stage::Stage;
use crate::quality_train::{report, train, TrainConfig};
use crate::read::SourceSpec;
use crate::stages::quality::{QualityOptions, QualityStage};

#[derive(Debug, Args)]
pub struct QualityArgs {
    #[command(subcommand)]
    pub what: QualityCommand,
}

#[derive(Debug, Subcommand)]
pub enum QualityCommand {
    /// Train a classifier: curated text (positives) against raw crawl text (negatives).
    Train(TrainArgs),
    /// Score documents and keep them by a Pareto(alpha) draw or a threshold.
    Filter(FilterArgs),
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Curated text: JSONL/Parquet corpora or sieve shards (field --text-field), or .txt.
    #[arg(long = "positive", required = true, num_args = 1..)]
    pub positives: Vec<String>,
    /// Raw crawl text, e.g. `sieve extract | langid | clean` output, or .txt.
    #[arg(long = "negative", required = true, num_args = 1..)]
    pub negatives: Vec<String>,
    /// The model to write; a `.ftz` name writes a quantized model.
    #[arg(long)]
    pub output: PathBuf,
    #[arg(long, default_value = "text")]
    pub text_field: String,
    /// Seed of the class balancing and the held-out split.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Share of each class held out for evaluation.
    #[arg(long, default_value_t = 0.1)]
    pub holdout: f64,
    #[arg(long, default_value_t = 32)]
    pub dim: i32,
    #[arg(long, default_value_t = 10)]
    pub epoch: i32,
    #[arg(long, default_value_t = 0.3)]
    pub lr: f64,
    /// Lines of a .txt input that make one document.
    #[arg(long, default_value_t = 20)]
    pub txt_lines: usize,
}

#[derive(Debug, Args)]
pub struct FilterArgs {
    #[command(flatten)]
    pub options: QualityOptions,
    #[command(flatten)]
    pub run: RunArgs,
    #[arg(required = true)]
    pub inputs: Vec<String>,
}

pub fn run(a: QualityArgs) -> Result<Outcome> {
    match a.what {
        QualityCommand::Train(t) => {
            let mut cfg = TrainConfig::new(t.positives, t.negatives, t.output);
            cfg.text_field = t.text_field;
            cfg.seed = t.seed;
            cfg.holdout = t.holdout;
            cfg.dim = t.dim;
            cfg.epoch = t.epoch;
            cfg.lr = t.lr;
            cfg.txt_lines = t.txt_lines;
            let metrics = train(&cfg)?;
            print!("{}", report(&metrics));
            println!(
                "model: {} (metrics in {}.metrics.json)",
                cfg.output.display(),
                cfg.output.display()
            );
            Ok(Outcome::Ok)
        }
        QualityCommand::Filter(f) => {
            let options = f.options;
            QualityStage::new(options.clone())?; // a bad model fails before any work
            let stages = Arc::new(move |_stem: &str| {
                Ok(vec![
                    Box::new(QualityStage::new(options.clone())?) as Box<dyn Stage>
                ])
            });
            run_stage_command(
                "quality",
                &f.inputs,
                InputKind::Shards,
                SourceSpec::Shards,
                stages,
                &f.run,
            )
        }
    }
}
