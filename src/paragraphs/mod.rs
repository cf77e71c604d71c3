//! Paragraph dedup: exact duplicate paragraphs (or lines) across the corpus, found by hashing
//! normalised units, then stripped from the documents. It removes what whole-document dedup
//! cannot see: the cookie notices, navigation sentences and legal footers that survive
//! extraction and repeat across a site or the web (CCNet's line hashing, dolma's paragraph
//! Bloom filter).
//!
//! Three steps over files, each resumable and each runnable as tasks, then a stage:
//!
//! 1. [`count`] (map, one task per input shard): every unit's hash, with where it is, into
//!    hash-partitioned sorted files.
//! 2. [`merge`] (reduce, one task per hash partition): each hash's occurrences in corpus order
//!    (shard name, position, unit) → which occurrences go: all but the first (`keep =
//!    "first"`) or all (`"none"`), and all of them when a unit occurs more than `max_copies`
//!    times; the removals are written per shard.
//! 3. [`report`] (one task): totals, and the most repeated units with their text.
//! 4. The strip stage (`stages::paragraph_dedup`) leads the next pass: it removes each
//!    document's listed units and drops a document left with less than `min_doc_chars`.
//!
//! Decisions depend on the corpus order only, never on how the work is split into tasks.

pub mod count;
pub mod merge;
pub mod options;
pub mod report;
pub mod units;

/// Work directory layout.
pub mod layout {
    use std::path::{Path, PathBuf};

    pub fn config(work: &Path) -> PathBuf {
        work.join("config.json")
    }
    pub fn expected(work: &Path) -> PathBuf {
        work.join("count").join("expected.json")
    }
    /// The figures of the count task of shard `stem`.
    pub fn count_stats(work: &Path, stem: &str) -> PathBuf {
        work.join("count")
            .join("stats")
            .join(format!("{stem}.json"))
    }
    pub fn count_done(work: &Path) -> PathBuf {
        work.join("count").join("done")
    }
    /// The unit records of shard `stem` in hash partition `part`.
    pub fn counts(work: &Path, part: usize, stem: &str) -> PathBuf {
        work.join("count")
            .join(format!("p{part:04}"))
            .join(format!("{stem}.bin"))
    }
    pub fn counts_dir(work: &Path, part: usize) -> PathBuf {
        work.join("count").join(format!("p{part:04}"))
    }
    pub fn merge_done(work: &Path) -> PathBuf {
        work.join("merge").join("done")
    }
    pub fn merge_stats(work: &Path, part: usize) -> PathBuf {
        work.join("merge")
            .join("stats")
            .join(format!("p{part:04}.json"))
    }
    /// The removals of shard `stem` decided in hash partition `part`.
    pub fn removals(work: &Path, part: usize, stem: &str) -> PathBuf {
        work.join("merge")
            .join(format!("p{part:04}"))
            .join(format!("{stem}.bin"))
    }
    pub fn report(work: &Path) -> PathBuf {
        work.join("report.json")
    }
}
