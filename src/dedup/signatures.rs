//! Step 1 (map, one task per input shard): every document → its exact-text key, URL key,
//! shingle set and MinHash signature, written to `WORK/signatures/`.
//!
//! Memory: the shard's 68-byte entries are held until the shard ends (the header needs the
//! count); everything else streams. Nothing depends on the corpus size.

use std::collections::HashMap;
use std::io::Write;

use anyhow::{bail, Result};
use serde::Serialize;

use super::config::{DedupConfig, Verify};
use super::files::{id_hash, write_docs_header, DocEntry, WorkDir};
use super::minhash::MinHasher;
use super::shingle::{text_key, url_key, Shingler};
use crate::io::shards::AtomicFile;
use crate::pipeline::runner::Job;
use crate::pipeline::tasks::{for_each_task, record_expected, write_json};
use crate::read::ReadItem;

#[derive(Debug, Default, Serialize)]
pub struct SignatureStats {
    pub documents: u64,
    /// Too short for one shingle: matched by the exact key only.
    pub without_signature: u64,
    pub without_url: u64,
    pub shingles: u64,
    pub read_errors: u64,
    pub read_dropped: u64,
}

/// Runs the signatures step on `selected` (this task's share of `all`).
pub fn run(
    work: &WorkDir,
    cfg: &DedupConfig,
    all: &[Job],
    selected: &[Job],
    threads: usize,
    quiet: bool,
) -> Result<()> {
    cfg.save_or_check(&work.root)?;
    record_expected(&work.step("signatures").join("expected.json"), all)?;
    let hasher = MinHasher::new(cfg.num_perm(), cfg.seed);
    for_each_task(
        "dedup signatures",
        &work.step("signatures").join("done"),
        selected,
        |j| j.stem.clone(),
        threads,
        quiet,
        |job| shard(work, cfg, &hasher, job),
    )
}

fn shard(work: &WorkDir, cfg: &DedupConfig, hasher: &MinHasher, job: &Job) -> Result<()> {
    let mut stats = SignatureStats::default();
    let mut ids = AtomicFile::create(&work.shard_file(&job.stem, "ids"))?;
    let mut sigs = AtomicFile::create(&work.shard_file(&job.stem, "sigs"))?;
    let mut shingles = match cfg.verify {
        Verify::Exact if cfg.methods.fuzzy => {
            Some(AtomicFile::create(&work.shard_file(&job.stem, "shingles"))?)
        }
        _ => None,
    };
    let mut entries: Vec<u8> = Vec::new();
    let mut datasets: Vec<String> = Vec::new();
    let mut dataset_index: HashMap<String, u16> = HashMap::new();
    let (mut id_offset, mut shingle_offset) = (0u64, 0u64);
    let mut shingler = Shingler::default();
    let mut signature = Vec::with_capacity(cfg.num_perm());
    let mut sig_bytes = Vec::with_capacity(4 * cfg.num_perm());
    let empty_signature = vec![0xffu8; 4 * cfg.num_perm()];

    for item in job.source.open(&job.input)? {
        let doc = match item {
            ReadItem::Doc(doc) => doc,
            ReadItem::Dropped { .. } => {
                stats.read_dropped += 1;
                continue;
            }
            ReadItem::Error { message, .. } => {
                stats.read_errors += 1;
                if stats.read_errors <= 20 {
                    eprintln!("sieve dedup signatures: {message}");
                }
                continue;
            }
            ReadItem::Fatal(message) => bail!("{message}"),
        };
        if stats.documents >= u32::MAX as u64 {
            bail!("{}: more than 4G documents in one shard", job.input);
        }
        stats.documents += 1;
        let dataset = match dataset_index.get(&doc.dataset) {
            Some(&i) => i,
            None => {
                if datasets.len() >= u16::MAX as usize {
                    bail!("{}: more than 65535 datasets in one shard", job.input);
                }
                let i = datasets.len() as u16;
                datasets.push(doc.dataset.clone());
                dataset_index.insert(doc.dataset.clone(), i);
                i
            }
        };
        let mut entry = DocEntry {
            id_hash: id_hash(&doc.id),
            id_start: id_offset,
            id_len: doc.id.len() as u32,
            dataset,
            ..Default::default()
        };
        ids.write_all(doc.id.as_bytes())?;
        id_offset += doc.id.len() as u64;
        if cfg.methods.exact {
            entry.text_key = text_key(&doc.text);
        }
        if cfg.methods.url {
            entry.url_key = url_key(doc.url.as_deref());
            if entry.url_key == 0 {
                stats.without_url += 1;
            }
        }
        if cfg.methods.fuzzy {
            shingler.shingle_values(&doc.text, cfg.shingling);
            if shingles.is_some() {
                shingler.make_set(); // stored sets are sorted, without repeats
            }
            if shingler.set.is_empty() {
                stats.without_signature += 1;
                sigs.write_all(&empty_signature)?;
            } else {
                hasher.signature(&shingler.set, &mut signature);
                sig_bytes.clear();
                for v in &signature {
                    sig_bytes.extend_from_slice(&v.to_le_bytes());
                }
                sigs.write_all(&sig_bytes)?;
                entry.shingles_len = shingler.set.len() as u32;
                entry.shingles_start = shingle_offset;
                stats.shingles += shingler.set.len() as u64;
                if let Some(out) = shingles.as_mut() {
                    sig_bytes.clear();
                    for v in &shingler.set {
                        sig_bytes.extend_from_slice(&v.to_le_bytes());
                    }
                    out.write_all(&sig_bytes)?;
                    shingle_offset += shingler.set.len() as u64;
                }
            }
        }
        entries.extend_from_slice(&entry.to_bytes());
    }

    let mut docs = AtomicFile::create(&work.shard_file(&job.stem, "docs"))?;
    write_docs_header(&mut docs, stats.documents, &datasets)?;
    docs.write_all(&entries)?;
    ids.commit()?;
    sigs.commit()?;
    if let Some(s) = shingles {
        s.commit()?;
    }
    docs.commit()?;
    write_json(&work.stats("signatures", &job.stem), &stats)
}
