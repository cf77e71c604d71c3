//! `sieve inspect PATH`: what is in a WARC file, a shard file, a run directory, or a token
//! output (a blend, a tokenize output, a `.bin/.idx` prefix: see `inspect_tokens`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use serde_json::json;

use super::Outcome;
use crate::io::http_payload::parse_response;
use crate::io::shards::{parquet_row_count, read_docs, ShardFormat};
use crate::io::source::{resolve, InputKind, Resolve};
use crate::io::warc::{RecordType, TypeFilter, WarcReader};
use crate::pipeline::runner::sum_stats;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A WARC/WET file (local or URL), a .parquet/.jsonl shard, a run output directory, a
    /// blend or tokenize output, or a Megatron .bin/.idx prefix.
    pub path: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// How many records or documents to show.
    #[arg(short = 'n', long, default_value_t = 3)]
    pub limit: usize,
    /// For a blend: check every file's sha256 against the manifest (reads every byte).
    #[arg(long)]
    pub verify: bool,
}

pub fn run(a: InspectArgs) -> Result<Outcome> {
    let path = Path::new(&a.path);
    let report = if let Some(r) = super::inspect_tokens::token_output(path, a.limit, a.verify)? {
        r
    } else if path.is_dir() {
        inspect_dir(path)?
    } else if ShardFormat::from_path(&a.path).is_some() {
        inspect_shard(path, a.limit)?
    } else {
        inspect_warc(&a.path, a.limit)?
    };
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write_text(&mut out, &report, 0)?;
    }
    Ok(Outcome::Ok)
}

fn write_text(out: &mut impl Write, v: &serde_json::Value, indent: usize) -> std::io::Result<()> {
    let pad = "  ".repeat(indent);
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match v {
                    serde_json::Value::Object(_) | serde_json::Value::Array(_) => {
                        writeln!(out, "{pad}{k}:")?;
                        write_text(out, v, indent + 1)?;
                    }
                    _ => writeln!(out, "{pad}{k}: {}", scalar(v))?,
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                match item {
                    serde_json::Value::Object(_) => {
                        writeln!(out, "{pad}-")?;
                        write_text(out, item, indent + 1)?;
                    }
                    _ => writeln!(out, "{pad}- {}", scalar(item))?,
                }
            }
        }
        _ => writeln!(out, "{pad}{}", scalar(v))?,
    }
    Ok(())
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn snippet(text: &str, chars: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut s: String = flat.chars().take(chars).collect();
    if flat.chars().count() > chars {
        s.push('…');
    }
    s
}

/// Record counts by type, HTTP statuses and media types, and every error, of one WARC file.
fn inspect_warc(arg: &str, limit: usize) -> Result<serde_json::Value> {
    let input = resolve(&[arg.to_string()], &Resolve::default())?
        .into_iter()
        .next()
        .context("no input")?;
    let mut reader = WarcReader::new(input.open()?, TypeFilter::all());
    let mut types: BTreeMap<String, u64> = BTreeMap::new();
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    let mut mimes: BTreeMap<String, u64> = BTreeMap::new();
    let mut errors = Vec::new();
    let mut samples = Vec::new();
    let (mut records, mut block_bytes) = (0u64, 0u64);
    for item in reader.by_ref() {
        match item {
            Ok(r) => {
                records += 1;
                block_bytes += r.block.len() as u64;
                *types.entry(r.record_type.as_str().to_string()).or_default() += 1;
                if r.record_type == RecordType::Response {
                    if let Ok((head, _)) = parse_response(&r.block) {
                        *statuses.entry(head.status.to_string()).or_default() += 1;
                        let mime = head.mime_type().unwrap_or_else(|| "(none)".into());
                        *mimes.entry(mime).or_default() += 1;
                    }
                }
                if samples.len() < limit
                    && matches!(r.record_type, RecordType::Response | RecordType::Conversion)
                {
                    samples.push(json!({
                        "offset": r.location.key(),
                        "type": r.record_type.as_str(),
                        "uri": r.target_uri(),
                        "record_id": r.record_id(),
                        "bytes": r.block.len(),
                    }));
                }
            }
            Err(e) => errors.push(json!({
                "kind": e.kind.as_str(),
                "offset": e.location.key(),
                "record_id": e.record_id,
                "message": e.to_string(),
            })),
        }
    }
    Ok(json!({
        "file": input.to_string(),
        "kind": "warc",
        "compression": reader.compression().map_or("none", |c| c.name()),
        "records": records,
        "block_bytes": block_bytes,
        "types": types,
        "http_status": statuses,
        "content_types": mimes,
        "errors": errors,
        "samples": samples,
    }))
}

/// Row count and the first documents of a shard file.
fn inspect_shard(path: &Path, limit: usize) -> Result<serde_json::Value> {
    let name = path.display().to_string();
    let mut report = json!({ "file": name, "kind": "shard" });
    let mut docs = read_docs(path)?;
    let mut samples = Vec::new();
    let mut rows = 0u64;
    let mut bytes = 0u64;
    let mut datasets: BTreeMap<String, u64> = BTreeMap::new();
    for d in docs.by_ref() {
        let d = d?;
        rows += 1;
        bytes += d.text_bytes();
        *datasets.entry(d.dataset.clone()).or_default() += 1;
        if samples.len() < limit {
            samples.push(json!({
                "id": d.id, "url": d.url, "lang": d.lang, "chars": d.text.chars().count(),
                "text": snippet(&d.text, 160),
            }));
        }
    }
    report["documents"] = json!(rows);
    report["text_bytes"] = json!(bytes);
    report["datasets"] = json!(datasets);
    if ShardFormat::from_path(&name) == Some(ShardFormat::Parquet) {
        let (_, groups) = parquet_row_count(path)?;
        report["row_groups"] = json!(groups);
    }
    report["samples"] = json!(samples);
    Ok(report)
}

/// Stats, markers and shard files of a run directory.
fn inspect_dir(dir: &Path) -> Result<serde_json::Value> {
    let stats = sum_stats(dir)?;
    let done = std::fs::read_dir(dir.join("done"))
        .map(|d| d.count())
        .unwrap_or(0);
    let shards = resolve(
        &[dir.to_string_lossy().into_owned()],
        &Resolve {
            kind: InputKind::Shards,
            ..Default::default()
        },
    )
    .unwrap_or_default();
    let files: Vec<serde_json::Value> = shards
        .iter()
        .filter(|i| !i.key.starts_with("rejected/"))
        .filter_map(|i| i.local_path().map(PathBuf::from))
        .map(|p| {
            let rows = parquet_row_count(&p).ok().map(|(r, _)| r);
            let size = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
            json!({ "file": p.display().to_string(), "bytes": size, "documents": rows })
        })
        .collect();
    let stages: Vec<serde_json::Value> = stats
        .stages
        .iter()
        .map(|s| serde_json::to_value(s).expect("stats serialize"))
        .collect();
    Ok(json!({
        "dir": dir.display().to_string(),
        "kind": "run",
        "shards_done": done,
        "shards_in_stats": stats.shards,
        "stages": stages,
        "files": files,
    }))
}
