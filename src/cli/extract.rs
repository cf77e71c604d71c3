//! `sieve extract`: WARC files (or raw-HTML shards from `sieve warc`) → main-text documents.

use std::sync::Arc;

use anyhow::{anyhow, bail, Result};
use clap::Args;

use super::Outcome;
use crate::io::source::InputKind;
use crate::pipeline::command::{run_on_warc_or_shards, RunArgs};
use crate::pipeline::stage::Stage;
use crate::read::{ReadItem, SourceSpec};
use crate::stages::extract::dom::Dom;
use crate::stages::extract::explain::{explain as explain_page, render};
use crate::stages::extract::{ExtractOptions, ExtractStage};

/// `--output`'s value when it is not given: `--explain` writes nothing and needs none; every
/// other use refuses it.
const NO_OUTPUT: &str = "\u{0}no-output";

#[derive(Debug, Args)]
// `--explain` prints one page's explanation and writes nothing, so it needs no `--output`.
#[command(mut_arg("output", |a| a.required(false).default_value(NO_OUTPUT).hide_default_value(true)))]
pub struct ExtractArgs {
    /// Dataset name for documents read from WARC files.
    #[arg(long, default_value = "web")]
    pub dataset: String,
    #[command(flatten)]
    pub options: ExtractOptions,
    /// Instead of extracting, explain one page: each block of the page with its size, link
    /// density and the rule that kept or dropped it. The page is the first document of the
    /// inputs whose URL, WARC-Record-ID or sieve id equals this.
    #[arg(long, value_name = "URL_OR_RECORD_ID")]
    pub explain: Option<String>,
    #[command(flatten)]
    pub run: RunArgs,
    /// WARC files or raw-HTML document shards (files, directories, globs, listings, URLs).
    #[arg(required = true)]
    pub inputs: Vec<String>,
}

pub fn run(a: ExtractArgs) -> Result<Outcome> {
    if let Some(wanted) = &a.explain {
        return explain(&a, wanted);
    }
    if a.run.output.as_os_str() == NO_OUTPUT {
        bail!("the following required argument was not provided: --output <DIR>");
    }
    let options = a.options.clone();
    let stages = Arc::new(move |_stem: &str| {
        Ok(vec![
            Box::new(ExtractStage::new(options.clone())) as Box<dyn Stage>
        ])
    });
    run_on_warc_or_shards("extract", &a.inputs, &a.dataset, stages, &a.run)
}

/// Finds the page `wanted` in the inputs and prints its explanation.
fn explain(a: &ExtractArgs, wanted: &str) -> Result<Outcome> {
    let inputs = a.run.resolve(&a.inputs, InputKind::PreferWarc)?;
    for input in &inputs {
        let spec = if InputKind::Warc.accepts(&input.key) {
            SourceSpec::Warc {
                dataset: a.dataset.clone(),
            }
        } else {
            SourceSpec::Shards
        };
        for item in spec.open(input)? {
            let ReadItem::Doc(doc) = item else { continue };
            let matches = doc.url.as_deref() == Some(wanted)
                || doc.warc_record_id.as_deref() == Some(wanted)
                || doc.id == wanted;
            if !matches {
                continue;
            }
            let dom = Dom::parse(&doc.text, a.options.max_depth, a.options.max_nodes)
                .map_err(|e| anyhow!("{}: {wanted}: the page cannot be parsed: {e:?}", input))?;
            println!(
                "page: {} ({})",
                doc.id,
                doc.url.as_deref().unwrap_or("no URL")
            );
            print!("{}", render(&explain_page(&dom)));
            return Ok(Outcome::Ok);
        }
    }
    bail!("no document with URL, WARC-Record-ID or id `{wanted}` in the inputs")
}
