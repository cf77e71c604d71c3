//! `manifest.json` of a blend: what was built, from what, and the checksum of every file.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::digest::FileDigest;
use crate::indexed::TokenDtype;
use crate::tokenizer::TokenizerInfo;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlendManifest {
    pub format: String,
    pub created_by: String,
    /// sha256 of the configuration: the spec (without paths), the tokenizer, and the
    /// checksums of every input prefix, so equal hashes mean equal outputs.
    pub config_sha256: String,
    pub tokenizer: TokenizerInfo,
    pub dtype: TokenDtype,
    pub dtype_code: u8,
    pub seq_length: u32,
    pub target_tokens: u64,
    pub split: String,
    pub split_fractions: [f64; 3],
    pub seed: u64,
    /// The blending order: `megatron` or `bounded`.
    pub rule: crate::indices::BlendRule,
    /// Megatron: `--data-args-path blend.txt --split <split>`, run from this directory.
    pub data_args_path: String,
    pub datasets: Vec<DatasetEntry>,
    pub streams: BTreeMap<String, StreamEntry>,
    pub files: BTreeMap<String, FileDigest>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetEntry {
    pub name: String,
    pub weight: f64,
    pub normalized_weight: f64,
    pub max_epochs: Option<f64>,
    pub documents: u64,
    pub tokens: u64,
    pub prefix: String,
    pub splits: BTreeMap<String, SplitEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitEntry {
    pub documents: u64,
    pub tokens: u64,
    /// Samples of `seq_length` tokens the blend draws from this split.
    pub samples: u64,
    /// Realised epochs: samples · seq_length / tokens.
    pub epochs: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamEntry {
    /// None with `--no-stream` (the indices are still written).
    pub prefix: Option<String>,
    /// The largest distance, over every prefix of the stream and every dataset, between the
    /// samples drawn and weight × prefix length.
    pub largest_share_error: f64,
    pub samples: u64,
    pub tokens: u64,
}

/// The manifest's file name in a blend directory.
pub const MANIFEST: &str = "manifest.json";

impl BlendManifest {
    /// Reads `DIR/manifest.json`.
    pub fn load(dir: &Path) -> Result<BlendManifest> {
        let path = dir.join(MANIFEST);
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a blend manifest", path.display()))
    }
}
