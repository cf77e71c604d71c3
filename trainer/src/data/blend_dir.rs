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
    /// The blend file's prefixes (as paths), with their weights if it gives them.
    pub blend: Blend<PathBuf>,
}

/// A blend as Megatron's `get_blend_from_list` reads `--data-path` (or the words of
/// `--data-args-path`), in file order.
#[derive(Debug, Clone, PartialEq)]
pub enum Blend<P> {
    /// `w1 p1 w2 p2 …`: a BlendedDataset drawing from each prefix in proportion to its weight,
    /// each prefix's GPTDataset built 0.5% larger than its share.
    Weighted(Vec<(f64, P)>),
    /// Prefixes without weights: an odd number of words, or pairs whose first words are not
    /// numbers. One prefix is a plain GPTDataset of the samples asked; several are one epoch
    /// of each, blended in proportion to their sizes.
    Unweighted(Vec<P>),
}

impl<P> Blend<P> {
    /// The same blend with every prefix mapped (e.g. joined to the blend directory).
    pub fn map<Q>(self, mut f: impl FnMut(P) -> Q) -> Blend<Q> {
        match self {
            Blend::Weighted(entries) => {
                Blend::Weighted(entries.into_iter().map(|(w, p)| (w, f(p))).collect())
            }
            Blend::Unweighted(prefixes) => Blend::Unweighted(prefixes.into_iter().map(f).collect()),
        }
    }
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
        let blend = parse_blend(&text)
            .with_context(|| format!("{} is not a Megatron blend", blend_file.display()))?
            .map(|p| dir.join(p));
        Ok(BlendDir {
            dir: dir.to_path_buf(),
            manifest,
            blend,
        })
    }
}

/// The words of a blend file, read as Megatron reads them: an odd number of words is a list
/// of prefixes; an even number is `weight prefix` pairs if every first word is a number, and
/// a list of prefixes if none is. A file mixing the two is refused (Megatron asserts).
pub fn parse_blend(text: &str) -> Result<Blend<String>> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        bail!("the blend file names no prefix");
    }
    let prefixes = || Blend::Unweighted(words.iter().map(|w| w.to_string()).collect());
    if words.len() % 2 == 1 {
        return Ok(prefixes());
    }
    let weights: Vec<Option<f64>> = words.iter().step_by(2).map(|w| w.parse().ok()).collect();
    if weights.iter().all(Option::is_none) {
        return Ok(prefixes());
    }
    if let Some(k) = weights.iter().position(Option::is_none) {
        bail!(
            "word {} ({:?}) is not a weight, but other pairs have one: weight every prefix or none",
            2 * k + 1,
            words[2 * k]
        );
    }
    let entries = words
        .chunks(2)
        .zip(weights)
        .map(|(pair, w)| {
            let w = w.expect("every weight parsed");
            if !(w.is_finite() && w >= 0.0) {
                bail!("weight {w} of {} is not a non-negative number", pair[1]);
            }
            Ok((w, pair[1].to_string()))
        })
        .collect::<Result<_>>()?;
    Ok(Blend::Weighted(entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unweighted(words: &[&str]) -> Blend<String> {
        Blend::Unweighted(words.iter().map(|w| w.to_string()).collect())
    }

    #[test]
    fn every_form_megatron_accepts() {
        assert_eq!(
            parse_blend(" a_text_document\n").unwrap(),
            unweighted(&["a_text_document"])
        );
        assert_eq!(parse_blend("a b c").unwrap(), unweighted(&["a", "b", "c"]));
        assert_eq!(parse_blend("a b").unwrap(), unweighted(&["a", "b"]));
        assert_eq!(
            parse_blend("0.3 a\n7e-1 b").unwrap(),
            Blend::Weighted(vec![(0.3, "a".into()), (0.7, "b".into())])
        );
        assert_eq!(
            parse_blend("1 a").unwrap(),
            Blend::Weighted(vec![(1.0, "a".into())])
        );
        // An odd count is a list even when some words look like numbers.
        assert_eq!(parse_blend("1 a b").unwrap(), unweighted(&["1", "a", "b"]));
    }

    #[test]
    fn blends_megatron_would_refuse_are_refused() {
        for bad in [
            "", "  \n", "1 a b c", "a b 1 c", "-1 a 2 b", "inf a", "NaN a",
        ] {
            assert!(parse_blend(bad).is_err(), "{bad:?}");
        }
        let err = parse_blend("0.5 a b c").unwrap_err().to_string();
        assert!(err.contains("word 3 (\"b\")"), "{err}");
    }
}
