//! Training samples: `seq + 1` tokens each, served exactly as Megatron-LM's BlendedDataset over
//! GPTDatasets would serve them for the same blend, split, seed, sequence length and sample
//! counts, or read straight from the pre-blended stream.

use std::path::Path;

use anyhow::{bail, Result};
use sieve_shards::indexed::IndexedReader;
use sieve_shards::indices::{build_blending_indices, normalize, parse_split, split_ranges};

use super::blend_dir::{Blend, BlendDir};
use super::gpt_dataset::{self, GptIndices};

/// Megatron's `mid_level_dataset_surplus`: each dataset builds 0.5% more samples than the
/// blend takes from it.
pub const SURPLUS: f64 = 0.005;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train = 0,
    Valid = 1,
    Test = 2,
}

pub struct Member {
    pub reader: IndexedReader,
    pub indices: GptIndices,
}

pub enum SampleSource {
    /// A plain GPTDataset: Megatron's reading of a blend of one prefix without a weight.
    Single { member: Member, seq: usize },
    /// Megatron's BlendedDataset over one GPTDataset per prefix.
    Blended {
        members: Vec<Member>,
        dataset_index: Vec<i16>,
        dataset_sample_index: Vec<i64>,
        seq: usize,
    },
    /// The blend's own stream: sample k is the first `seq + 1` tokens of window k.
    Stream { reader: IndexedReader, seq: usize },
}

/// The per-dataset sample counts Megatron asks for: the blend's share `ceil(N·w)` and the
/// built size with the surplus.
pub fn per_dataset_sizes(weights: &[f64], n: u64) -> Vec<(u64, u64)> {
    weights
        .iter()
        .map(|&w| {
            let target = (n as f64 * w).ceil() as u64;
            let buffer = (target as f64 * (1.0 + SURPLUS)).ceil() as u64;
            (target, buffer)
        })
        .collect()
}

impl SampleSource {
    /// The blended dataset of `split` with `num_samples` samples (Megatron's train/valid
    /// sample counts), from `blend`.
    pub fn blended(
        blend: &BlendDir,
        split: Split,
        num_samples: u64,
        seq: usize,
        seed: u32,
    ) -> Result<SampleSource> {
        Self::from_blend(
            &blend.blend,
            &blend.manifest.split,
            split,
            num_samples,
            seq,
            seed,
        )
    }

    /// The dataset Megatron builds for `blend` in each of its forms: weighted prefixes are a
    /// BlendedDataset of `num_samples`; one prefix without a weight is a plain GPTDataset of
    /// `num_samples`; several without weights are one epoch of each, blended in proportion to
    /// their sample counts, at most `num_samples` of them.
    pub fn from_blend(
        blend: &Blend<std::path::PathBuf>,
        split_spec: &str,
        split: Split,
        num_samples: u64,
        seq: usize,
        seed: u32,
    ) -> Result<SampleSource> {
        let fractions = parse_split(split_spec)?;
        let member = |prefix: &Path, n: Option<u64>| {
            member(prefix, (fractions, split_spec), split, seq, n, seed)
        };
        match blend {
            Blend::Weighted(entries) => {
                Self::blended_from(entries, split_spec, split, num_samples, seq, seed)
            }
            Blend::Unweighted(prefixes) if prefixes.len() == 1 => Ok(SampleSource::Single {
                member: member(&prefixes[0], Some(num_samples))?,
                seq,
            }),
            Blend::Unweighted(prefixes) => {
                let members = prefixes
                    .iter()
                    .map(|p| member(p, None))
                    .collect::<Result<Vec<_>>>()?;
                // Megatron asserts that every blended dataset has a sample.
                for (m, p) in members.iter().zip(prefixes) {
                    if m.indices.shuffle.is_empty() {
                        bail!(
                            "{}: its split holds no sample of {} tokens, and an unweighted blend takes one epoch of each prefix",
                            p.display(),
                            seq + 1
                        );
                    }
                }
                let lengths: Vec<f64> = members
                    .iter()
                    .map(|m| m.indices.shuffle.len() as f64)
                    .collect();
                let available = members.iter().map(|m| m.indices.shuffle.len() as u64).sum();
                let size = num_samples.min(available) as usize;
                let (dataset_index, dataset_sample_index) =
                    build_blending_indices(&normalize(&lengths), size);
                Ok(SampleSource::Blended {
                    members,
                    dataset_index,
                    dataset_sample_index,
                    seq,
                })
            }
        }
    }

    /// The same for any `(weight, prefix)` list and Megatron split string (what
    /// `--data-path w1 p1 w2 p2 … --split S` names).
    pub fn blended_from(
        entries: &[(f64, std::path::PathBuf)],
        split_spec: &str,
        split: Split,
        num_samples: u64,
        seq: usize,
        seed: u32,
    ) -> Result<SampleSource> {
        let fractions = parse_split(split_spec)?;
        let raw: Vec<f64> = entries.iter().map(|e| e.0).collect();
        let weights = normalize(&raw);
        let sizes = per_dataset_sizes(&weights, num_samples);
        let members = entries
            .iter()
            .zip(&sizes)
            .map(|((_, prefix), &(_, buffer))| {
                member(
                    prefix,
                    (fractions, split_spec),
                    split,
                    seq,
                    Some(buffer),
                    seed,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let size: u64 = sizes.iter().map(|s| s.0).sum();
        let (dataset_index, dataset_sample_index) = build_blending_indices(&weights, size as usize);
        Ok(SampleSource::Blended {
            members,
            dataset_index,
            dataset_sample_index,
            seq,
        })
    }

    /// The pre-blended stream `stream/<split>_text_document` of a blend.
    pub fn stream(blend: &BlendDir, split: Split, seq: usize) -> Result<SampleSource> {
        let name = match split {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        };
        let Some(entry) = blend.manifest.streams.get(name) else {
            bail!("{}: the blend has no {name} stream", blend.dir.display());
        };
        let Some(prefix) = &entry.prefix else {
            bail!(
                "{}: the {name} stream was not written (--no-stream)",
                blend.dir.display()
            );
        };
        let reader = IndexedReader::open(&blend.dir.join(prefix))?;
        if seq + 1 > blend.manifest.seq_length as usize {
            bail!(
                "the stream's windows are {} tokens: a sample of {seq} + 1 does not fit (use --seq-len {} or less)",
                blend.manifest.seq_length,
                blend.manifest.seq_length - 1
            );
        }
        Ok(SampleSource::Stream { reader, seq })
    }

    pub fn len(&self) -> u64 {
        match self {
            SampleSource::Single { member, .. } => member.indices.shuffle.len() as u64,
            SampleSource::Blended { dataset_index, .. } => dataset_index.len() as u64,
            SampleSource::Stream { reader, .. } => reader.len() as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn seq(&self) -> usize {
        match self {
            SampleSource::Single { seq, .. }
            | SampleSource::Blended { seq, .. }
            | SampleSource::Stream { seq, .. } => *seq,
        }
    }

    /// Sample `k`: `seq + 1` tokens appended to `out`.
    pub fn sample(&self, k: u64, out: &mut Vec<u32>) -> Result<()> {
        match self {
            SampleSource::Single { member, seq } => {
                gpt_sample(&member.reader, &member.indices, k, *seq, out)
            }
            SampleSource::Blended {
                members,
                dataset_index,
                dataset_sample_index,
                seq,
            } => {
                let d = dataset_index[k as usize] as usize;
                let m = &members[d];
                let s = dataset_sample_index[k as usize] as u64;
                gpt_sample(&m.reader, &m.indices, s, *seq, out)
            }
            SampleSource::Stream { reader, seq } => {
                let mut tokens = Vec::new();
                reader.tokens(k as usize, &mut tokens)?;
                if tokens.len() < seq + 1 {
                    bail!(
                        "{}: window {k} has {} tokens, fewer than {}",
                        reader.prefix.display(),
                        tokens.len(),
                        seq + 1
                    );
                }
                out.extend_from_slice(&tokens[..seq + 1]);
                Ok(())
            }
        }
    }
}

/// GPTDataset `__getitem__`: sample `k` through the shuffle index, from its start row to the
/// next row's offset inclusive.
fn gpt_sample(
    reader: &IndexedReader,
    ix: &GptIndices,
    k: u64,
    seq: usize,
    out: &mut Vec<u32>,
) -> Result<()> {
    if k as usize >= ix.shuffle.len() {
        bail!(
            "{}: sample {k} asked of a dataset built with {} (raise the surplus)",
            reader.prefix.display(),
            ix.shuffle.len()
        );
    }
    let j = ix.shuffle[k as usize] as usize;
    let [i0, o0] = ix.sample[j];
    let [i1, o1] = ix.sample[j + 1];
    let start = out.len();
    let mut doc = Vec::new();
    for i in i0..=i1 {
        reader.tokens(ix.document[i as usize] as usize, &mut doc)?;
        let from = if i == i0 { o0 as usize } else { 0 };
        let to = if i == i1 { o1 as usize + 1 } else { doc.len() };
        out.extend_from_slice(&doc[from..to]);
    }
    if out.len() - start != seq + 1 {
        bail!(
            "{}: sample {k} has {} tokens, expected {}",
            reader.prefix.display(),
            out.len() - start,
            seq + 1
        );
    }
    Ok(())
}

/// Indices of `prefix`'s split, for tests and `sieve-train data` inspection.
pub fn indices_for(
    prefix: &Path,
    split_spec: &str,
    which: usize,
    seq: u64,
    n: u64,
    seed: u32,
) -> Result<GptIndices> {
    let reader = IndexedReader::open(prefix)?;
    split_indices(
        &reader,
        parse_split(split_spec)?,
        split_spec,
        which,
        seq,
        Some(n),
        seed,
    )
}

/// The GPTDataset indices of split `which` (Megatron's contiguous document range) of one
/// prefix, for `n` samples of `seq + 1` tokens (one epoch's worth when `None`).
fn split_indices(
    reader: &IndexedReader,
    fractions: [f64; 3],
    split_spec: &str,
    which: usize,
    seq: u64,
    n: Option<u64>,
    seed: u32,
) -> Result<GptIndices> {
    let prefix = reader.prefix.display();
    let Some((beg, end)) = split_ranges(fractions, reader.len() as u64)[which] else {
        bail!("{prefix}: split {which} of {split_spec:?} is empty");
    };
    if beg == end {
        bail!("{prefix}: split {which} of {split_spec:?} has no documents");
    }
    let docs: Vec<i32> = (beg as i32..end as i32).collect();
    gpt_dataset::build(&reader.lengths, &docs, seq, n, seed)
        .map_err(|e| anyhow::anyhow!("{prefix}: {e}"))
}

/// One dataset of a blend: its documents and the sample indices of `split` (`n` samples, or
/// one epoch when None) under the split spec (parsed, and as written), as Megatron's
/// GPTDataset builds them.
fn member(
    prefix: &Path,
    (fractions, split_spec): ([f64; 3], &str),
    split: Split,
    seq: usize,
    n: Option<u64>,
    seed: u32,
) -> Result<Member> {
    let reader = IndexedReader::open(prefix)?;
    let indices = split_indices(
        &reader,
        fractions,
        split_spec,
        split as usize,
        seq as u64,
        n,
        seed,
    )?;
    Ok(Member { reader, indices })
}
