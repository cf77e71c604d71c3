//! Step 3 (reduce, one task per partition): merges the sorted LSH files of one band and key
//! range, and turns each bucket of equal keys into verified edges.
//!
//! Verification inside a bucket (members ordered by priority, then shard, then position):
//! the first member not yet matched is an anchor and is compared with every member not yet
//! matched; matches (Jaccard ≥ threshold) become edges to the anchor and leave the pool; the
//! next unmatched member becomes the next anchor. A bucket of true duplicates costs one pass;
//! a bucket of unrelated documents (a false LSH collision) costs more, bounded by
//! `max_bucket_comparisons` (skipped pairs are counted, and usually meet again in another band).
//! Exact-text and URL buckets compare the full 128-bit keys instead.
//!
//! Documents of the indexes the run is checked against (`against`) come first in every
//! bucket they share with the run's, so that they are the first anchors.
//!
//! Memory: one 16 KiB read buffer per input shard and per index file of the partition, the
//! current bucket, and a cache of open shard tables.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::io::{BufReader, Read, Write};

use anyhow::{Context, Result};
use serde::Serialize;

use super::config::{DedupConfig, Verify};
use super::files::{
    part_kind, part_name, range_of, Edge, LshRecord, ShardTables, WorkDir, KIND_EXACT, KIND_FUZZY,
    KIND_URL, LSH_RECORD_SIZE,
};
use super::index::{Against, PartSource};
use super::minhash::estimate_jaccard;
use super::shingle::jaccard_sorted;
use crate::io::shards::AtomicFile;
use crate::pipeline::tasks::{for_each_task, write_json};

#[derive(Debug, Default, Serialize)]
pub struct EdgeStats {
    pub records: u64,
    /// Buckets with at least two members.
    pub buckets: u64,
    pub largest_bucket: u64,
    pub comparisons: u64,
    pub edges: u64,
    pub rejected: u64,
    /// Buckets where `max_bucket_comparisons` stopped the verification early.
    pub capped_buckets: u64,
}

/// Every partition name of a configuration, sorted: the tasks of this step.
pub fn partitions(cfg: &DedupConfig) -> Vec<String> {
    let mut parts = Vec::new();
    for range in 0..cfg.ranges {
        if cfg.methods.fuzzy {
            for band in 0..cfg.bands {
                parts.push(part_name(KIND_FUZZY, band, range));
            }
        }
        if cfg.methods.exact {
            parts.push(part_name(KIND_EXACT, 0, range));
        }
        if cfg.methods.url {
            parts.push(part_name(KIND_URL, 0, range));
        }
    }
    parts.sort();
    parts
}

/// This task's share (`task` = (i, n)) of the partitions: every n-th from the i-th.
pub fn task_partitions(cfg: &DedupConfig, task: (usize, usize)) -> Vec<String> {
    partitions(cfg)
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % task.1 == task.0)
        .map(|(_, p)| p)
        .collect()
}

pub fn run(work: &WorkDir, task: (usize, usize), threads: usize, quiet: bool) -> Result<()> {
    let cfg = DedupConfig::load(&work.root)?;
    let shards = work.signature_shards()?;
    let lsh_done = work.done("lsh")?;
    if lsh_done.len() != shards.len() {
        anyhow::bail!(
            "{} of {} shards have finished `sieve dedup lsh`; run it on all shards first",
            lsh_done.len(),
            shards.len()
        );
    }
    let against = Against::open(&cfg, shards.len())?;
    let mine = task_partitions(&cfg, task);
    for_each_task(
        "dedup edges",
        &work.step("edges").join("done"),
        &mine,
        |p| p.clone(),
        threads,
        quiet,
        |part| partition(work, &cfg, &shards, &against, part),
    )
}

/// One file the merge reads: the run's own records of a partition, or an index's.
struct MergeInput {
    reader: BufReader<File>,
    /// Position among inputs whose records share a key: indexes (in priority order) before
    /// the run's own files.
    tier: u32,
    /// Added to the file's shard numbers (indexed shards are numbered after the run's).
    shard_offset: u32,
    /// (ranges, range): records with keys outside the run's range are skipped (an index's
    /// files may be cut into other key ranges than the run's).
    keep: Option<(usize, usize)>,
}

/// A record's place in the merge: (key, tier, rank and shard, document, input).
type MergeKey = (u64, u32, u32, u32, usize);

/// Streams the sorted records of every file of a partition in global order: by key, then
/// tier, then priority rank, shard and document.
pub(super) struct Merge {
    inputs: Vec<MergeInput>,
    heap: BinaryHeap<Reverse<MergeKey>>,
}

impl Merge {
    pub(super) fn open(dir: &std::path::Path, index: &[PartSource]) -> Result<Merge> {
        let mut files: Vec<std::path::PathBuf> = Vec::new();
        if dir.exists() {
            for e in
                std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?
            {
                let p = e?.path();
                if p.extension().is_some_and(|x| x == "bin") {
                    files.push(p);
                }
            }
        }
        files.sort();
        let mut m = Merge {
            inputs: Vec::with_capacity(files.len() + index.len()),
            heap: BinaryHeap::new(),
        };
        let open = |p: &std::path::Path| -> Result<BufReader<File>> {
            let f = File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
            Ok(BufReader::with_capacity(16 << 10, f))
        };
        for s in index {
            m.inputs.push(MergeInput {
                reader: open(&s.path)?,
                tier: s.tier,
                shard_offset: s.shard_offset,
                keep: Some(s.keep),
            });
        }
        for p in files {
            m.inputs.push(MergeInput {
                reader: open(&p)?,
                tier: u32::MAX,
                shard_offset: 0,
                keep: None,
            });
        }
        for i in 0..m.inputs.len() {
            m.refill(i)?;
        }
        Ok(m)
    }

    fn refill(&mut self, i: usize) -> Result<()> {
        let input = &mut self.inputs[i];
        let mut b = [0u8; LSH_RECORD_SIZE];
        loop {
            match input.reader.read_exact(&mut b) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(e).context("cannot read an lsh file"),
            }
            let r = LshRecord::from_bytes(&b);
            if let Some((ranges, range)) = input.keep {
                match range_of(r.key, ranges).cmp(&range) {
                    std::cmp::Ordering::Less => continue,
                    // Sorted by key: nothing further in this file is in the range.
                    std::cmp::Ordering::Greater => return Ok(()),
                    std::cmp::Ordering::Equal => {}
                }
            }
            let rank_shard = r.rank_shard + input.shard_offset;
            self.heap
                .push(Reverse((r.key, input.tier, rank_shard, r.doc, i)));
            return Ok(());
        }
    }

    pub(super) fn next(&mut self) -> Result<Option<LshRecord>> {
        let Some(Reverse((key, _, rank_shard, doc, i))) = self.heap.pop() else {
            return Ok(None);
        };
        self.refill(i)?;
        Ok(Some(LshRecord {
            key,
            rank_shard,
            doc,
        }))
    }
}

/// Open shard tables, at most `CAPACITY` at once (each holds four file handles): the run's
/// shards, then those of the indexes it is checked against.
pub struct ShardCache {
    /// (directory, stem) of every shard, by run-wide shard number.
    locations: Vec<(std::path::PathBuf, String)>,
    num_perm: usize,
    open: HashMap<u32, (ShardTables, u64)>,
    clock: u64,
}

impl ShardCache {
    const CAPACITY: usize = 200;

    pub fn new(
        work: &WorkDir,
        shards: &[String],
        against: &Against,
        num_perm: usize,
    ) -> ShardCache {
        let dir = work.step("signatures");
        let mut locations: Vec<(std::path::PathBuf, String)> =
            shards.iter().map(|s| (dir.clone(), s.clone())).collect();
        locations.extend(against.tables.iter().cloned());
        ShardCache {
            locations,
            num_perm,
            open: HashMap::new(),
            clock: 0,
        }
    }

    pub fn get(&mut self, shard: u32) -> Result<&ShardTables> {
        self.clock += 1;
        if !self.open.contains_key(&shard) {
            if self.open.len() >= Self::CAPACITY {
                let oldest = *self
                    .open
                    .iter()
                    .min_by_key(|(_, (_, used))| *used)
                    .map(|(k, _)| k)
                    .expect("cache is full");
                self.open.remove(&oldest);
            }
            let (dir, stem) = self
                .locations
                .get(shard as usize)
                .with_context(|| format!("shard number {shard} out of range"))?;
            let tables = ShardTables::open_in(dir, stem, self.num_perm)?;
            self.open.insert(shard, (tables, 0));
        }
        let slot = self.open.get_mut(&shard).expect("inserted above");
        slot.1 = self.clock;
        Ok(&slot.0)
    }
}

fn partition(
    work: &WorkDir,
    cfg: &DedupConfig,
    shards: &[String],
    against: &Against,
    part: &str,
) -> Result<()> {
    let kind = part_kind(part);
    let mut merge = Merge::open(
        &work.step("lsh").join(part),
        &against.sources(part, cfg.ranges),
    )?;
    let mut cache = ShardCache::new(work, shards, against, cfg.num_perm());
    let mut out = AtomicFile::create(&work.edges_file(part))?;
    let mut stats = EdgeStats::default();
    let mut bucket: Vec<LshRecord> = Vec::new();
    let mut verifier = Verifier::default();
    loop {
        let next = merge.next()?;
        if let Some(r) = next {
            stats.records += 1;
            if bucket.first().is_none_or(|b| b.key == r.key) {
                bucket.push(r);
                continue;
            }
        }
        // A bucket of indexed documents only decides nothing about the run's: skipped.
        let has_run_member = || bucket.iter().any(|r| r.shard() < against.first_shard);
        if bucket.len() > 1 && has_run_member() {
            stats.buckets += 1;
            stats.largest_bucket = stats.largest_bucket.max(bucket.len() as u64);
            let edges = match kind {
                KIND_EXACT | KIND_URL => verifier.same_key(&bucket, kind, &mut cache)?,
                _ => verifier.similar(&bucket, cfg, &mut cache, &mut stats)?,
            };
            for e in edges {
                out.write_all(&e.to_bytes())?;
                stats.edges += 1;
            }
        }
        bucket.clear();
        match next {
            Some(r) => bucket.push(r),
            None => break,
        }
    }
    out.commit()?;
    write_json(&work.stats("edges", part), &stats)
}

/// Verification buffers, reused across buckets.
#[derive(Default)]
struct Verifier {
    sets: Vec<Vec<u32>>,
}

impl Verifier {
    /// Exact-text or URL bucket: members with the same full 128-bit key are linked to the
    /// first of them (a 64-bit bucket key collision links nothing).
    fn same_key(
        &mut self,
        bucket: &[LshRecord],
        kind: u8,
        cache: &mut ShardCache,
    ) -> Result<Vec<Edge>> {
        let mut first_with: HashMap<u128, (u32, u32)> = HashMap::new();
        let mut edges = Vec::new();
        for r in bucket {
            let entry = cache.get(r.shard())?.entry(r.doc)?;
            let key = if kind == KIND_EXACT {
                entry.text_key
            } else {
                entry.url_key
            };
            let me = (r.shard(), r.doc);
            match first_with.get(&key) {
                Some(&anchor) => edges.push(Edge {
                    a: anchor,
                    b: me,
                    jaccard: 1.0,
                    kind,
                }),
                None => {
                    first_with.insert(key, me);
                }
            }
        }
        Ok(edges)
    }

    /// Fuzzy bucket: anchors in priority order, each compared with the unmatched rest.
    fn similar(
        &mut self,
        bucket: &[LshRecord],
        cfg: &DedupConfig,
        cache: &mut ShardCache,
        stats: &mut EdgeStats,
    ) -> Result<Vec<Edge>> {
        let n = bucket.len();
        self.sets.resize_with(n, Vec::new);
        for (i, r) in bucket.iter().enumerate() {
            let tables = cache.get(r.shard())?;
            match cfg.verify {
                Verify::Exact => {
                    let entry = tables.entry(r.doc)?;
                    tables.shingles(&entry, &mut self.sets[i])?;
                }
                Verify::Estimate => tables.signature(r.doc, &mut self.sets[i])?,
            }
        }
        let mut unmatched: Vec<usize> = (0..n).collect();
        let mut edges = Vec::new();
        let mut comparisons = 0u64;
        while unmatched.len() > 1 {
            if comparisons >= cfg.max_bucket_comparisons {
                stats.capped_buckets += 1;
                break;
            }
            let anchor = unmatched[0];
            let mut rest = Vec::with_capacity(unmatched.len());
            for &other in &unmatched[1..] {
                comparisons += 1;
                let j = match cfg.verify {
                    Verify::Exact => jaccard_sorted(&self.sets[anchor], &self.sets[other]),
                    Verify::Estimate => estimate_jaccard(&self.sets[anchor], &self.sets[other]),
                };
                if j >= cfg.threshold {
                    edges.push(Edge {
                        a: (bucket[anchor].shard(), bucket[anchor].doc),
                        b: (bucket[other].shard(), bucket[other].doc),
                        jaccard: j as f32,
                        kind: KIND_FUZZY,
                    });
                } else {
                    stats.rejected += 1;
                    rest.push(other);
                }
            }
            unmatched = rest;
        }
        stats.comparisons += comparisons;
        Ok(edges)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A read error other than a file's end stops the merge with an error: an lsh file that
    /// cannot be read is not taken for one that ended (here a directory named like a run file:
    /// opening it works, reading it fails).
    #[test]
    fn an_lsh_file_that_cannot_be_read_is_an_error_not_its_end() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("unreadable.bin")).unwrap();
        let err = Merge::open(dir.path(), &[])
            .err()
            .expect("reading a directory fails");
        assert!(
            format!("{err:#}").contains("cannot read an lsh file"),
            "{err:#}"
        );
    }
}
