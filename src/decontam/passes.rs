//! The file-based passes: `count` (map: per-shard document frequencies of task n-grams),
//! `merge` (reduce: n-grams found in `df_threshold` or more documents are common phrases and
//! leave the index), and loading the final index for `strip`.
//!
//! ```text
//! WORK/config.json            tasks, mode and rules (checked by every step)
//! WORK/counts/<stem>.bin      per shard: key u64, documents u32, n-gram length u16 + text
//! WORK/counts/done/<stem>
//! WORK/frequent.bin           sorted keys of the n-grams removed from the index
//! WORK/merge.json             index size, per-task counts, the most frequent n-grams
//! ```

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::cut::{count, Rules};
use super::ngrams::{Compat, NgramIndex, Scanner};

use super::tasks::{build_index, TaskSpec};
use crate::io::shards::AtomicFile;
use crate::pipeline::runner::Job;
use crate::pipeline::tasks::read_expected;
use crate::pipeline::tasks::{for_each_task, write_json};
use crate::read::ReadItem;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecontamConfig {
    pub tasks: Vec<TaskSpec>,
    pub compat: Compat,
    /// Task texts shorter than this many words are ignored.
    pub min_ngram: usize,
    /// Longer task texts give every window of this many words.
    pub max_ngram: usize,
    /// N-grams found in at least this many documents are not removed.
    pub df_threshold: u32,
    pub rules: Rules,
}

impl DecontamConfig {
    pub fn check(&self) -> Result<()> {
        if self.min_ngram == 0 || self.min_ngram > self.max_ngram || self.max_ngram > 64 {
            bail!("n-gram sizes must satisfy 1 ≤ min ≤ max ≤ 64");
        }
        Ok(())
    }

    /// Writes the config into `work`, or checks that the one there is the same.
    pub fn save_or_check(&self, work: &Path) -> Result<()> {
        self.check()?;
        let path = work.join("config.json");
        if path.exists() {
            let existing = Self::load(work)?;
            if existing != *self {
                bail!(
                    "{} was written with other settings; use a new work directory or the same settings",
                    path.display()
                );
            }
            return Ok(());
        }
        // Every count task writes it, possibly at once on different nodes.
        crate::pipeline::tasks::write_json_shared(&path, self)
    }

    pub fn load(work: &Path) -> Result<DecontamConfig> {
        let path = work.join("config.json");
        crate::pipeline::tasks::read_step_json(&path, "sieve decontam count")
    }

    pub fn build_index(&self) -> Result<NgramIndex> {
        Ok(build_index(&self.tasks, self.min_ngram, self.max_ngram)?.0)
    }
}

fn counts_dir(work: &Path) -> PathBuf {
    work.join("counts")
}

/// Pass 1 on this task's shards: which task n-grams each document contains.
pub fn count_pass(
    work: &Path,
    cfg: &DecontamConfig,
    index: &NgramIndex,
    jobs: &[Job],
    threads: usize,
    quiet: bool,
) -> Result<()> {
    cfg.save_or_check(work)?;
    for_each_task(
        "decontam count",
        &counts_dir(work).join("done"),
        jobs,
        |j| j.stem.clone(),
        threads,
        quiet,
        |job| count_shard(work, cfg, index, job),
    )
}

fn count_shard(work: &Path, cfg: &DecontamConfig, index: &NgramIndex, job: &Job) -> Result<()> {
    let mut scanner = Scanner::new(index, cfg.compat);
    let mut df: HashMap<u64, (u32, String)> = HashMap::new();
    let mut found = Vec::new();
    let mut errors = 0u64;
    for item in job.source.open(&job.input)? {
        let doc = match item {
            ReadItem::Doc(d) => d,
            ReadItem::Fatal(m) => bail!("{m}"),
            ReadItem::Error { message, .. } => {
                errors += 1;
                if errors <= 20 {
                    eprintln!("sieve decontam count: {message}");
                }
                continue;
            }
            ReadItem::Dropped { .. } => continue,
        };
        count(&doc.text, &mut scanner, &mut found);
        for (key, text) in found.drain(..) {
            let e = df.entry(key).or_insert_with(|| (0, text));
            e.0 += 1;
        }
    }
    let mut rows: Vec<(u64, u32, String)> = df.into_iter().map(|(k, (n, t))| (k, n, t)).collect();
    rows.sort_unstable_by_key(|r| r.0);
    write_counts(&counts_dir(work).join(format!("{}.bin", job.stem)), &rows)
}

/// One record per n-gram: key u64, documents u32, text length u16, text (cut at 64 KiB).
fn write_counts(path: &Path, rows: &[(u64, u32, String)]) -> Result<()> {
    let mut out = AtomicFile::create(path)?;
    for (key, n, text) in rows {
        let text = &text.as_bytes()[..text.len().min(u16::MAX as usize)];
        out.write_all(&key.to_le_bytes())?;
        out.write_all(&n.to_le_bytes())?;
        out.write_all(&(text.len() as u16).to_le_bytes())?;
        out.write_all(text)?;
    }
    out.commit()
}

fn read_counts(path: &Path, mut f: impl FnMut(u64, u32, &str)) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (mut rest, mut at) = (&bytes[..], 0);
    while !rest.is_empty() {
        let truncated = || anyhow::anyhow!("{}: truncated at byte {at}", path.display());
        let head = rest.get(..14).ok_or_else(truncated)?;
        let key = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
        let n = u32::from_le_bytes(head[8..12].try_into().expect("4 bytes"));
        let len = u16::from_le_bytes(head[12..].try_into().expect("2 bytes")) as usize;
        let text = rest.get(14..14 + len).ok_or_else(truncated)?;
        f(key, n, &String::from_utf8_lossy(text));
        rest = &rest[14 + len..];
        at += 14 + len;
    }
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct FrequentNgram {
    pub ngram: String,
    pub documents: u64,
    pub tasks: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct MergeReport {
    pub shards: usize,
    pub index_ngrams: usize,
    pub ngrams_found: usize,
    /// Found in `df_threshold` or more documents: kept in the text, removed from the index.
    pub frequent: usize,
    pub most_frequent: Vec<FrequentNgram>,
}

/// Pass 1's reduce: sums the per-shard document frequencies of all `expected` shards.
pub fn merge_pass(work: &Path, index: &NgramIndex, expected: &[String]) -> Result<MergeReport> {
    let cfg = DecontamConfig::load(work)?;
    let dir = counts_dir(work);
    let missing: Vec<&String> = expected
        .iter()
        .filter(|s| !dir.join("done").join(s).exists())
        .collect();
    if !missing.is_empty() {
        bail!(
            "{} of {} shards have not finished `sieve decontam count` (first: {})",
            missing.len(),
            expected.len(),
            missing[0]
        );
    }
    let mut total: HashMap<u64, (u64, String)> = HashMap::new();
    for stem in expected {
        read_counts(&dir.join(format!("{stem}.bin")), |k, n, t| {
            let e = total.entry(k).or_insert_with(|| (0, t.to_string()));
            e.0 += n as u64;
        })?;
    }
    let mut frequent: Vec<(u64, u64, String)> = total
        .iter()
        .filter(|(_, (n, _))| *n >= cfg.df_threshold as u64)
        .map(|(k, (n, t))| (*k, *n, t.clone()))
        .collect();
    frequent.sort_unstable_by_key(|f| f.0);
    let mut out = AtomicFile::create(&work.join("frequent.bin"))?;
    for (k, _, _) in &frequent {
        out.write_all(&k.to_le_bytes())?;
    }
    out.commit()?;
    let mut top = frequent.clone();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    let report = MergeReport {
        shards: expected.len(),
        index_ngrams: index.len(),
        ngrams_found: total.len(),
        frequent: frequent.len(),
        most_frequent: top
            .into_iter()
            .take(50)
            .map(|(k, n, t)| FrequentNgram {
                ngram: t,
                documents: n,
                tasks: index
                    .entries
                    .get(&k)
                    .map(|e| index.task_list(e).into_iter().map(String::from).collect())
                    .unwrap_or_default(),
            })
            .collect(),
    };
    write_json(&work.join("merge.json"), &report)?;
    Ok(report)
}

/// The index `strip` uses: every task n-gram minus the frequent ones. Needs `merge`.
/// The count step as one task: the settings and the list of every shard recorded in `work`
/// (or checked against what is there), then the shards `mine` counted.
pub fn count_step(
    work: &Path,
    cfg: &DecontamConfig,
    all: &[Job],
    mine: &[Job],
    threads: usize,
    quiet: bool,
) -> Result<()> {
    // The index first: a task file that cannot be read fails before anything is written.
    let index = cfg.build_index()?;
    cfg.save_or_check(work)?;
    crate::pipeline::tasks::record_expected(&expected_path(work), all)?;
    count_pass(work, cfg, &index, mine, threads, quiet)
}

/// The merge step: every shard's counts summed with the settings `work` recorded; says what it
/// found unless `quiet`.
pub fn merge_step(work: &Path, quiet: bool) -> Result<MergeReport> {
    let cfg = DecontamConfig::load(work)?;
    let index = cfg.build_index()?;
    let report = merge_pass(work, &index, &expected(work)?)?;
    if !quiet {
        eprintln!(
            "sieve decontam: {} task n-grams, {} found in the corpus, {} in ≥ {} documents (kept as common phrases); report in {}",
            report.index_ngrams,
            report.ngrams_found,
            report.frequent,
            cfg.df_threshold,
            work.join("merge.json").display()
        );
    }
    Ok(report)
}

pub fn strip_index(work: &Path) -> Result<Arc<NgramIndex>> {
    let cfg = DecontamConfig::load(work)?;
    let path = work.join("frequent.bin");
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "cannot read {} (run `sieve decontam merge` first)",
            path.display()
        )
    })?;
    if bytes.len() % 8 != 0 {
        bail!("{}: truncated", path.display());
    }
    let mut index = cfg.build_index()?;
    for k in bytes.chunks_exact(8) {
        index
            .entries
            .remove(&u64::from_le_bytes(k.try_into().expect("8")));
    }
    index.finish();
    Ok(Arc::new(index))
}

pub fn expected_path(work: &Path) -> PathBuf {
    work.join("counts").join("expected.json")
}

pub fn expected(work: &Path) -> Result<Vec<String>> {
    read_expected(&expected_path(work), "sieve decontam count")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(min_ngram: usize, max_ngram: usize) -> DecontamConfig {
        DecontamConfig {
            tasks: Vec::new(),
            compat: Compat::Sieve,
            min_ngram,
            max_ngram,
            df_threshold: 10,
            rules: Rules::default(),
        }
    }

    #[test]
    fn ngram_sizes_run_from_1_to_64_with_the_minimum_at_most_the_maximum() {
        for (min, max, ok) in [
            (0, 13, false),
            (1, 1, true),
            (1, 13, true),
            (13, 13, true),
            (14, 13, false),
            (8, 64, true),
            (8, 65, false),
            (64, 64, true),
        ] {
            assert_eq!(config(min, max).check().is_ok(), ok, "{min}..{max}");
        }
    }

    #[test]
    fn counts_read_back_as_written_and_a_cut_file_is_named_at_its_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part.bin");
        let rows = vec![
            (u64::MAX - 1, 7u32, "alpha bravo".to_string()),
            (3, u32::MAX, "ünïcode words".to_string()),
        ];
        write_counts(&path, &rows).unwrap();
        let mut read = Vec::new();
        read_counts(&path, |k, n, t| read.push((k, n, t.to_string()))).unwrap();
        assert_eq!(read, rows);
        // Cut anywhere but between records: named at the start of the record cut short.
        let bytes = std::fs::read(&path).unwrap();
        let second = 14 + "alpha bravo".len();
        for cut in 0..bytes.len() {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let result = read_counts(&path, |_, _, _| {});
            match cut {
                0 => assert!(result.is_ok()),
                c if c == second => assert!(result.is_ok()),
                c => {
                    let at = if c < second { 0 } else { second };
                    let err = result.unwrap_err().to_string();
                    assert!(
                        err.ends_with(&format!("truncated at byte {at}")),
                        "{c}: {err}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_work_directory_keeps_the_settings_it_was_started_with() {
        let work = tempfile::tempdir().unwrap();
        let first = config(8, 13);
        first.save_or_check(work.path()).unwrap();
        assert_eq!(DecontamConfig::load(work.path()).unwrap(), first);
        first.save_or_check(work.path()).unwrap();
        let err = config(9, 13).save_or_check(work.path()).unwrap_err();
        assert!(err.to_string().contains("other settings"), "{err}");
        assert!(config(0, 13)
            .save_or_check(tempfile::tempdir().unwrap().path())
            .is_err());
    }
}
