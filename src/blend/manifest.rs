//! The blend manifest as `sieve blend` makes it (the types and their reading live in
//! `sieve_shards::manifest`, shared with the trainer).

use std::collections::BTreeMap;

pub use sieve_shards::manifest::*;

use super::source::DatasetSource;
use super::spec::BlendSpec;
use crate::io::digest::{sha256_hex, FileDigest};
use crate::io::indexed::TokenDtype;
use crate::tokenize::TokenizerInfo;

/// The manifest of a blend built from `spec` over `sources`; its `config_sha256` covers the
/// settings and the sha256 of every input prefix.
#[allow(clippy::too_many_arguments)]
pub fn new_manifest(
    spec: &BlendSpec,
    split_fractions: [f64; 3],
    tokenizer: TokenizerInfo,
    dtype: TokenDtype,
    datasets: Vec<DatasetEntry>,
    streams: BTreeMap<String, StreamEntry>,
    files: BTreeMap<String, FileDigest>,
    sources: &[DatasetSource],
) -> BlendManifest {
    let inputs: Vec<serde_json::Value> = spec
        .datasets
        .iter()
        .zip(sources)
        .map(|(d, s)| {
            let shas: Vec<&str> = s
                .parts
                .iter()
                .map(|p| p.written.bin.sha256.as_str())
                .collect();
            serde_json::json!({
                "name": d.name, "weight": d.weight, "max_epochs": d.max_epochs,
                "inputs": shas,
            })
        })
        .collect();
    let config = serde_json::json!({
        "target_tokens": spec.target_tokens, "split": spec.split, "seed": spec.seed,
        "seq_length": spec.seq_length, "rule": spec.rule, "datasets": inputs, "tokenizer": tokenizer,
    });
    let config_sha256 = sha256_hex(config.to_string().as_bytes());
    BlendManifest {
        format: "sieve-blend".into(),
        created_by: format!("sieve {}", env!("CARGO_PKG_VERSION")),
        config_sha256,
        tokenizer,
        dtype,
        dtype_code: dtype.code(),
        seq_length: spec.seq_length,
        target_tokens: spec.target_tokens,
        split: spec.split.clone(),
        split_fractions,
        seed: spec.seed,
        rule: spec.rule,
        data_args_path: "blend.txt".into(),
        datasets,
        streams,
        files,
    }
}
