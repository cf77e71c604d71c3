//! Deduplication across datasets: exact text, URL and MT-NLG fuzzy (MinHash + LSH), with
//! one representative per group of duplicates chosen by dataset priority.
//!
//! The steps are file-based so that each can run on one box or as many tasks:
//!
//! 1. [`signatures`] (map over input shards): keys, shingle sets, MinHash signatures.
//! 2. [`lsh`] (map over signature shards): band keys, partitioned and sorted.
//! 3. [`edges`] (reduce per band × key range): buckets → verified duplicate pairs.
//! 4. [`components`] (reduce, one task): union-find, representatives, remove lists, reports.
//! 5. [`filter`] (map over input shards, a pipeline stage): drops what step 4 listed.
//!
//! Exact and URL duplicates are found by the same machinery as two more "bands" whose keys
//! are the 128-bit text and URL hashes, so all three relations meet in one graph and a
//! document has one representative whichever way it was matched.

pub mod components;
pub mod config;
pub mod edges;
#[cfg(test)]
mod end_to_end;
pub mod explain;
pub mod files;
pub mod filter;
pub mod index;
pub mod index_build;
pub mod lsh;
pub mod minhash;
pub mod shingle;
pub mod signatures;

use anyhow::Result;

use crate::pipeline::runner::Job;
use config::DedupConfig;
use files::WorkDir;

/// Steps 1–4 on one box: everything up to the remove lists (the filter runs as a stage).
pub fn find_duplicates(
    work: &WorkDir,
    cfg: &DedupConfig,
    jobs: &[Job],
    threads: usize,
    quiet: bool,
) -> Result<components::Report> {
    signatures::run(work, cfg, jobs, jobs, threads, quiet)?;
    lsh::run(work, (0, 1), threads, quiet)?;
    edges::run(work, (0, 1), threads, quiet)?;
    // One task, cheap next to the others, and deterministic: simply redone on a re-run.
    components::run(work)
}
