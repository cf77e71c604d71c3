//! A `sieve blend` output directory as the trainer reads it: the manifest checked, the blend
//! file parsed as Megatron parses `--data-args-path`, every file checked for presence and size
//! (and sha256 on request) before training starts.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sieve_shards::digest::digest_file;
use sieve_shards::manifest::BlendManifest;

pub struct BlendDir {
    pub dir: PathBuf,
    pub manifest: BlendManifest,
    /// `(weight as written, prefix path)` in blend-file order.
    pub entries: Vec<(f64, PathBuf)>,
}

impl BlendDir {
    pub fn open(dir: &Path, verify_sha256: bool) -> Result<BlendDir> {
        let manifest = BlendManifest::load(dir)?;
        if manifest.format != "sieve-blend" {
            bail!(
                "{}: format {:?} is not a sieve blend",
                dir.join("manifest.json").display(),
                manifest.format
            );
        }
        for (name, want) in &manifest.files {
            let path = dir.join(name);
            let size = std::fs::metadata(&path)
                .with_context(|| format!("{}: listed in the manifest but missing", path.display()))?
                .len();
            if size != want.bytes {
                bail!(
                    "{}: {size} bytes, the manifest says {} (the blend directory changed after it was written)",
                    path.display(),
                    want.bytes
                );
            }
            if verify_sha256 {
                let got = digest_file(&path)?;
                if got.sha256 != want.sha256 {
                    bail!(
                        "{}: sha256 {} differs from the manifest's {}",
                        path.display(),
                        got.sha256,
                        want.sha256
                    );
                }
            }
        }
        let blend_file = dir.join(&manifest.data_args_path);
        let text = std::fs::read_to_string(&blend_file)
            .with_context(|| format!("cannot read {}", blend_file.display()))?;
        let entries = parse_blend(&text)
            .with_context(|| format!("{} is not a Megatron blend", blend_file.display()))?
            .into_iter()
            .map(|(w, p)| (w, dir.join(p)))
            .collect();
        Ok(BlendDir {
            dir: dir.to_path_buf(),
            manifest,
            entries,
        })
    }
}

/// `w1 prefix1 w2 prefix2 …` (whitespace-separated), or a single prefix with weight 1.
pub fn parse_blend(text: &str) -> Result<Vec<(f64, String)>> {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    if tokens.len() == 1 {
        return Ok(vec![(1.0, tokens[0].to_string())]);
    }
    if tokens.is_empty() || !tokens.len().is_multiple_of(2) {
        bail!(
            "expected weight and prefix pairs, found {} words",
            tokens.len()
        );
    }
    tokens
        .chunks(2)
        .map(|pair| {
            let w: f64 = pair[0]
                .parse()
                .with_context(|| format!("weight {:?} is not a number", pair[0]))?;
            if !(w.is_finite() && w >= 0.0) {
                bail!("weight {w} of {} is not a non-negative number", pair[1]);
            }
            Ok((w, pair[1].to_string()))
        })
        .collect()
}
