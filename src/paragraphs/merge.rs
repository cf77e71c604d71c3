//! Step 2 (reduce, one task per hash partition): the partition's occurrences merged in
//! (key, corpus order); for each key seen more than once, the occurrences to remove:
//!
//! - more than `max_copies` (when set): every one;
//! - otherwise, with `keep = "first"`, all but the first in corpus order; with `"none"`, all.
//!
//! The removals are written per shard (document id hash, unit), sorted, for the strip stage.
//!
//! Memory: the partition's removals (12 bytes each) and, per key, at most `max_copies` + 1
//! occurrences; one 16 KiB read buffer per shard file.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::count::{shard_stems, Occurrence, RECORD_SIZE};
use super::layout;
use super::options::{Keep, ParagraphDedupOptions};
use crate::io::shards::AtomicFile;
use crate::pipeline::tasks::{for_each_task, write_json};

/// Keys listed with their counts in each partition's stats (the report keeps the overall top).
pub const TOP: usize = 50;

/// A repeated unit: its key, how often it occurs, and where first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Repeated {
    pub key: u64,
    pub copies: u64,
    pub documents: u64,
    pub first_shard: u32,
    pub first_id_hash: u64,
    pub first_unit: u32,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MergeStats {
    /// Occurrences (units long enough to match).
    pub units: u64,
    pub bytes: u64,
    /// Distinct keys, and those seen more than once.
    pub keys: u64,
    pub repeated_keys: u64,
    /// Keys over `max_copies`, removed everywhere.
    pub keys_over_max: u64,
    pub removed_units: u64,
    pub removed_bytes: u64,
    /// The most repeated keys of the partition, most copies first.
    pub top: Vec<Repeated>,
}

/// Runs the merge step on this task's share (`task` = (i, n)) of the partitions.
pub fn run(work: &Path, task: (usize, usize), threads: usize, quiet: bool) -> Result<()> {
    let options = ParagraphDedupOptions::load(work)?;
    let stems = shard_stems(work)?;
    let done = crate::pipeline::tasks::done_names(&layout::count_done(work))?;
    if let Some(missing) = stems.iter().find(|s| done.binary_search(s).is_err()) {
        bail!(
            "paragraph-dedup: the count step has not finished shard {missing}; run it on every shard first"
        );
    }
    let mine: Vec<usize> = (0..options.partitions)
        .filter(|p| p % task.1 == task.0)
        .collect();
    for_each_task(
        "paragraph-dedup merge",
        &layout::merge_done(work),
        &mine,
        |p| format!("p{p:04}"),
        threads,
        quiet,
        |&p| partition(work, &options, &stems, p),
    )
}

/// The partition's files of every shard, merged in (key, shard, document, unit) order.
struct Merge {
    readers: Vec<BufReader<File>>,
    heap: BinaryHeap<Reverse<(Occurrence, usize)>>,
}

impl Merge {
    fn open(work: &Path, stems: &[String], part: usize) -> Result<Merge> {
        let mut m = Merge {
            readers: Vec::with_capacity(stems.len()),
            heap: BinaryHeap::new(),
        };
        for stem in stems {
            let path = layout::counts(work, part, stem);
            let f = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
            m.readers.push(BufReader::with_capacity(16 << 10, f));
            let i = m.readers.len() - 1;
            m.refill(i)?;
        }
        Ok(m)
    }

    fn refill(&mut self, i: usize) -> Result<()> {
        let mut b = [0u8; RECORD_SIZE];
        match self.readers[i].read_exact(&mut b) {
            Ok(()) => self.heap.push(Reverse((Occurrence::from_bytes(&b), i))),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
            Err(e) => return Err(e).context("cannot read a paragraph-dedup count file"),
        }
        Ok(())
    }

    fn next(&mut self) -> Result<Option<Occurrence>> {
        let Some(Reverse((o, i))) = self.heap.pop() else {
            return Ok(None);
        };
        self.refill(i)?;
        Ok(Some(o))
    }
}

/// The occurrences of one key, seen one at a time in corpus order.
struct Group<'a> {
    options: &'a ParagraphDedupOptions,
    /// The first `max_copies` + 1 occurrences (all of them while the count is within it).
    held: Vec<Occurrence>,
    copies: u64,
    documents: u64,
    last_doc: Option<(u32, u32)>,
}

impl Group<'_> {
    fn over_max(&self) -> bool {
        self.options.max_copies > 0 && self.copies > self.options.max_copies
    }

    /// Adds an occurrence; once the key is over `max_copies`, every occurrence is a removal.
    fn add(&mut self, o: Occurrence, removals: &mut Vec<(u32, u64, u32)>, stats: &mut MergeStats) {
        self.copies += 1;
        if self.last_doc != Some((o.shard, o.doc)) {
            self.documents += 1;
            self.last_doc = Some((o.shard, o.doc));
        }
        if self.over_max() {
            for h in self.held.drain(..).chain(std::iter::once(o)) {
                remove(h, removals, stats);
            }
        } else {
            self.held.push(o);
        }
    }

    /// The key's last occurrence was seen: the held copies' fate.
    fn finish(&mut self, removals: &mut Vec<(u32, u64, u32)>, stats: &mut MergeStats) {
        if self.copies > 1 && !self.over_max() {
            let skip = match self.options.keep {
                Keep::First => 1,
                Keep::None => 0,
            };
            for &h in &self.held[skip..] {
                remove(h, removals, stats);
            }
        }
        self.held.clear();
    }
}

fn remove(o: Occurrence, removals: &mut Vec<(u32, u64, u32)>, stats: &mut MergeStats) {
    removals.push((o.shard, o.id_hash, o.unit));
    stats.removed_units += 1;
    stats.removed_bytes += o.bytes as u64;
}

fn partition(
    work: &Path,
    options: &ParagraphDedupOptions,
    stems: &[String],
    part: usize,
) -> Result<()> {
    let mut merge = Merge::open(work, stems, part)?;
    let mut stats = MergeStats::default();
    let mut removals: Vec<(u32, u64, u32)> = Vec::new();
    let mut top: Vec<Repeated> = Vec::new();
    let mut group = Group {
        options,
        held: Vec::new(),
        copies: 0,
        documents: 0,
        last_doc: None,
    };
    let mut current: Option<Occurrence> = None; // the group's first occurrence
    loop {
        let next = merge.next()?;
        if let Some(o) = next {
            stats.units += 1;
            stats.bytes += o.bytes as u64;
            if current.is_some_and(|c| c.key == o.key) {
                group.add(o, &mut removals, &mut stats);
                continue;
            }
        }
        if let Some(first) = current {
            let (copies, documents) = (group.copies, group.documents);
            if group.over_max() {
                stats.keys_over_max += 1;
            }
            group.finish(&mut removals, &mut stats);
            stats.keys += 1;
            if copies > 1 {
                stats.repeated_keys += 1;
                top.push(Repeated {
                    key: first.key,
                    copies,
                    documents,
                    first_shard: first.shard,
                    first_id_hash: first.id_hash,
                    first_unit: first.unit,
                });
                if top.len() > 4 * TOP {
                    keep_top(&mut top);
                }
            }
        }
        match next {
            Some(o) => {
                current = Some(o);
                group.copies = 0;
                group.documents = 0;
                group.last_doc = None;
                group.add(o, &mut removals, &mut stats);
            }
            None => break,
        }
    }
    keep_top(&mut top);
    stats.top = top;

    // Removals per shard, in (document, unit) order; an empty file says "none" (so the strip
    // stage can tell it from a missing step).
    removals.sort_unstable();
    let mut at = 0;
    for (s, stem) in stems.iter().enumerate() {
        let mut out = AtomicFile::create(&layout::removals(work, part, stem))?;
        while at < removals.len() && removals[at].0 == s as u32 {
            let (_, id_hash, unit) = removals[at];
            out.write_all(&id_hash.to_le_bytes())?;
            out.write_all(&unit.to_le_bytes())?;
            at += 1;
        }
        out.commit()?;
    }
    write_json(&layout::merge_stats(work, part), &stats)
}

/// The `TOP` keys with the most copies (ties: the smaller key), most first.
pub fn keep_top(top: &mut Vec<Repeated>) {
    top.sort_by(|a, b| b.copies.cmp(&a.copies).then(a.key.cmp(&b.key)));
    top.truncate(TOP);
}

/// Reads a removals file: (document id hash, unit) pairs.
pub fn read_removals(path: &Path) -> Result<Vec<(u64, u32)>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() % 12 != 0 {
        bail!("{}: truncated", path.display());
    }
    Ok(bytes
        .chunks_exact(12)
        .map(|c| {
            (
                u64::from_le_bytes(c[0..8].try_into().expect("8 bytes")),
                u32::from_le_bytes(c[8..12].try_into().expect("4 bytes")),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occurrences(n: u32) -> Vec<Occurrence> {
        (0..n)
            .map(|i| Occurrence {
                key: 7,
                shard: i % 2,
                doc: i,
                unit: 0,
                id_hash: 100 + i as u64,
                bytes: 10,
            })
            .collect()
    }

    /// The removals of one key seen `n` times, under `options`.
    fn decide(n: u32, options: &ParagraphDedupOptions) -> Vec<u64> {
        let mut removals = Vec::new();
        let mut stats = MergeStats::default();
        let mut g = Group {
            options,
            held: Vec::new(),
            copies: 0,
            documents: 0,
            last_doc: None,
        };
        for o in occurrences(n) {
            g.add(o, &mut removals, &mut stats);
        }
        g.finish(&mut removals, &mut stats);
        assert_eq!(stats.removed_units, removals.len() as u64);
        let mut ids: Vec<u64> = removals.iter().map(|r| r.1).collect();
        ids.sort_unstable();
        ids
    }

    #[test]
    fn max_copies_is_a_strict_bound_and_keep_picks_the_survivor() {
        let first = ParagraphDedupOptions {
            max_copies: 3,
            ..Default::default()
        };
        assert!(decide(1, &first).is_empty(), "a unit seen once stays");
        // Exactly max_copies: all but the first go.
        assert_eq!(decide(3, &first), [101, 102]);
        // One more: every copy goes, the first too.
        assert_eq!(decide(4, &first), [100, 101, 102, 103]);
        let none = ParagraphDedupOptions {
            keep: Keep::None,
            max_copies: 3,
            ..Default::default()
        };
        assert_eq!(decide(2, &none), [100, 101]);
        assert!(decide(1, &none).is_empty());
        let unbounded = ParagraphDedupOptions {
            max_copies: 0,
            ..Default::default()
        };
        assert_eq!(decide(500, &unbounded).len(), 499);
    }
}
