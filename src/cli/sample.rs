//! `sieve sample --shards DIR -n 3`: decode random sequences of tokenized output back to
//! text, to see what a trainer will see.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::Args;

use super::Outcome;
use crate::blend::manifest::{BlendManifest, MANIFEST as BLEND_MANIFEST};
use crate::io::indexed::{existing_prefix, IndexedReader};
use crate::rng::SplitMix;
use crate::tokenize::step::{load_manifest, MANIFEST as TOKENIZE_MANIFEST};
use crate::tokenize::{Tokenizer, TokenizerInfo};

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// A `sieve blend` or `sieve tokenize` output directory, or one prefix (path without
    /// .bin/.idx).
    #[arg(long, value_name = "DIR")]
    pub shards: PathBuf,
    /// How many sequences.
    #[arg(short = 'n', long, default_value_t = 3)]
    pub count: usize,
    /// Seed of the draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// At most this many tokens of each sequence are decoded.
    #[arg(long, default_value_t = 400)]
    pub max_tokens: usize,
}

/// The prefixes under a directory and the tokenizer that wrote them: a blend's stream (or its
/// datasets), a tokenize output's prefixes, or a single prefix with a manifest above it.
pub fn locate(path: &Path) -> Result<(Vec<PathBuf>, Option<TokenizerInfo>)> {
    if path.join(BLEND_MANIFEST).exists() {
        let m = BlendManifest::load(path)?;
        let mut prefixes: Vec<PathBuf> = m
            .streams
            .get("train")
            .and_then(|s| s.prefix.clone())
            .map(|p| vec![path.join(p)])
            .unwrap_or_default();
        if prefixes.is_empty() {
            prefixes = m.datasets.iter().map(|d| path.join(&d.prefix)).collect();
        }
        return Ok((prefixes, Some(m.tokenizer)));
    }
    if path.join(TOKENIZE_MANIFEST).exists() {
        let m = load_manifest(path)?;
        let prefixes = m
            .datasets
            .values()
            .flat_map(|d| d.prefixes.iter().map(|p| path.join(&p.prefix)))
            .collect();
        return Ok((prefixes, Some(m.tokenizer)));
    }
    if let Some(prefix) = existing_prefix(path) {
        // The tokenizer from the nearest manifest above, if any.
        let info = prefix.ancestors().skip(1).find_map(|dir| {
            if dir.join(TOKENIZE_MANIFEST).exists() {
                load_manifest(dir).ok().map(|m| m.tokenizer)
            } else if dir.join(BLEND_MANIFEST).exists() {
                BlendManifest::load(dir).ok().map(|m| m.tokenizer)
            } else {
                None
            }
        });
        return Ok((vec![prefix], info));
    }
    bail!(
        "{}: not a blend output (manifest.json), a tokenize output (tokenize.json) or a .bin/.idx prefix",
        path.display()
    )
}

pub fn run(a: SampleArgs) -> Result<Outcome> {
    let (prefixes, info) = locate(&a.shards)?;
    let tokenizer = match &info {
        Some(i) => Tokenizer::by_name(&i.name)?,
        None => bail!("no manifest names the tokenizer of {}", a.shards.display()),
    };
    let readers: Vec<IndexedReader> = prefixes
        .iter()
        .map(|p| IndexedReader::open(p))
        .collect::<Result<_>>()?;
    let total: u64 = readers.iter().map(|r| r.len() as u64).sum();
    if total == 0 {
        bail!("{} holds no sequences", a.shards.display());
    }
    let mut rng = SplitMix(a.seed);
    let mut ids = Vec::new();
    for _ in 0..a.count {
        let mut k = rng.next_u64() % total;
        let r = readers
            .iter()
            .find(|r| {
                if k < r.len() as u64 {
                    true
                } else {
                    k -= r.len() as u64;
                    false
                }
            })
            .expect("k < total");
        r.tokens(k as usize, &mut ids)?;
        let shown = ids.len().min(a.max_tokens);
        println!(
            "=== {} sequence {k}: {} tokens{}",
            r.prefix.display(),
            ids.len(),
            if shown < ids.len() {
                format!(" (first {shown})")
            } else {
                String::new()
            }
        );
        println!(
            "{}\n",
            String::from_utf8_lossy(&tokenizer.decode(&ids[..shown]))
        );
    }
    Ok(Outcome::Ok)
}
