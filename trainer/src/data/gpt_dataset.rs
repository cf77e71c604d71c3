//! Megatron-LM's GPTDataset indices, computed as Megatron computes them, so that sample k of a
//! split is the same token window Megatron would serve for the same prefix, split, seed,
//! sequence length and sample count:
//!
//! * the **document index**: the split's documents repeated for every epoch and shuffled with
//!   numpy's RandomState (the last epoch shuffled on its own when only a small part of it is
//!   needed);
//! * the **sample index**: where each window of `seq + 1` tokens starts in that stream of
//!   documents (windows overlap by one token: the last target is the next input);
//! * the **shuffle index**: a permutation of the samples, from the same generator.

use anyhow::{bail, Result};

use sieve_shards::mt19937::RandomState;

/// Megatron's `add_extra_token_to_sequence`: each sample has one token more than the
/// sequence, so inputs and targets are the same window shifted by one.
pub const EXTRA: u64 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptIndices {
    pub document: Vec<i32>,
    /// `(position in the document index, offset in that document)` of sample starts; one
    /// more row than samples.
    pub sample: Vec<[i64; 2]>,
    pub shuffle: Vec<u64>,
}

/// Epochs needed for `num_samples` windows: the smallest E with E·tokens ≥ N·seq + 1.
pub fn num_epochs(tokens_per_epoch: u64, num_samples: u64, seq: u64) -> u64 {
    let need = num_samples * seq + EXTRA;
    let mut epochs = 1;
    let mut tokens = tokens_per_epoch;
    while tokens < need {
        epochs += 1;
        tokens += tokens_per_epoch;
    }
    epochs
}

fn document_index(
    docs: &[i32],
    epochs: u64,
    rs: &mut RandomState,
    separate_last: bool,
) -> Vec<i32> {
    if !separate_last || epochs == 1 {
        let mut all = Vec::with_capacity(docs.len() * epochs as usize);
        for _ in 0..epochs {
            all.extend_from_slice(docs);
        }
        rs.shuffle(&mut all);
        return all;
    }
    let mut first = document_index(docs, epochs - 1, rs, false);
    first.extend(document_index(docs, 1, rs, false));
    first
}

/// helpers.cpp `build_sample_idx` with `drop_last`.
fn sample_index(
    sizes: &[i32],
    doc: &[i32],
    seq: u64,
    epochs: u64,
    tokens_per_epoch: u64,
) -> Vec<[i64; 2]> {
    let n = (epochs * tokens_per_epoch - EXTRA) / seq;
    let mut out = Vec::with_capacity(n as usize + 1);
    out.push([0, 0]);
    let (mut i, mut off) = (0usize, 0i64);
    for _ in 0..n {
        let mut remaining = (seq + EXTRA) as i64;
        while remaining != 0 {
            let len = sizes[doc[i] as usize] as i64 - off;
            remaining -= len;
            if remaining <= 0 {
                off += remaining + len - EXTRA as i64;
                remaining = 0;
            } else {
                i += 1;
                off = 0;
            }
        }
        out.push([i as i64, off]);
    }
    out
}

fn shuffle_index(first: u64, total: u64, rs: &mut RandomState) -> Vec<u64> {
    let mut a: Vec<u64> = (0..first).collect();
    rs.shuffle(&mut a);
    if first < total {
        let mut b: Vec<u64> = (first..total).collect();
        rs.shuffle(&mut b);
        a.extend(b);
    }
    a
}

/// The three indices for the documents `docs` (a split's contiguous range) of a prefix whose
/// document lengths are `sizes`, for `num_samples` samples, or one epoch's worth when
/// `None` (Megatron builds a GPTDataset of an unweighted blend so).
pub fn build(
    sizes: &[i32],
    docs: &[i32],
    seq: u64,
    num_samples: Option<u64>,
    seed: u32,
) -> Result<GptIndices> {
    if seq == 0 {
        bail!("sequence length is zero");
    }
    let tokens_per_epoch: u64 = docs.iter().map(|&d| sizes[d as usize] as u64).sum();
    if tokens_per_epoch <= EXTRA {
        bail!(
            "the split has {tokens_per_epoch} tokens in {} documents: too few for one sample",
            docs.len()
        );
    }
    let epochs = num_samples.map_or(1, |n| num_epochs(tokens_per_epoch, n, seq));
    let (separate_last, from_full_epochs) = match num_samples {
        Some(num_samples) if epochs > 1 => {
            let from_full = ((epochs - 1) * tokens_per_epoch - EXTRA) / seq;
            let per_epoch = (tokens_per_epoch - EXTRA) / seq;
            // Python's int(0.80 * per_epoch).
            let threshold = (0.80 * per_epoch as f64) as u64;
            (num_samples.saturating_sub(from_full) < threshold, from_full)
        }
        _ => (false, 0),
    };
    let mut rs = RandomState::new(seed);
    let document = document_index(docs, epochs, &mut rs, separate_last);
    let sample = sample_index(sizes, &document, seq, epochs, tokens_per_epoch);
    let total = sample.len() as u64 - 1;
    let shuffle = if separate_last {
        shuffle_index(from_full_epochs, total, &mut rs)
    } else {
        shuffle_index(total, total, &mut rs)
    };
    Ok(GptIndices {
        document,
        sample,
        shuffle,
    })
}
