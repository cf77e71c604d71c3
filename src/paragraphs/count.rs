//! Step 1 (map, one task per input shard): every unit long enough to match → a 32-byte record
//! (key, shard, position, unit, document id hash, bytes), into the key's partition, sorted.
//!
//! Memory: the shard's records until it ends (32 bytes per unit); nothing depends on the
//! corpus size.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Result};
use serde::Serialize;

use super::layout;
use super::options::ParagraphDedupOptions;
use super::units::{key, normalise};
use crate::dedup::files::{id_hash, range_of};
use crate::io::shards::AtomicFile;
use crate::pipeline::runner::Job;
use crate::pipeline::tasks::{for_each_task, read_expected, record_expected, write_json};
use crate::read::ReadItem;

pub const RECORD_SIZE: usize = 32;

/// One occurrence of a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Occurrence {
    pub key: u64,
    /// The shard's number among the sorted input stems.
    pub shard: u32,
    /// The document's position in its shard.
    pub doc: u32,
    /// The unit's index in its document.
    pub unit: u32,
    pub id_hash: u64,
    /// The unit's length in bytes (for the share of text removed).
    pub bytes: u32,
}

impl Occurrence {
    pub fn to_bytes(self) -> [u8; RECORD_SIZE] {
        let mut b = [0u8; RECORD_SIZE];
        b[0..8].copy_from_slice(&self.key.to_le_bytes());
        b[8..12].copy_from_slice(&self.shard.to_le_bytes());
        b[12..16].copy_from_slice(&self.doc.to_le_bytes());
        b[16..20].copy_from_slice(&self.unit.to_le_bytes());
        b[20..28].copy_from_slice(&self.id_hash.to_le_bytes());
        b[28..32].copy_from_slice(&self.bytes.to_le_bytes());
        b
    }

    pub fn from_bytes(b: &[u8]) -> Occurrence {
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        Occurrence {
            key: u64_at(0),
            shard: u32_at(8),
            doc: u32_at(12),
            unit: u32_at(16),
            id_hash: u64_at(20),
            bytes: u32_at(28),
        }
    }
}

#[derive(Debug, Default, Serialize)]
pub struct CountStats {
    pub documents: u64,
    pub units: u64,
    /// Units counted (long enough to match).
    pub matched_units: u64,
    pub bytes: u64,
    pub read_errors: u64,
}

/// The sorted stems of every input shard (written by each count task, read by the others).
pub fn shard_stems(work: &Path) -> Result<Vec<String>> {
    read_expected(&layout::expected(work), "sieve paragraph-dedup")
}

/// Runs the count step on `mine` (this task's share of `all`).
pub fn run(
    work: &Path,
    options: &ParagraphDedupOptions,
    all: &[Job],
    mine: &[Job],
    threads: usize,
    quiet: bool,
) -> Result<()> {
    options.save_or_check(work)?;
    record_expected(&layout::expected(work), all)?;
    let stems = shard_stems(work)?;
    for_each_task(
        "paragraph-dedup count",
        &layout::count_done(work),
        mine,
        |j| j.stem.clone(),
        threads,
        quiet,
        |job| {
            let shard = stems
                .binary_search(&job.stem)
                .map_err(|_| anyhow::anyhow!("{} is not among the inputs", job.stem))?;
            count_shard(work, options, job, shard as u32)
        },
    )
}

fn count_shard(work: &Path, options: &ParagraphDedupOptions, job: &Job, shard: u32) -> Result<()> {
    let mut parts: Vec<Vec<Occurrence>> = vec![Vec::new(); options.partitions];
    let mut stats = CountStats::default();
    let mut normalised = String::new();
    let mut doc = 0u32;
    for item in job.source.open(&job.input)? {
        let d = match item {
            ReadItem::Doc(d) => d,
            ReadItem::Dropped { .. } => continue,
            ReadItem::Error { message, .. } => {
                stats.read_errors += 1;
                if stats.read_errors <= 20 {
                    eprintln!("sieve paragraph-dedup count: {message}");
                }
                continue;
            }
            ReadItem::Fatal(message) => bail!("{message}"),
        };
        let id = id_hash(&d.id);
        for (unit, text) in options.split.units(&d.text).enumerate() {
            stats.units += 1;
            stats.bytes += text.len() as u64;
            if normalise(text, &mut normalised) < options.min_unit_chars.max(1) {
                continue;
            }
            stats.matched_units += 1;
            let k = key(&normalised);
            parts[range_of(k, options.partitions)].push(Occurrence {
                key: k,
                shard,
                doc,
                unit: u32::try_from(unit).unwrap_or(u32::MAX),
                id_hash: id,
                bytes: u32::try_from(text.len()).unwrap_or(u32::MAX),
            });
        }
        stats.documents += 1;
        doc = doc
            .checked_add(1)
            .ok_or_else(|| anyhow::anyhow!("{}: more than 4G documents", job.input))?;
    }
    for (p, records) in parts.iter_mut().enumerate() {
        records.sort_unstable();
        let mut out = AtomicFile::create(&layout::counts(work, p, &job.stem))?;
        for r in records.iter() {
            out.write_all(&r.to_bytes())?;
        }
        out.commit()?;
    }
    write_json(&layout::count_stats(work, &job.stem), &stats)
}
