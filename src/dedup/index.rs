//! A persistent dedup index: the documents earlier runs kept, in the form a later run's
//! `edges` step reads beside its own (`against`), so that a new snapshot is deduplicated
//! against the old ones without reprocessing them.
//!
//! ```text
//! INDEX/index.json                 format, layout, the segments in generation order
//! INDEX/seg-<build>/<stem>.docs    the kept documents' entries (DocEntry), renumbered
//! INDEX/seg-<build>/<stem>.ids     their ids
//! INDEX/seg-<build>/<stem>.sigs    their MinHash signatures
//! INDEX/seg-<build>/<stem>.shingles their shingle sets (layouts verified by exact Jaccard)
//! INDEX/seg-<build>/lsh/<part>.bin their band, exact-text and URL keys: one file per
//!                                  partition, 16-byte LshRecords sorted as the run's
//! INDEX/.staging-<build>/          a segment being built (`index_build`)
//! ```
//!
//! A segment is what one run kept; generation N is the first N segments. Segments never
//! change once published, and `index.json` is replaced atomically, so a run reading
//! generation N is not disturbed by another adding generation N + 1.
//!
//! The index's documents take part in the run exactly as if they were the first documents of
//! its corpus, ranked above all of its own: they fill the LSH buckets beside the run's, are
//! verified the same way, and join the run's connected components, where one of them is
//! always the representative. A run's kept documents are therefore those of one dedup over
//! (the indexed documents ∪ the run's), restricted to the run's.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::config::{DedupConfig, Methods, Verify};
use super::files::{part_kind, range_of, KIND_FUZZY};
use super::shingle::Shingling;

pub const FORMAT: &str = "sieve-dedup-index/1";
const MANIFEST: &str = "index.json";

/// What decides whether two runs' keys and signatures can be compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    pub shingling: Shingling,
    pub bands: usize,
    pub rows: usize,
    /// Seed of the MinHash permutations.
    pub seed: u64,
    pub methods: Methods,
    /// Whether shingle sets are stored, so that pairs can be verified by exact Jaccard.
    pub shingle_sets: bool,
}

impl Layout {
    pub fn of(cfg: &DedupConfig) -> Layout {
        Layout {
            shingling: cfg.shingling,
            bands: cfg.bands,
            rows: cfg.rows,
            seed: cfg.seed,
            methods: cfg.methods,
            shingle_sets: cfg.methods.fuzzy && cfg.verify == Verify::Exact,
        }
    }

    /// Why documents indexed with this layout cannot be compared with those of a run with
    /// `cfg`, if they cannot.
    pub fn mismatch(&self, cfg: &DedupConfig) -> Option<String> {
        let run = Layout::of(cfg);
        if self.methods.fuzzy && cfg.methods.fuzzy {
            if (self.bands, self.rows) != (run.bands, run.rows) {
                return Some(format!(
                    "its MinHash layout is {} bands × {} rows, the run's {} × {}",
                    self.bands, self.rows, run.bands, run.rows
                ));
            }
            if self.seed != run.seed {
                return Some(format!(
                    "its MinHash seed is {}, the run's {}",
                    self.seed, run.seed
                ));
            }
            if self.shingling != run.shingling {
                return Some(format!(
                    "its shingles are {}, the run's {}",
                    self.shingling, run.shingling
                ));
            }
            if run.shingle_sets && !self.shingle_sets {
                return Some(
                    "it stores no shingle sets (built with --verify estimate) and the run verifies by exact Jaccard"
                        .into(),
                );
            }
        }
        let missing: Vec<&str> = [
            ("exact", cfg.methods.exact && !self.methods.exact),
            ("url", cfg.methods.url && !self.methods.url),
            ("fuzzy", cfg.methods.fuzzy && !self.methods.fuzzy),
        ]
        .iter()
        .filter(|m| m.1)
        .map(|m| m.0)
        .collect();
        if !missing.is_empty() {
            return Some(format!(
                "it was built without the {} keys the run matches by",
                missing.join(", ")
            ));
        }
        None
    }
}

/// One run's kept documents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// Its directory in the index (`seg-<build>`).
    pub name: String,
    /// A hash of the run it was built from (its settings, inputs and results): building the
    /// same run into the index again finds it already there.
    pub build: String,
    pub documents: u64,
    /// Its shards' stems, in shard order.
    pub shards: Vec<String>,
    /// Key ranges of its `lsh/` files.
    pub ranges: usize,
    /// Bytes of its files.
    pub bytes: u64,
    /// The dedup work directory it was built from.
    pub source: String,
}

/// `INDEX/index.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub layout: Layout,
    /// Generation N is the first N segments.
    pub segments: Vec<Segment>,
}

impl Manifest {
    pub fn path(index: &Path) -> PathBuf {
        index.join(MANIFEST)
    }

    pub fn exists(index: &Path) -> bool {
        Self::path(index).exists()
    }

    pub fn load(index: &Path) -> Result<Manifest> {
        let path = Self::path(index);
        let bytes = std::fs::read(&path).with_context(|| {
            format!(
                "{}: not a dedup index (cannot read {MANIFEST})",
                index.display()
            )
        })?;
        let m: Manifest = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not valid", path.display()))?;
        if m.format != FORMAT {
            bail!(
                "{}: index format `{}`, this sieve reads `{FORMAT}`",
                index.display(),
                m.format
            );
        }
        Ok(m)
    }

    /// The generation a run with `cfg` would read now, or why it cannot use this index.
    pub fn usable_by(&self, cfg: &DedupConfig) -> Result<usize> {
        match self.layout.mismatch(cfg) {
            Some(why) => bail!("this index cannot serve the run: {why}"),
            None => Ok(self.segments.len()),
        }
    }

    /// Documents in the first `generation` segments.
    pub fn documents(&self, generation: usize) -> u64 {
        self.segments[..generation.min(self.segments.len())]
            .iter()
            .map(|s| s.documents)
            .sum()
    }
}

/// A file of index records that belongs to one of the run's partitions: only its records
/// whose key falls in `keep` (the run's key range) belong to it.
#[derive(Debug, Clone)]
pub struct PartSource {
    pub path: PathBuf,
    /// Where the merge puts it among the run's records and other sources with the same
    /// key: lower first.
    pub tier: u32,
    /// Added to the segment's shard numbers to give run-wide shard numbers.
    pub shard_offset: u32,
    /// (ranges, range) of the run: records outside are skipped.
    pub keep: (usize, usize),
}

/// The indexes a run reads, opened at their pinned generations: their shards numbered after
/// the run's own.
pub struct Against {
    /// Per index of `cfg.against`: its path and the segments read.
    pub indexes: Vec<(PathBuf, Vec<Segment>)>,
    /// The run's own shard count: run-wide shard numbers from here on are indexed documents.
    pub first_shard: u32,
    /// Run-wide first shard number of each (index, segment), in order.
    offsets: Vec<Vec<u32>>,
    /// Where each indexed shard's tables are: (segment directory, stem), in shard order.
    pub tables: Vec<(PathBuf, String)>,
}

impl Against {
    pub fn open(cfg: &DedupConfig, run_shards: usize) -> Result<Against> {
        let mut indexes = Vec::new();
        let mut offsets = Vec::new();
        let mut tables = Vec::new();
        let first_shard = run_shards as u32;
        for a in &cfg.against {
            if a.generation == 0 {
                // Pinned while the index did not exist yet: nothing to read.
                offsets.push(Vec::new());
                indexes.push((a.path.clone(), Vec::new()));
                continue;
            }
            let m = Manifest::load(&a.path)?;
            if let Some(why) = m.layout.mismatch(cfg) {
                bail!(
                    "{}: this index cannot serve the run: {why}",
                    a.path.display()
                );
            }
            if a.generation > m.segments.len() {
                bail!(
                    "{}: the run was started against generation {}, but the index has {} (was it rebuilt?)",
                    a.path.display(),
                    a.generation,
                    m.segments.len()
                );
            }
            let segments = m.segments[..a.generation].to_vec();
            let mut seg_offsets = Vec::new();
            for s in &segments {
                let offset = run_shards + tables.len();
                if offset + s.shards.len() >= 1 << 24 {
                    bail!("more than 16.7M shards in the run and its indexes together");
                }
                seg_offsets.push(offset as u32);
                let dir = a.path.join(&s.name);
                tables.extend(s.shards.iter().map(|stem| (dir.clone(), stem.clone())));
            }
            offsets.push(seg_offsets);
            indexes.push((a.path.clone(), segments));
        }
        Ok(Against {
            indexes,
            first_shard,
            offsets,
            tables,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// The index (position in `against`) a run-wide shard number ≥ `first_shard` belongs to.
    pub fn index_of_shard(&self, shard: u32) -> usize {
        let mut last = 0;
        for (i, offs) in self.offsets.iter().enumerate() {
            if offs.first().is_some_and(|&o| o <= shard) {
                last = i;
            }
        }
        last
    }

    /// The index files that hold records of the run's partition `part` (a band or the exact
    /// or URL keys, and one of the run's `ranges` key ranges). Sources come in priority order:
    /// indexes as listed, segments oldest first.
    pub fn sources(&self, part: &str, ranges: usize) -> Vec<PartSource> {
        let kind = part_kind(part);
        let (band, range) = parse_part(part);
        let mut out = Vec::new();
        let mut tier = 0u32;
        for ((path, segments), offs) in self.indexes.iter().zip(&self.offsets) {
            for (s, &offset) in segments.iter().zip(offs) {
                // The index's key ranges that overlap the run's range `range` of `ranges`.
                let lo = range_start(range, ranges);
                let hi = range_end(range, ranges);
                let first = range_of(lo, s.ranges);
                let last = range_of(hi, s.ranges);
                for r in first..=last {
                    let name = super::files::part_name(kind, band, r);
                    let file = path.join(&s.name).join("lsh").join(format!("{name}.bin"));
                    if file.exists() {
                        out.push(PartSource {
                            path: file,
                            tier,
                            shard_offset: offset,
                            keep: (ranges, range),
                        });
                    }
                }
                tier += 1;
            }
        }
        out
    }
}

/// The band and key range in a partition name (`b07-r0003`, `exact-r0001`).
fn parse_part(part: &str) -> (usize, usize) {
    let range = part
        .rsplit_once("-r")
        .and_then(|(_, r)| r.parse().ok())
        .unwrap_or(0);
    let band = if part_kind(part) == KIND_FUZZY {
        part[1..]
            .split('-')
            .next()
            .and_then(|b| b.parse().ok())
            .unwrap_or(0)
    } else {
        0
    };
    (band, range)
}

/// The first key of range `r` of `n` (see `range_of`).
fn range_start(r: usize, n: usize) -> u64 {
    (((r as u128) << 64).div_ceil(n as u128)) as u64
}

/// The last key of range `r` of `n`.
fn range_end(r: usize, n: usize) -> u64 {
    if r + 1 == n {
        u64::MAX
    } else {
        range_start(r + 1, n) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_bounds_agree_with_range_of() {
        for n in [1usize, 2, 3, 7, 16, 4096] {
            for r in 0..n.min(20) {
                let (lo, hi) = (range_start(r, n), range_end(r, n));
                assert_eq!(range_of(lo, n), r, "n {n} r {r}");
                assert_eq!(range_of(hi, n), r, "n {n} r {r}");
                if lo > 0 {
                    assert_eq!(range_of(lo - 1, n), r - 1, "n {n} r {r}");
                }
                if hi < u64::MAX {
                    assert_eq!(range_of(hi + 1, n), r + 1, "n {n} r {r}");
                }
            }
        }
    }

    #[test]
    fn partition_names_parse() {
        assert_eq!(parse_part("b07-r0003"), (7, 3));
        assert_eq!(parse_part("exact-r0001"), (0, 1));
        assert_eq!(parse_part("url-r0000"), (0, 0));
    }
}
