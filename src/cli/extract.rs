//! `sieve extract`: WARC files (or raw-HTML shards from `sieve warc`) → main-text documents.

use std::sync::Arc;

use anyhow::Result;
use clap::Args;

use super::common::{run_on_warc_or_shards, RunArgs};
use super::Outcome;
use crate::pipeline::stage::Stage;
use crate::stages::extract::{ExtractOptions, ExtractStage};

#[derive(Debug, Args)]
pub struct ExtractArgs {
    /// Dataset name for documents read from WARC files.
    #[arg(long, default_value = "web")]
    pub dataset: String,
    /// Pages larger than this many bytes are dropped (`html_too_large`).
    #[arg(long, default_value_t = ExtractOptions::default().max_html_bytes)]
    pub max_html_bytes: usize,
    /// DOMs deeper than this are dropped (`dom_too_deep`).
    #[arg(long, default_value_t = ExtractOptions::default().max_depth)]
    pub max_depth: u32,
    /// Pages taking longer than this (milliseconds) are dropped (`extract_timeout`).
    #[arg(long, default_value_t = ExtractOptions::default().time_budget_ms)]
    pub time_budget_ms: u64,
    #[command(flatten)]
    pub run: RunArgs,
    /// WARC files or raw-HTML document shards (files, directories, globs, listings, URLs).
    #[arg(required = true)]
    pub inputs: Vec<String>,
}

pub fn run(a: ExtractArgs) -> Result<Outcome> {
    let options = ExtractOptions {
        max_html_bytes: a.max_html_bytes,
        max_depth: a.max_depth,
        time_budget_ms: a.time_budget_ms,
        ..Default::default()
    };
    let stages = Arc::new(move |_stem: &str| {
        Ok(vec![
            Box::new(ExtractStage::new(options.clone())) as Box<dyn Stage>
        ])
    });
    run_on_warc_or_shards("extract", &a.inputs, &a.dataset, stages, &a.run)
}
