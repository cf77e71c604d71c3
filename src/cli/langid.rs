//! `sieve langid`: label documents with their language and keep the wanted ones.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::Args;

use super::Outcome;
use crate::io::source::InputKind;
use crate::pipeline::command::{run_stage_command, RunArgs};
use crate::pipeline::stage::Stage;
use crate::read::SourceSpec;
use crate::stages::langid::{Backend, LangidOptions, LangidStage};

#[derive(Debug, Args)]
pub struct LangidArgs {
    /// Languages to keep (ISO 639-1, comma-separated); default: keep all, only label.
    #[arg(long, value_delimiter = ',')]
    pub keep: Vec<String>,
    /// Drop documents whose language confidence is lower.
    #[arg(long, default_value_t = 0.0)]
    pub min_score: f32,
    /// The identifier without a model file.
    #[arg(long, value_enum, default_value = "cld2")]
    pub backend: Backend,
    /// A fastText language-ID model, e.g. ../shared/data/langid/fasttext-lid176/lid.176.ftz
    /// (run by sieve's Rust reader); it replaces --backend.
    #[arg(long, value_name = "PATH")]
    pub lid_model: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
    /// Document shards (e.g. `sieve extract` output).
    #[arg(required = true)]
    pub inputs: Vec<String>,
}

pub fn run(a: LangidArgs) -> Result<Outcome> {
    let options = LangidOptions {
        keep: a.keep,
        min_score: a.min_score,
        backend: a.backend,
        lid_model: a.lid_model,
    };
    LangidStage::new(&options)?; // report a bad model path before resolving inputs
    let stages = Arc::new(move |_stem: &str| {
        Ok(vec![Box::new(LangidStage::new(&options)?) as Box<dyn Stage>])
    });
    run_stage_command(
        "langid",
        &a.inputs,
        InputKind::Shards,
        SourceSpec::Shards,
        stages,
        &a.run,
    )
}
