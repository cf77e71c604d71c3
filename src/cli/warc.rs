//! `sieve warc`: WARC responses (and WET conversions) → raw documents, the payload decoded to
//! text in `text`. For debugging, and for tools that want raw HTML with sieve's lineage.

use anyhow::Result;
use clap::Args;

use super::Outcome;
use crate::io::source::InputKind;
use crate::pipeline::command::{run_stage_command, RunArgs};
use crate::pipeline::stage::no_stages;
use crate::read::SourceSpec;

#[derive(Debug, Args)]
pub struct WarcArgs {
    /// Dataset name given to every document.
    #[arg(long, default_value = "web")]
    pub dataset: String,
    #[command(flatten)]
    pub run: RunArgs,
    /// WARC/WET files, directories, globs, `*.paths[.gz]` listings or http(s) URLs.
    #[arg(required = true)]
    pub inputs: Vec<String>,
}

pub fn run(a: WarcArgs) -> Result<Outcome> {
    run_stage_command(
        "warc",
        &a.inputs,
        InputKind::Warc,
        SourceSpec::Warc { dataset: a.dataset },
        no_stages(),
        &a.run,
    )
}
