//! The totals of a decontamination run, summed from the strip step's per-shard match records
//! (`OUT/reports/decontam/*.jsonl`) into `OUT/decontam-summary.json`, for the run's printout
//! and its data card.

use std::path::{Path, PathBuf};

use crate::pipeline::tasks::write_json;
use anyhow::Result;
use serde::Serialize;

/// Totals of the strip reports in an output directory.
#[derive(Debug, Default, Serialize, serde::Deserialize)]
pub struct Summary {
    pub documents_cut: u64,
    pub documents_split: u64,
    pub documents_dropped_too_many_pieces: u64,
    pub documents_dropped_nothing_left: u64,
    pub matches: u64,
    pub matches_by_task: std::collections::BTreeMap<String, u64>,
}

pub fn summarize(out: &Path) -> Result<Summary> {
    let mut s = Summary::default();
    let dir = out.join("reports").join("decontam");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    for f in files
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
    {
        let mut last_id = String::new();
        for line in std::fs::read_to_string(f)?.lines() {
            let v: serde_json::Value = serde_json::from_str(line)?;
            s.matches += 1;
            for t in v["tasks"].as_array().into_iter().flatten() {
                *s.matches_by_task
                    .entry(t.as_str().unwrap_or("?").to_string())
                    .or_default() += 1;
            }
            let id = v["id"].as_str().unwrap_or_default();
            if id != last_id {
                last_id = id.to_string();
                s.documents_cut += 1;
                match v["outcome"].as_str() {
                    Some("split") => s.documents_split += 1,
                    Some("dropped_too_many_pieces") => s.documents_dropped_too_many_pieces += 1,
                    _ => s.documents_dropped_nothing_left += 1,
                }
            }
        }
    }
    write_json(&out.join("decontam-summary.json"), &s)?;
    Ok(s)
}

pub fn print_summary(s: &Summary, out: &Path) {
    eprintln!(
        "sieve decontam: {} documents cut ({} kept as pieces, {} dropped for > max pieces, {} with nothing left), {} matches {:?}; cuts in {}",
        s.documents_cut,
        s.documents_split,
        s.documents_dropped_too_many_pieces,
        s.documents_dropped_nothing_left,
        s.matches,
        s.matches_by_task,
        out.join("reports/decontam").display()
    );
}
