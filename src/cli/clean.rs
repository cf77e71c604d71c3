//! `sieve clean`: Unicode repair, whitespace normalisation and the MT-NLG document rules.

use std::sync::Arc;

use anyhow::Result;
use clap::Args;

use super::Outcome;
use crate::io::source::InputKind;
use crate::pipeline::command::{run_stage_command, RunArgs};
use crate::pipeline::stage::Stage;
use crate::read::SourceSpec;
use crate::stages::clean::{CleanOptions, CleanStage};

#[derive(Debug, Args)]
pub struct CleanArgs {
    #[command(flatten)]
    pub options: CleanOptions,
    #[command(flatten)]
    pub run: RunArgs,
    /// Document shards.
    #[arg(required = true)]
    pub inputs: Vec<String>,
}

pub fn run(a: CleanArgs) -> Result<Outcome> {
    let options = a.options;
    let stages = Arc::new(move |_stem: &str| {
        Ok(vec![
            Box::new(CleanStage::new(options.clone())) as Box<dyn Stage>
        ])
    });
    run_stage_command(
        "clean",
        &a.inputs,
        InputKind::Shards,
        SourceSpec::Shards,
        stages,
        &a.run,
    )
}
