//! `sieve blend --spec BLEND.toml --output DIR`: tokenized datasets → weighted blend.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::Outcome;
use crate::blend::build::{build_blend, BlendOptions};
use crate::blend::manifest::BlendManifest;
use crate::blend::spec::BlendSpec;

#[derive(Debug, Args)]
pub struct BlendArgs {
    /// The blend spec (see pipelines/mtnlg-blend.toml).
    #[arg(long, value_name = "BLEND.toml")]
    pub spec: PathBuf,
    /// Output directory (manifest.json is written last).
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// Where datasets without a `path` are: ROOT/<name> (a `sieve tokenize` output).
    #[arg(long, value_name = "ROOT")]
    pub tokens: Option<PathBuf>,
    /// Do not write the blended stream; only the per-dataset prefixes, blend.txt and indices.
    #[arg(long)]
    pub no_stream: bool,
    /// No progress output.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(a: BlendArgs) -> Result<Outcome> {
    let spec = BlendSpec::load(&a.spec)?;
    let opts = BlendOptions {
        default_root: a.tokens,
        no_stream: a.no_stream,
        quiet: a.quiet,
    };
    let manifest = build_blend(&spec, &a.output, &opts)?;
    if !a.quiet {
        print_summary(&manifest, &a.output);
    }
    Ok(Outcome::Ok)
}

pub fn print_summary(m: &BlendManifest, out: &std::path::Path) {
    eprintln!(
        "sieve blend: {} tokens target, split {}, seq_length {}, {} ({:?})",
        m.target_tokens, m.split, m.seq_length, m.tokenizer.encoding, m.dtype
    );
    eprintln!(
        "  {:<16} {:>8} {:>14} {:>12} {:>8}",
        "dataset", "weight", "tokens", "train samp.", "epochs"
    );
    for d in &m.datasets {
        let train = d.splits.get("train");
        eprintln!(
            "  {:<16} {:>8.5} {:>14} {:>12} {:>8.3}",
            d.name,
            d.normalized_weight,
            d.tokens,
            train.map_or(0, |s| s.samples),
            train.map_or(0.0, |s| s.epochs)
        );
    }
    for (split, s) in &m.streams {
        eprintln!(
            "  {split} stream ({:?} rule): every prefix within {:.3} samples of every share",
            m.rule, s.largest_share_error
        );
    }
    eprintln!(
        "  Megatron: cd {} && ... --data-args-path blend.txt --split {}",
        out.display(),
        m.split
    );
    eprintln!("  manifest: {}", out.join("manifest.json").display());
}
