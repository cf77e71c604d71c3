//! Step 2 (map, one task per signatures shard): band keys of every document, partitioned by
//! band (plus the exact-text and URL keys) and key range, each partition file sorted.
//!
//! A shard's records are held in memory until written: 16 bytes × (bands + 2) per document
//! of the shard, independent of the corpus size.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use super::config::DedupConfig;
use super::files::{
    part_name, range_of, DocsReader, LshRecord, WorkDir, KIND_EXACT, KIND_FUZZY, KIND_URL,
};
use super::minhash::band_key;
use crate::io::shards::AtomicFile;
use crate::pipeline::tasks::{for_each_task, write_json};

#[derive(Debug, Default, Serialize)]
pub struct LshStats {
    pub documents: u64,
    pub records: u64,
    pub partitions_written: u64,
}

/// Runs the lsh step on this task's share (`shard_index`, `shard_count`) of the shards.
pub fn run(work: &WorkDir, task: (usize, usize), threads: usize, quiet: bool) -> Result<()> {
    let cfg = DedupConfig::load(&work.root)?;
    let shards = work.signature_shards()?;
    let mine: Vec<(u32, String)> = shards
        .iter()
        .enumerate()
        .filter(|(i, _)| i % task.1 == task.0)
        .map(|(i, s)| (i as u32, s.clone()))
        .collect();
    for_each_task(
        "dedup lsh",
        &work.step("lsh").join("done"),
        &mine,
        |(_, stem)| stem.clone(),
        threads,
        quiet,
        |(index, stem)| shard(work, &cfg, *index, stem),
    )
}

fn shard(work: &WorkDir, cfg: &DedupConfig, index: u32, stem: &str) -> Result<()> {
    let mut docs = DocsReader::open(&work.shard_file(stem, "docs"))?;
    let ranks: Vec<u8> = docs.header.datasets.iter().map(|d| cfg.rank(d)).collect();
    let sigs_path = work.shard_file(stem, "sigs");
    let mut sigs = std::io::BufReader::with_capacity(1 << 18, std::fs::File::open(&sigs_path)?);
    let num_perm = cfg.num_perm();
    let mut sig_bytes = vec![0u8; 4 * num_perm];
    let mut signature = vec![0u32; num_perm];

    // One vector per (kind, band, range), indexed kind-major.
    let bands = cfg.bands;
    let slots = (bands + 2) * cfg.ranges;
    let mut parts: Vec<Vec<LshRecord>> = vec![Vec::new(); slots];
    let slot = |kind: u8, band: usize, range: usize| match kind {
        KIND_EXACT => bands * cfg.ranges + range,
        KIND_URL => (bands + 1) * cfg.ranges + range,
        _ => band * cfg.ranges + range,
    };
    let mut stats = LshStats::default();
    let mut doc = 0u32;
    while let Some(entry) = docs.next_entry()? {
        let rank = ranks.get(entry.dataset as usize).copied().unwrap_or(255);
        if cfg.methods.fuzzy {
            use std::io::Read;
            sigs.read_exact(&mut sig_bytes).map_err(|e| {
                anyhow::anyhow!("{}: truncated at document {doc}: {e}", sigs_path.display())
            })?;
            if entry.has_signature() {
                for (v, b) in signature.iter_mut().zip(sig_bytes.chunks_exact(4)) {
                    *v = u32::from_le_bytes(b.try_into().expect("4 bytes"));
                }
                for band in 0..bands {
                    let key = band_key(&signature, band, cfg.rows);
                    let range = range_of(key, cfg.ranges);
                    parts[slot(KIND_FUZZY, band, range)]
                        .push(LshRecord::new(key, rank, index, doc));
                }
            }
        }
        if cfg.methods.exact {
            let key = entry.text_key as u64;
            parts[slot(KIND_EXACT, 0, range_of(key, cfg.ranges))]
                .push(LshRecord::new(key, rank, index, doc));
        }
        if cfg.methods.url && entry.url_key != 0 {
            let key = entry.url_key as u64;
            parts[slot(KIND_URL, 0, range_of(key, cfg.ranges))]
                .push(LshRecord::new(key, rank, index, doc));
        }
        stats.documents += 1;
        doc += 1;
    }

    for kind in [KIND_FUZZY, KIND_EXACT, KIND_URL] {
        let band_count = if kind == KIND_FUZZY { bands } else { 1 };
        for band in 0..band_count {
            for range in 0..cfg.ranges {
                let records = &mut parts[slot(kind, band, range)];
                if records.is_empty() {
                    continue;
                }
                records.sort_unstable();
                let mut out =
                    AtomicFile::create(&work.lsh_file(&part_name(kind, band, range), stem))?;
                for r in records.iter() {
                    out.write_all(&r.to_bytes())?;
                }
                out.commit()?;
                stats.records += records.len() as u64;
                stats.partitions_written += 1;
                *records = Vec::new();
            }
        }
    }
    write_json(&work.stats("lsh", stem), &stats)
}
