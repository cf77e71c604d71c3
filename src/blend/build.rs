//! `sieve blend`: the datasets of a spec → per-dataset Megatron prefixes (for Megatron's own
//! blending: `blend.txt`), the blended sample stream of each split (for trainers without
//! blending), the blending indices as Megatron caches them, and `manifest.json`, written
//! last: a directory with a manifest is complete, and the manifest's checksums say which
//! bytes it vouches for.
//!
//! Output:
//! ```text
//! OUT/datasets/<name>_text_document.{bin,idx}   every document of the dataset, shuffled
//! OUT/blend.txt                                 "w1 datasets/a_text_document w2 …"
//! OUT/stream/<split>_text_document.{bin,idx}    one sequence per sample, in blend order
//! OUT/stream/<split>_dataset_index.npy          int16: the dataset of each sample
//! OUT/stream/<split>_dataset_sample_index.npy   int64: its position in that dataset's stream
//! OUT/manifest.json
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::indices::{largest_share_error, normalize, parse_split, split_ranges};
use super::manifest::{new_manifest, BlendManifest, DatasetEntry, SplitEntry, StreamEntry};
use super::source::{DatasetSource, SampleStream};
use super::spec::BlendSpec;
use crate::io::digest::{write_digested, FileDigest};
use crate::io::indexed::IndexedWriter;
use crate::io::npy::write_npy;
use crate::pipeline::tasks::write_json;

pub const SPLITS: [&str; 3] = ["train", "valid", "test"];

pub struct BuildOptions {
    /// Where datasets without a `path` are (`<root>/<name>`): a pipeline's tokens.
    pub default_root: Option<PathBuf>,
    /// Skip the blended stream (Megatron blends the per-dataset prefixes itself).
    pub no_stream: bool,
    pub quiet: bool,
}

/// Samples of each split: `ceil(target_tokens · fraction / seq_length)` (0 for a split of
/// fraction 0: `parse_split` gives no negative fraction).
pub fn split_samples(spec: &BlendSpec, fractions: [f64; 3]) -> [u64; 3] {
    fractions.map(|f| (spec.target_tokens as f64 * f / spec.seq_length as f64).ceil() as u64)
}

pub fn build_blend(spec: &BlendSpec, out: &Path, opts: &BuildOptions) -> Result<BlendManifest> {
    spec.validate()?;
    let manifest_path = out.join(super::manifest::MANIFEST);
    // A stale manifest must never vouch for files this run is about to replace.
    if manifest_path.exists() {
        std::fs::remove_file(&manifest_path)
            .with_context(|| format!("cannot remove {}", manifest_path.display()))?;
    }
    let fractions = parse_split(&spec.split)?;
    let weights = normalize(&spec.datasets.iter().map(|d| d.weight).collect::<Vec<_>>());
    let mut sources = Vec::new();
    for d in &spec.datasets {
        let path = spec.dataset_path(d, opts.default_root.as_deref())?;
        sources.push(DatasetSource::open(&d.name, &path, spec.seed)?);
    }
    let tokenizer = sources[0].manifest.tokenizer.clone();
    for s in &sources[1..] {
        if s.manifest.tokenizer != tokenizer {
            bail!(
                "dataset {} was tokenized with {} but {} with {}: a blend needs one tokenizer",
                s.name,
                s.manifest.tokenizer.name,
                sources[0].name,
                tokenizer.name
            );
        }
    }
    let dtype = sources[0].dtype();
    let samples = split_samples(spec, fractions);

    // Plan: the indices of every split, and each dataset's draw per split, checked against
    // its tokens and epoch cap before anything is written.
    let mut entries: Vec<DatasetEntry> = Vec::new();
    let plans: Vec<(Vec<i16>, Vec<i64>)> = samples
        .iter()
        .map(|&n| spec.rule.indices(&weights, n as usize))
        .collect();
    // Samples drawn from each dataset, per split: one pass over each plan.
    let drawn_per_split: Vec<Vec<u64>> = plans
        .iter()
        .map(|(dataset_index, _)| {
            let mut drawn = vec![0u64; sources.len()];
            for &k in dataset_index {
                drawn[k as usize] += 1;
            }
            drawn
        })
        .collect();
    let ranges: Vec<[Option<(u64, u64)>; 3]> = sources
        .iter()
        .map(|src| split_ranges(fractions, src.order.len() as u64))
        .collect();
    for (k, (d, src)) in spec.datasets.iter().zip(&sources).enumerate() {
        let mut splits = BTreeMap::new();
        for (s, name) in SPLITS.iter().enumerate() {
            let Some(range) = ranges[k][s] else { continue };
            let drawn = drawn_per_split[s][k];
            let tokens = src.tokens_in(range);
            let epochs = if tokens > 0 {
                drawn as f64 * spec.seq_length as f64 / tokens as f64
            } else {
                0.0
            };
            if drawn > 0 && tokens == 0 {
                bail!(
                    "dataset {}: {drawn} samples wanted from its {name} split, which has no tokens ({} documents in all)",
                    d.name,
                    src.order.len()
                );
            }
            if let Some(cap) = d.max_epochs {
                if epochs > cap {
                    bail!(
                        "dataset {}: the {name} split would be repeated {epochs:.3} times, over its max_epochs {cap}; lower its weight or target_tokens, or add data",
                        d.name
                    );
                }
            }
            splits.insert(
                name.to_string(),
                SplitEntry {
                    documents: range.1 - range.0,
                    tokens,
                    samples: drawn,
                    epochs,
                },
            );
        }
        entries.push(DatasetEntry {
            name: d.name.clone(),
            weight: d.weight,
            normalized_weight: weights[k],
            max_epochs: d.max_epochs,
            documents: src.order.len() as u64,
            tokens: src.tokens_in((0, src.order.len() as u64)),
            prefix: format!("datasets/{}_text_document", d.name),
            splits,
        });
    }

    let mut files: BTreeMap<String, FileDigest> = BTreeMap::new();
    // Per-dataset prefixes, in each dataset's shuffled order.
    let mut raw = Vec::new();
    for (entry, src) in entries.iter().zip(&sources) {
        let mut w = IndexedWriter::create(&out.join(&entry.prefix), dtype)?;
        for &doc in &src.order {
            src.raw(doc, &mut raw)?;
            w.add_raw(&raw)?;
        }
        let written = w.finish()?;
        files.insert(format!("{}.bin", entry.prefix), written.bin);
        files.insert(format!("{}.idx", entry.prefix), written.idx);
        if !opts.quiet {
            eprintln!(
                "sieve blend: {} — {} documents, {} tokens",
                entry.name, written.documents, written.tokens
            );
        }
    }
    let blend_txt: String = entries
        .iter()
        .map(|e| format!("{} {}", e.weight, e.prefix))
        .collect::<Vec<_>>()
        .join(" ")
        + "\n";
    files.insert(
        "blend.txt".into(),
        write_digested(&out.join("blend.txt"), blend_txt.as_bytes())?,
    );

    // The blended streams.
    let mut streams = BTreeMap::new();
    for (s, split) in SPLITS.iter().enumerate() {
        let (dataset_index, sample_index) = &plans[s];
        if dataset_index.is_empty() {
            continue;
        }
        let base = format!("stream/{split}");
        files.insert(
            format!("{base}_dataset_index.npy"),
            write_npy(
                &out.join(format!("{base}_dataset_index.npy")),
                dataset_index,
            )?,
        );
        files.insert(
            format!("{base}_dataset_sample_index.npy"),
            write_npy(
                &out.join(format!("{base}_dataset_sample_index.npy")),
                sample_index,
            )?,
        );
        let mut entry = StreamEntry {
            prefix: None,
            largest_share_error: largest_share_error(&weights, dataset_index),
            samples: dataset_index.len() as u64,
            tokens: dataset_index.len() as u64 * spec.seq_length as u64,
        };
        if !opts.no_stream {
            let prefix = format!("{base}_text_document");
            let mut readers: Vec<SampleStream> = sources
                .iter()
                .zip(&ranges)
                .map(|(src, r)| SampleStream::new(src, split, r[s].unwrap_or((0, 0)), spec.seed))
                .collect();
            let mut w = IndexedWriter::create(&out.join(&prefix), dtype)?;
            let mut sample = Vec::new();
            for (&k, &expected) in dataset_index.iter().zip(sample_index) {
                let stream = &mut readers[k as usize];
                debug_assert_eq!(stream.drawn, expected as u64);
                sample.clear();
                stream.next_sample(spec.seq_length, &mut sample)?;
                w.add_raw(&sample)?;
            }
            let written = w.finish()?;
            files.insert(format!("{prefix}.bin"), written.bin);
            files.insert(format!("{prefix}.idx"), written.idx);
            entry.prefix = Some(prefix);
        }
        if !opts.quiet {
            eprintln!(
                "sieve blend: {split} stream — {} samples of {} tokens",
                entry.samples, spec.seq_length
            );
        }
        streams.insert(split.to_string(), entry);
    }

    let manifest = new_manifest(
        spec, fractions, tokenizer, dtype, entries, streams, files, &sources,
    );
    write_json(&manifest_path, &manifest)?;
    Ok(manifest)
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
