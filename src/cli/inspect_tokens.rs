//! `sieve inspect` on token outputs: a blend's manifest (with its files checked), a tokenize
//! output, or one Megatron prefix (counts, lengths, and its first documents decoded).

use std::path::Path;

use anyhow::Result;
use serde_json::json;

use crate::blend::manifest::BlendManifest;
use crate::io::digest::digest_file;
use crate::io::indexed::IndexedReader;
use crate::tokenize::Tokenizer;

/// What `path` is, if it is a token output.
pub fn token_output(path: &Path, limit: usize, verify: bool) -> Result<Option<serde_json::Value>> {
    if path.is_dir() && path.join(crate::blend::manifest::MANIFEST).exists() {
        return blend(path, verify).map(Some);
    }
    if path.is_dir() && path.join(crate::tokenize::step::MANIFEST).exists() {
        let m = crate::tokenize::step::load_manifest(path)?;
        return Ok(Some(json!({
            "kind": "tokenize output",
            "dir": path.display().to_string(),
            "tokenizer": m.tokenizer,
            "dtype": m.dtype,
            "documents_read": m.documents_read,
            "empty": m.empty,
            "errors": m.errors,
            "datasets": m.datasets.iter().map(|(name, d)| (name.clone(), json!({
                "documents": d.documents, "tokens": d.tokens, "prefixes": d.prefixes.len(),
            }))).collect::<serde_json::Map<_, _>>(),
        })));
    }
    match crate::io::indexed::existing_prefix(path) {
        Some(prefix) => indexed(&prefix, limit).map(Some),
        None => Ok(None),
    }
}

fn blend(dir: &Path, verify: bool) -> Result<serde_json::Value> {
    let m = BlendManifest::load(dir)?;
    // Sizes always; sha256 with --verify (it reads every byte).
    let mut problems = Vec::new();
    for (file, digest) in &m.files {
        let p = dir.join(file);
        match std::fs::metadata(&p) {
            Err(_) => problems.push(format!("{file}: missing")),
            Ok(md) if md.len() != digest.bytes => problems.push(format!(
                "{file}: {} bytes, manifest says {}",
                md.len(),
                digest.bytes
            )),
            Ok(_) if verify => {
                if digest_file(&p)?.sha256 != digest.sha256 {
                    problems.push(format!("{file}: sha256 differs from the manifest"));
                }
            }
            Ok(_) => {}
        }
    }
    Ok(json!({
        "kind": "blend",
        "dir": dir.display().to_string(),
        "config_sha256": m.config_sha256,
        "tokenizer": m.tokenizer.encoding,
        "dtype": m.dtype,
        "seq_length": m.seq_length,
        "target_tokens": m.target_tokens,
        "split": m.split,
        "seed": m.seed,
        "datasets": m.datasets.iter().map(|d| (d.name.clone(), json!({
            "weight": d.normalized_weight,
            "documents": d.documents,
            "tokens": d.tokens,
            "splits": d.splits,
        }))).collect::<serde_json::Map<_, _>>(),
        "streams": m.streams,
        "files": m.files.len(),
        "checked": if verify { "sizes and sha256" } else { "sizes (--verify for sha256)" },
        "problems": problems,
    }))
}

fn indexed(prefix: &Path, limit: usize) -> Result<serde_json::Value> {
    let r = IndexedReader::open(prefix)?;
    let lengths: Vec<u64> = r.lengths.iter().map(|&l| l as u64).collect();
    let tokens: u64 = lengths.iter().sum();
    let (_, info) = super::sample::locate(prefix)?;
    let tokenizer = info
        .as_ref()
        .map(|i| Tokenizer::by_name(&i.name))
        .transpose()?;
    let mut first = Vec::new();
    let mut ids = Vec::new();
    for k in 0..limit.min(r.len()) {
        r.tokens(k, &mut ids)?;
        let text = tokenizer.as_ref().map(|t| {
            let shown = &ids[..ids.len().min(60)];
            String::from_utf8_lossy(&t.decode(shown)).into_owned()
        });
        first.push(json!({ "tokens": ids.len(), "start": text }));
    }
    Ok(json!({
        "kind": "megatron indexed dataset (MMIDIDX v1)",
        "prefix": prefix.display().to_string(),
        "dtype": r.dtype,
        "tokenizer": info.map(|i| i.encoding),
        "documents": r.len(),
        "tokens": tokens,
        "min_length": lengths.iter().min(),
        "mean_length": if lengths.is_empty() { 0.0 } else { tokens as f64 / lengths.len() as f64 },
        "max_length": lengths.iter().max(),
        "first": first,
    }))
}
