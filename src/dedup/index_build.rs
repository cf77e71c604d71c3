//! Adding a finished run's kept documents to a dedup index as a new generation
//! (`write_index`, `sieve dedup index`). Three steps, each resumable and each runnable as
//! tasks, after `components`:
//!
//! 1. [`shards`] (map, one task per signatures shard): the shard's kept documents — their
//!    entries renumbered, ids, signatures and shingle sets — and their records of every LSH
//!    partition, into `INDEX/.staging-<build>/`.
//! 2. [`partitions`] (reduce, one task per partition): each partition's per-shard records
//!    merged into one sorted file, `lsh/<part>.bin`.
//! 3. [`publish`] (one task): the staging directory becomes the segment `seg-<build>` and
//!    `index.json` is replaced, atomically, by one that lists it last.
//!
//! `<build>` is a hash of the run (its work directory, settings, inputs and results), so a
//! killed build picks up where it stopped, and building a run that is already in the index
//! changes nothing. Memory: one shard's removed positions (step 1), one 16 KiB buffer per
//! shard of a partition (step 2).

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::components::Report;
use super::config::DedupConfig;
use super::edges::{partitions as run_partitions, task_partitions, Merge};
use super::files::{
    for_each_record, read_docs_header, read_removals, write_docs_header, DocEntry, LshRecord,
    WorkDir, ENTRY_SIZE, LSH_RECORD_SIZE,
};
use super::index::{Layout, Manifest, Segment, FORMAT};
use crate::io::shards::AtomicFile;
use crate::pipeline::tasks::{for_each_task, write_json};

/// The run's identity in the index: a hash of its work directory's path, settings, inputs
/// and component report.
pub fn build_id(work: &WorkDir) -> Result<String> {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let path = std::fs::canonicalize(&work.root)
        .with_context(|| format!("cannot resolve {}", work.root.display()))?;
    h.update(path.to_string_lossy().as_bytes());
    for f in [
        DedupConfig::path(&work.root),
        work.step("signatures").join("expected.json"),
        work.step("components").join("report.json"),
    ] {
        let bytes = std::fs::read(&f).with_context(|| {
            format!(
                "cannot read {} (the dedup run has not finished)",
                f.display()
            )
        })?;
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(format!("{:016x}", h.digest()))
}

fn staging(index: &Path, build: &str) -> PathBuf {
    index.join(format!(".staging-{build}"))
}

/// The index's layout must be the run's exactly for the run's documents to join it.
fn check_layout(index: &Path, cfg: &DedupConfig) -> Result<()> {
    if Manifest::exists(index) {
        let m = Manifest::load(index)?;
        let run = Layout::of(cfg);
        if m.layout != run {
            bail!(
                "{}: cannot add this run's documents: the index's layout {} differs from the run's {}",
                index.display(),
                serde_json::to_string(&m.layout)?,
                serde_json::to_string(&run)?
            );
        }
    }
    Ok(())
}

/// Every step on one box.
pub fn build(work: &WorkDir, index: &Path, threads: usize, quiet: bool) -> Result<Segment> {
    let all = work.signature_shards()?;
    self::shards(work, index, &all, threads, quiet)?;
    partitions(work, index, (0, 1), threads, quiet)?;
    let segment = publish(work, index)?;
    if !quiet {
        let m = Manifest::load(index)?;
        eprintln!(
            "sieve dedup index: {} documents added to {} (generation {}, {} documents, {:.0} bytes per document)",
            segment.documents,
            index.display(),
            m.segments.len(),
            m.documents(m.segments.len()),
            segment.bytes as f64 / segment.documents.max(1) as f64
        );
    }
    Ok(segment)
}

/// Step 1 for `mine`, this task's stems among the run's signatures shards.
pub fn shards(
    work: &WorkDir,
    index: &Path,
    mine: &[String],
    threads: usize,
    quiet: bool,
) -> Result<()> {
    let cfg = DedupConfig::load(&work.root)?;
    check_layout(index, &cfg)?;
    if !work.marker("components", "all").exists() {
        bail!(
            "{}: the dedup run has not finished (`sieve dedup components`)",
            work.root.display()
        );
    }
    let build = build_id(work)?;
    if already_published(index, &build)? {
        return Ok(());
    }
    let shards = work.signature_shards()?;
    let stage = staging(index, &build);
    let parts = run_partitions(&cfg);
    for_each_task(
        "dedup index shards",
        &work.step("index").join("shards").join("done"),
        mine,
        |s| s.clone(),
        threads,
        quiet,
        |stem| {
            let number = shards
                .binary_search(stem)
                .map_err(|_| anyhow::anyhow!("{stem} is not a signatures shard of the run"))?;
            shard(work, &cfg, &stage, &parts, stem, number as u32)
        },
    )
}

fn already_published(index: &Path, build: &str) -> Result<bool> {
    Ok(Manifest::exists(index)
        && Manifest::load(index)?
            .segments
            .iter()
            .any(|s| s.build == build))
}

/// The positions of a shard's removed documents, ascending.
fn removed_positions(work: &WorkDir, stem: &str) -> Result<Vec<u32>> {
    let mut removed: Vec<u32> = read_removals(&work.remove_file(stem))?
        .into_iter()
        .map(|r| r.position)
        .collect();
    removed.sort_unstable();
    Ok(removed)
}

/// The kept document's new number: its position less the removed documents before it.
fn renumber(removed: &[u32], doc: u32) -> Option<u32> {
    match removed.binary_search(&doc) {
        Ok(_) => None,
        Err(before) => Some(doc - before as u32),
    }
}

fn shard(
    work: &WorkDir,
    cfg: &DedupConfig,
    stage: &Path,
    parts: &[String],
    stem: &str,
    number: u32,
) -> Result<()> {
    let removed = removed_positions(work, stem)?;
    let src = |ext: &str| work.shard_file(stem, ext);
    let dst = |ext: &str| stage.join(format!("{stem}.{ext}"));
    let open = |p: PathBuf| -> Result<BufReader<File>> {
        let f = File::open(&p).with_context(|| format!("cannot open {}", p.display()))?;
        Ok(BufReader::with_capacity(1 << 18, f))
    };

    // Tables: every file read in order, the removed documents' bytes skipped.
    let mut docs_in = open(src("docs"))?;
    let header = read_docs_header(&mut docs_in, &src("docs"))?;
    let kept = header.count - removed.len() as u64;
    let mut docs_out = AtomicFile::create(&dst("docs"))?;
    write_docs_header(&mut docs_out, kept, &header.datasets)?;
    let mut ids_in = open(src("ids"))?;
    let mut ids_out = AtomicFile::create(&dst("ids"))?;
    let mut sigs_in = open(src("sigs"))?;
    let mut sigs_out = AtomicFile::create(&dst("sigs"))?;
    let shingles_path = src("shingles");
    let mut shingles = if shingles_path.exists() {
        Some((open(shingles_path)?, AtomicFile::create(&dst("shingles"))?))
    } else {
        None
    };
    // Signatures are written for every document when fuzzy matching is on, and not at all
    // otherwise.
    let sig_len = if cfg.methods.fuzzy {
        4 * cfg.num_perm()
    } else {
        0
    };
    let mut entry_bytes = [0u8; ENTRY_SIZE];
    let mut buf = Vec::new();
    let (mut id_at, mut shingle_at) = (0u64, 0u64);
    for doc in 0..header.count {
        docs_in
            .read_exact(&mut entry_bytes)
            .with_context(|| format!("{}: truncated", src("docs").display()))?;
        let mut e = DocEntry::from_bytes(&entry_bytes);
        let keep = removed.binary_search(&(doc as u32)).is_err();
        copy_or_skip(&mut ids_in, &mut ids_out, e.id_len as usize, keep, &mut buf)?;
        copy_or_skip(&mut sigs_in, &mut sigs_out, sig_len, keep, &mut buf)?;
        if let Some((sin, sout)) = shingles.as_mut() {
            copy_or_skip(sin, sout, 4 * e.shingles_len as usize, keep, &mut buf)?;
        }
        if keep {
            e.id_start = id_at;
            id_at += e.id_len as u64;
            if shingles.is_some() && e.shingles_len > 0 {
                e.shingles_start = shingle_at;
                shingle_at += e.shingles_len as u64;
            }
            docs_out.write_all(&e.to_bytes())?;
        }
    }
    ids_out.commit()?;
    sigs_out.commit()?;
    if let Some((_, sout)) = shingles {
        sout.commit()?;
    }
    docs_out.commit()?;

    // LSH records: the kept documents' records, renumbered; the order is kept (renumbering
    // is monotone and the shard number does not change).
    for part in parts {
        let from = work.lsh_file(part, stem);
        if !from.exists() {
            continue;
        }
        let mut out: Option<AtomicFile> = None;
        for_each_record(&from, LSH_RECORD_SIZE, |b| {
            let r = LshRecord::from_bytes(b);
            if r.shard() != number {
                bail!(
                    "{}: a record of shard {} in shard {number}'s file",
                    from.display(),
                    r.shard()
                );
            }
            if let Some(doc) = renumber(&removed, r.doc) {
                if out.is_none() {
                    let path = stage.join("parts").join(part).join(format!("{stem}.bin"));
                    out = Some(AtomicFile::create(&path)?);
                }
                let w = out.as_mut().expect("opened above");
                w.write_all(&LshRecord { doc, ..r }.to_bytes())?;
            }
            Ok(())
        })?;
        if let Some(w) = out {
            w.commit()?;
        }
    }
    Ok(())
}

fn copy_or_skip(
    from: &mut impl Read,
    to: &mut impl Write,
    len: usize,
    keep: bool,
    buf: &mut Vec<u8>,
) -> Result<()> {
    buf.resize(len, 0);
    from.read_exact(buf).context("a dedup table is truncated")?;
    if keep {
        to.write_all(buf)?;
    }
    Ok(())
}

/// Step 2 for this task's share (`task` = (i, n)) of the run's partitions.
pub fn partitions(
    work: &WorkDir,
    index: &Path,
    task: (usize, usize),
    threads: usize,
    quiet: bool,
) -> Result<()> {
    let cfg = DedupConfig::load(&work.root)?;
    let build = build_id(work)?;
    if already_published(index, &build)? {
        return Ok(());
    }
    let shards = work.signature_shards()?;
    let done = work.done("index/shards")?;
    if done.len() != shards.len() {
        bail!(
            "{} of {} shards have finished `sieve dedup index` step 1; run it on all shards first",
            done.len(),
            shards.len()
        );
    }
    let stage = staging(index, &build);
    let mine = task_partitions(&cfg, task);
    for_each_task(
        "dedup index partitions",
        &work.step("index").join("partitions").join("done"),
        &mine,
        |p| p.clone(),
        threads,
        quiet,
        |part| {
            let mut merge = Merge::open(&stage.join("parts").join(part), &[])?;
            let mut out = AtomicFile::create(&stage.join("lsh").join(format!("{part}.bin")))?;
            while let Some(r) = merge.next()? {
                out.write_all(&r.to_bytes())?;
            }
            out.commit()
        },
    )
}

/// Step 3: the segment joins the index as its newest generation.
pub fn publish(work: &WorkDir, index: &Path) -> Result<Segment> {
    let cfg = DedupConfig::load(&work.root)?;
    let build = build_id(work)?;
    std::fs::create_dir_all(index).with_context(|| format!("cannot create {}", index.display()))?;
    // One publisher at a time: two runs adding to one index must not lose a generation.
    let _lock = lock(&index.join(".lock"))?;
    let mut manifest = if Manifest::exists(index) {
        Manifest::load(index)?
    } else {
        Manifest {
            format: FORMAT.into(),
            layout: Layout::of(&cfg),
            segments: Vec::new(),
        }
    };
    if let Some(s) = manifest.segments.iter().find(|s| s.build == build) {
        return Ok(s.clone());
    }
    check_layout(index, &cfg)?;
    let shards = work.signature_shards()?;
    let parts_done = work.done("index/partitions")?;
    if parts_done.len() != run_partitions(&cfg).len() {
        bail!(
            "{} of {} partitions have finished `sieve dedup index` step 2; run it first",
            parts_done.len(),
            run_partitions(&cfg).len()
        );
    }
    let name = format!("seg-{build}");
    let stage = staging(index, &build);
    let target = index.join(&name);
    if stage.exists() {
        let parts = stage.join("parts");
        if parts.exists() {
            std::fs::remove_dir_all(&parts)
                .with_context(|| format!("cannot remove {}", parts.display()))?;
        }
        if target.exists() {
            // Left by a publish killed before it listed the segment: not in use.
            std::fs::remove_dir_all(&target)
                .with_context(|| format!("cannot remove {}", target.display()))?;
        }
        std::fs::rename(&stage, &target)
            .with_context(|| format!("cannot move {} to {}", stage.display(), target.display()))?;
    } else if !target.exists() {
        bail!(
            "{}: neither {} nor {} exists; run `sieve dedup index` from its first step",
            index.display(),
            stage.display(),
            target.display()
        );
    }
    let report: Report = serde_json::from_slice(
        &std::fs::read(work.step("components").join("report.json"))
            .context("cannot read the component report")?,
    )?;
    let segment = Segment {
        name,
        build,
        documents: report.documents - report.removed,
        shards,
        ranges: cfg.ranges,
        bytes: dir_bytes(&target)?,
        source: work.root.display().to_string(),
    };
    manifest.segments.push(segment.clone());
    write_json(&Manifest::path(index), &manifest)?;
    Ok(segment)
}

/// An exclusive `flock` on `path`, held until the file is dropped (or the process dies, so a
/// killed publisher leaves no stale lock).
fn lock(path: &Path) -> Result<File> {
    use std::os::fd::AsRawFd;
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    // SAFETY: flock on a descriptor this function owns; no memory is shared.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("cannot lock {}", path.display()));
    }
    Ok(file)
}

fn dir_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let e = e?;
        let meta = e.metadata()?;
        total += if meta.is_dir() {
            dir_bytes(&e.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_documents_are_renumbered_densely() {
        let removed = [1u32, 2, 5];
        let kept: Vec<Option<u32>> = (0..7).map(|d| renumber(&removed, d)).collect();
        assert_eq!(kept, [Some(0), None, None, Some(1), Some(2), None, Some(3)]);
    }
}
