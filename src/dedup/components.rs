//! Step 4 (reduce, one task): connected components of the verified edges, one
//! representative per component, the remove list of every shard, and the reports.
//!
//! Documents get compact ids: shards in name order, documents in shard order. The union-find
//! keeps, per document, a 4-byte parent, a 1-byte priority rank and a 1-byte strongest edge
//! kind: **6 bytes per document** (6 GB for a billion), plus 8 bytes per document that has a
//! duplicate while the reports are written. The root of every set is kept equal to its best
//! member — lowest (rank, compact id), i.e. the first document met in the highest-priority
//! dataset — so the root *is* the representative and no second pass is needed to choose it.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::config::DedupConfig;
use super::edges::{partitions, ShardCache};
use super::files::{
    for_each_record, kind_name, write_removal, DocsReader, Edge, Removal, WorkDir, EDGE_SIZE,
};
use super::index::Against;
use crate::io::shards::AtomicFile;
use crate::pipeline::tasks::write_json;

/// Components listed in full in `report.json`.
const LARGEST_LISTED: usize = 20;
/// Members listed per component in `components.jsonl`.
const MEMBERS_LISTED: usize = 1000;

/// Union-find whose roots are always the best member of their set.
pub struct Components {
    parent: Vec<u32>,
    rank: Vec<u8>,
    /// Strongest edge kind touching each document (255 = none).
    kind: Vec<u8>,
}

impl Components {
    pub fn new(rank: Vec<u8>) -> Components {
        let n = rank.len();
        Components {
            parent: (0..n as u32).collect(),
            rank,
            kind: vec![u8::MAX; n],
        }
    }

    pub fn find(&mut self, mut x: u32) -> u32 {
        // Path halving: every visited node skips to its grandparent.
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }

    pub fn union(&mut self, a: u32, b: u32, kind: u8) {
        for x in [a, b] {
            let k = &mut self.kind[x as usize];
            *k = (*k).min(kind);
        }
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        let key = |r: u32| (self.rank[r as usize], r);
        let (winner, loser) = if key(ra) < key(rb) {
            (ra, rb)
        } else {
            (rb, ra)
        };
        self.parent[loser as usize] = winner;
    }

    pub fn kind(&self, x: u32) -> u8 {
        self.kind[x as usize]
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct LargeComponent {
    pub representative: String,
    pub representative_dataset: String,
    pub size: u64,
    pub datasets: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Report {
    pub documents: u64,
    pub shards: u64,
    pub edges: BTreeMap<String, u64>,
    /// Components with at least two members.
    pub components: u64,
    pub documents_in_components: u64,
    pub removed: u64,
    pub documents_by_dataset: BTreeMap<String, u64>,
    pub removed_by_dataset: BTreeMap<String, u64>,
    /// Removed documents by their strongest own edge.
    pub removed_by_kind: BTreeMap<String, u64>,
    /// Component sizes: "2", "3-4", "5-8", ... → number of components.
    pub size_histogram: BTreeMap<String, u64>,
    pub largest: Vec<LargeComponent>,
    pub union_find_bytes: u64,
    /// The indexes the run was checked against (`against`): path, generation read and the
    /// documents in it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub against: Vec<IndexUse>,
    /// Documents removed because they duplicate an indexed document, by index.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub removed_by_index: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct IndexUse {
    pub path: String,
    pub generation: usize,
    pub documents: u64,
}

/// Every indexed document (run-wide shard ≥ `first_indexed`, document) that an edge of
/// `parts` touches, sorted and without repeats.
fn touched_indexed(
    work: &WorkDir,
    parts: &[String],
    first_indexed: u32,
) -> Result<Vec<(u32, u32)>> {
    let mut touched = Vec::new();
    for part in parts {
        for_each_record(&work.edges_file(part), EDGE_SIZE, |b| {
            let e = Edge::from_bytes(b);
            for end in [e.a, e.b] {
                if end.0 >= first_indexed {
                    touched.push(end);
                }
            }
            Ok(())
        })?;
        // Keep the list small while reading: a popular indexed document meets many edges.
        touched.sort_unstable();
        touched.dedup();
    }
    Ok(touched)
}

/// The largest components first (ties: the lowest root id), the first `LARGEST_LISTED` kept.
fn keep_largest(largest: &mut Vec<(u64, u32, LargeComponent)>) {
    largest.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    largest.truncate(LARGEST_LISTED);
}

/// Keeps the candidate list short while components stream past: whenever it has grown to
/// four times the listed number, only the largest so far stay. Only memory depends on when
/// this runs: a component it drops is not among the largest so far, so not among the largest.
fn bound_largest(largest: &mut Vec<(u64, u32, LargeComponent)>) {
    if largest.len() > 4 * LARGEST_LISTED {
        keep_largest(largest);
    }
}

/// Compact ids are 32-bit: a run of more documents must be split.
fn fits_compact_ids(documents: usize) -> Result<()> {
    if documents as u64 > u32::MAX as u64 {
        bail!("more than 4,294,967,295 documents: split the corpus into several dedup runs");
    }
    Ok(())
}

fn size_bucket(size: u64) -> String {
    if size <= 2 {
        return "2".into();
    }
    let hi = size.next_power_of_two();
    format!("{}-{}", hi / 2 + 1, hi)
}

#[derive(Serialize)]
struct ComponentLine<'a> {
    representative: &'a str,
    dataset: &'a str,
    size: u64,
    datasets: &'a BTreeMap<String, u64>,
    members: &'a [String],
    members_truncated: bool,
}

pub fn run(work: &WorkDir) -> Result<Report> {
    let cfg = DedupConfig::load(&work.root)?;
    let shards = work.signature_shards()?;
    let parts = partitions(&cfg);
    let done = work.done("edges")?;
    let missing: Vec<&String> = parts
        .iter()
        .filter(|p| done.binary_search(p).is_err())
        .collect();
    if !missing.is_empty() {
        bail!(
            "{} of {} edge partitions are not finished (first: {}); run `sieve dedup edges` first",
            missing.len(),
            parts.len(),
            missing[0]
        );
    }

    let against = Against::open(&cfg, shards.len())?;
    // Indexed documents that some edge touches, sorted: they take compact ids 0..m, before
    // the run's documents, and rank above all of them, so that a component holding one is
    // always represented by one (the first in index order).
    let indexed = touched_indexed(work, &parts, against.first_shard)?;
    let m = indexed.len() as u64;

    // Compact ids and priority ranks, shard by shard.
    let mut report = Report {
        shards: shards.len() as u64,
        ..Default::default()
    };
    let mut offsets = Vec::with_capacity(shards.len() + 1);
    let mut rank: Vec<u8> = vec![0; indexed.len()];
    for stem in &shards {
        offsets.push(rank.len() as u64);
        let mut docs = DocsReader::open(&work.shard_file(stem, "docs"))?;
        let ranks: Vec<u8> = docs.header.datasets.iter().map(|d| cfg.rank(d)).collect();
        while let Some(e) = docs.next_entry()? {
            rank.push(ranks[e.dataset as usize]);
            *report
                .documents_by_dataset
                .entry(docs.header.datasets[e.dataset as usize].clone())
                .or_default() += 1;
        }
        fits_compact_ids(rank.len())?;
    }
    offsets.push(rank.len() as u64);
    let n = rank.len();
    report.documents = n as u64 - m;
    report.union_find_bytes = 6 * n as u64;
    let gid = |(shard, doc): (u32, u32)| -> Result<u32> {
        if shard >= against.first_shard {
            let at = indexed
                .binary_search(&(shard, doc))
                .map_err(|_| anyhow::anyhow!("indexed document {doc} of shard {shard} missing"))?;
            return Ok(at as u32);
        }
        let base = *offsets
            .get(shard as usize)
            .ok_or_else(|| anyhow::anyhow!("edge names shard {shard}, beyond the last"))?;
        if base + doc as u64 >= offsets[shard as usize + 1] {
            bail!("edge names document {doc} of shard {shard}, beyond its last");
        }
        Ok((base + doc as u64) as u32)
    };

    report.against = against
        .indexes
        .iter()
        .map(|(path, segments)| IndexUse {
            path: path.display().to_string(),
            generation: segments.len(),
            documents: segments.iter().map(|s| s.documents).sum(),
        })
        .collect();
    let mut uf = Components::new(rank);
    for part in &parts {
        for_each_record(&work.edges_file(part), EDGE_SIZE, |b| {
            let e = Edge::from_bytes(b);
            *report.edges.entry(kind_name(e.kind).into()).or_default() += 1;
            uf.union(gid(e.a)?, gid(e.b)?, e.kind);
            Ok(())
        })?;
    }

    // The run's members of every component with more than one, grouped by root (indexed
    // documents are never removed: they are not the run's).
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    for x in m as u32..n as u32 {
        let r = uf.find(x);
        if r != x {
            pairs.push((r, x));
        }
    }
    pairs.sort_unstable();
    let mut size_of: HashMap<u32, u32> = HashMap::new();
    for &(r, _) in &pairs {
        *size_of.entry(r).or_insert(1) += 1;
    }
    report.components = size_of.len() as u64;
    report.removed = pairs.len() as u64;
    let run_roots = size_of.keys().filter(|&&r| r as u64 >= m).count();
    report.documents_in_components = (pairs.len() + run_roots) as u64;

    let locate = |g: u32| -> (u32, u32) {
        if (g as u64) < m {
            return indexed[g as usize];
        }
        let shard = offsets.partition_point(|&o| o <= g as u64) - 1;
        (shard as u32, (g as u64 - offsets[shard]) as u32)
    };
    let origin = |root: u32| -> u8 {
        if (root as u64) < m {
            1 + against.index_of_shard(indexed[root as usize].0) as u8
        } else {
            0
        }
    };
    let mut cache = ShardCache::new(work, &shards, &against, cfg.num_perm());
    let mut describe = |g: u32| -> Result<(String, String)> {
        let (s, d) = locate(g);
        let t = cache.get(s)?;
        let e = t.entry(d)?;
        Ok((t.id(&e)?, t.dataset(&e).to_string()))
    };

    // components.jsonl and the largest components.
    let mut lines = AtomicFile::create(&work.step("components").join("components.jsonl"))?;
    let mut largest: Vec<(u64, u32, LargeComponent)> = Vec::new();
    let mut i = 0;
    while i < pairs.len() {
        let root = pairs[i].0;
        let mut j = i;
        while j < pairs.len() && pairs[j].0 == root {
            j += 1;
        }
        let size = (j - i + 1) as u64;
        *report.size_histogram.entry(size_bucket(size)).or_default() += 1;
        let (rep_id, rep_dataset) = describe(root)?;
        if origin(root) > 0 {
            let index = against.indexes[origin(root) as usize - 1]
                .0
                .display()
                .to_string();
            *report.removed_by_index.entry(index).or_default() += size - 1;
        }
        let mut datasets = BTreeMap::new();
        *datasets.entry(rep_dataset.clone()).or_insert(0u64) += 1;
        let mut members = Vec::new();
        for &(_, m) in &pairs[i..j] {
            let (id, dataset) = describe(m)?;
            *datasets.entry(dataset.clone()).or_default() += 1;
            *report.removed_by_dataset.entry(dataset).or_default() += 1;
            *report
                .removed_by_kind
                .entry(kind_name(uf.kind(m)).into())
                .or_default() += 1;
            if members.len() < MEMBERS_LISTED {
                members.push(id);
            }
        }
        let line = ComponentLine {
            representative: &rep_id,
            dataset: &rep_dataset,
            size,
            datasets: &datasets,
            members: &members,
            members_truncated: size - 1 > members.len() as u64,
        };
        serde_json::to_writer(&mut lines, &line)?;
        lines.write_all(b"\n")?;
        largest.push((
            size,
            root,
            LargeComponent {
                representative: rep_id,
                representative_dataset: rep_dataset,
                size,
                datasets,
            },
        ));
        bound_largest(&mut largest);
        i = j;
    }
    lines.commit()?;
    keep_largest(&mut largest);
    report.largest = largest.into_iter().map(|(_, _, c)| c).collect();

    // Remove lists, one per shard (empty files too: `filter` tells "nothing to remove"
    // from "components never ran").
    for (s, stem) in shards.iter().enumerate() {
        let mut out = AtomicFile::create(&work.remove_file(stem))?;
        let (lo, hi) = (offsets[s], offsets[s + 1]);
        let position = |x: u32| (x as u64 - lo) as u32;
        let mut removals: Vec<(u32, u32)> = Vec::new();
        for x in lo..hi {
            let x = x as u32;
            let r = uf.find(x);
            if r != x {
                removals.push((x, r));
            }
        }
        if !removals.is_empty() {
            let mut docs = DocsReader::open(&work.shard_file(stem, "docs"))?;
            let mut next = 0usize;
            let mut local = 0u64;
            while let Some(e) = docs.next_entry()? {
                if next < removals.len() && removals[next].0 as u64 == lo + local {
                    let root = removals[next].1;
                    let (rep, _) = describe(root)?;
                    write_removal(
                        &mut out,
                        &Removal {
                            id_hash: e.id_hash,
                            position: position(removals[next].0),
                            component_size: size_of[&root],
                            kind: uf.kind(removals[next].0),
                            origin: origin(root),
                            representative: rep,
                        },
                    )?;
                    next += 1;
                }
                local += 1;
            }
        }
        out.commit()?;
    }
    write_json(&work.step("components").join("report.json"), &report)?;
    AtomicFile::write_all(&work.marker("components", "all"), b"")?;
    Ok(report)
}

pub fn print_report(report: &Report, work: &WorkDir) {
    eprintln!(
        "sieve dedup: {} documents, {} groups of duplicates, {} removed ({:.2}%); edges {:?}",
        report.documents,
        report.components,
        report.removed,
        100.0 * report.removed as f64 / report.documents.max(1) as f64,
        report.edges
    );
    if let Some(big) = report.largest.first() {
        eprintln!(
            "sieve dedup: largest group: {} documents, kept {} ({})",
            big.size, big.representative, big.representative_dataset
        );
    }
    eprintln!(
        "sieve dedup: report in {}",
        work.step("components").join("report.json").display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_the_best_member_whatever_the_union_order() {
        // Document 3 has rank 0 (highest priority); the others rank 1 or 2.
        let ranks = vec![2, 1, 2, 0, 1];
        for order in [
            [(0, 1), (1, 2), (2, 3)],
            [(2, 3), (1, 2), (0, 1)],
            [(1, 2), (2, 3), (0, 1)],
        ] {
            let mut uf = Components::new(ranks.clone());
            for (a, b) in order {
                uf.union(a, b, 2);
            }
            for x in 0..4 {
                assert_eq!(uf.find(x), 3);
            }
            assert_eq!(uf.find(4), 4);
        }
        // The best member on either side of a union.
        for (a, b) in [(3, 4), (4, 3), (0, 3), (3, 0)] {
            let mut uf = Components::new(ranks.clone());
            uf.union(a, b, 1);
            assert_eq!((uf.find(a), uf.find(b)), (3, 3), "union({a}, {b})");
        }
        // Equal ranks: the lowest id wins.
        let mut uf = Components::new(vec![1, 1, 1]);
        uf.union(2, 1, 0);
        uf.union(1, 0, 2);
        assert_eq!(uf.find(2), 0);
        assert_eq!(uf.kind(1), 0);
        assert_eq!(uf.kind(0), 2);
    }

    #[test]
    fn histogram_buckets() {
        assert_eq!(size_bucket(2), "2");
        assert_eq!(size_bucket(3), "3-4");
        assert_eq!(size_bucket(4), "3-4");
        assert_eq!(size_bucket(5), "5-8");
        assert_eq!(size_bucket(100), "65-128");
    }
}
