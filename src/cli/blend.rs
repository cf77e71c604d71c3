//! `sieve blend --spec BLEND.toml --output DIR`: tokenized datasets → weighted blend.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::Outcome;
use crate::blend::build::print_summary;
use crate::blend::build::{build_blend, BuildOptions};
use crate::blend::options::BlendOptions;
use crate::blend::spec::BlendSpec;

#[derive(Debug, Args)]
pub struct BlendArgs {
    #[command(flatten)]
    pub options: BlendOptions,
    /// Output directory (manifest.json is written last).
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// Where datasets without a `path` are: ROOT/<name> (a `sieve tokenize` output).
    #[arg(long, value_name = "ROOT")]
    pub tokens: Option<PathBuf>,
    /// No progress output.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(a: BlendArgs) -> Result<Outcome> {
    let spec = BlendSpec::load(&a.options.spec)?;
    let opts = BuildOptions {
        default_root: a.tokens,
        no_stream: a.options.no_stream,
        quiet: a.quiet,
    };
    let manifest = build_blend(&spec, &a.output, &opts)?;
    if !a.quiet {
        print_summary(&manifest, &a.output);
    }
    Ok(Outcome::Ok)
}
