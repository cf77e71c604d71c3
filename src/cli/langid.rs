//! `sieve langid`: label documents with their language and keep the wanted ones.

use std::sync::Arc;

use anyhow::Result;
use clap::Args;

use super::Outcome;
use crate::io::source::InputKind;
use crate::pipeline::command::{run_stage_command, RunArgs};
use crate::pipeline::stage::Stage;
use crate::read::SourceSpec;
use crate::stages::langid::{LangidOptions, LangidStage};

#[derive(Debug, Args)]
pub struct LangidArgs {
    #[command(flatten)]
    pub options: LangidOptions,
    #[command(flatten)]
    pub run: RunArgs,
    /// Document shards (e.g. `sieve extract` output).
    #[arg(required = true)]
    pub inputs: Vec<String>,
}

pub fn run(a: LangidArgs) -> Result<Outcome> {
    let options = a.options;
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
