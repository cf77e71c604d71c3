//! `sieve import`: JSONL/Parquet corpora → document shards.

use anyhow::Result;
use clap::Args;

use super::Outcome;
use crate::io::source::InputKind;
use crate::pipeline::command::{run_stage_command, RunArgs};
use crate::pipeline::stage::no_stages;
use crate::read::corpus::ImportSpec;
use crate::read::SourceSpec;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Dataset name given to every document (its dedup priority and blend name).
    #[arg(long)]
    pub dataset: String,
    /// Field holding the text (`a.b` for nested JSON).
    #[arg(long, default_value = "text")]
    pub text_field: String,
    /// Field holding the URL, when there is one.
    #[arg(long, default_value = "url")]
    pub url_field: String,
    /// Further fields to keep in `meta` (repeatable).
    #[arg(long = "meta-field", value_name = "FIELD")]
    pub meta_fields: Vec<String>,
    #[command(flatten)]
    pub run: RunArgs,
    /// JSONL (.jsonl, .jsonl.gz, .jsonl.zst) or Parquet files, directories or globs.
    #[arg(required = true)]
    pub inputs: Vec<String>,
}

pub fn run(a: ImportArgs) -> Result<Outcome> {
    let spec = ImportSpec {
        dataset: a.dataset,
        text_field: a.text_field,
        url_field: a.url_field,
        meta_fields: a.meta_fields,
    };
    run_stage_command(
        "import",
        &a.inputs,
        InputKind::Shards,
        SourceSpec::Import(spec),
        no_stages(),
        &a.run,
    )
}
