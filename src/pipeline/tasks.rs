//! Tasks of the global steps (dedup, decontam counting): run in parallel, skipped when their
//! completion marker exists, and marked done only after their outputs are in place.

use std::path::Path;

use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use serde::Serialize;

use crate::io::shards::AtomicFile;

/// Runs `f` for every task without a marker in `done_dir`, on `threads` threads,
/// and writes each task's marker after `f` succeeds. Fails (after all tasks ran) if any
/// task failed, naming them.
pub fn for_each_task<T: Sync>(
    label: &str,
    done_dir: &Path,
    tasks: &[T],
    name: impl Fn(&T) -> String + Sync,
    threads: usize,
    quiet: bool,
    f: impl Fn(&T) -> Result<()> + Sync,
) -> Result<()> {
    let todo: Vec<&T> = tasks
        .iter()
        .filter(|t| !done_dir.join(name(t)).exists())
        .collect();
    let skipped = tasks.len() - todo.len();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .context("cannot start the worker threads")?;
    let failures: Vec<String> = pool.install(|| {
        todo.par_iter()
            .with_max_len(1)
            .filter_map(|t| {
                let n = name(t);
                let result = f(t).and_then(|()| AtomicFile::write_all(&done_dir.join(&n), b""));
                match result {
                    Ok(()) => None,
                    Err(e) => {
                        eprintln!("{label}: error: {n}: {e:#}");
                        Some(n)
                    }
                }
            })
            .collect()
    });
    if !quiet {
        eprintln!(
            "{label}: {} tasks done, {} already done, {} failed",
            todo.len() - failures.len(),
            skipped,
            failures.len()
        );
    }
    if !failures.is_empty() {
        bail!(
            "{label}: {} of {} tasks failed (first: {}); fix and re-run, finished tasks are kept",
            failures.len(),
            tasks.len(),
            failures[0]
        );
    }
    Ok(())
}

/// The names of the completion markers in `dir` (none when it does not exist yet), sorted.
pub fn done_names(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    if dir.exists() {
        for e in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let name = e?.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') {
                names.push(name);
            }
        }
    }
    names.sort();
    Ok(names)
}

/// A value as pretty JSON with a final newline.
fn json_bytes(value: &impl Serialize) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Writes a value as pretty JSON, atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    AtomicFile::write_all(path, &json_bytes(value)?)
}

/// [`write_json`] for a file that several tasks of a step may write at once with the same
/// content ([`AtomicFile::write_shared`]).
pub fn write_json_shared(path: &Path, value: &impl Serialize) -> Result<()> {
    AtomicFile::write_shared(path, &json_bytes(value)?)
}

/// Records, in `path`, the sorted stems of every input shard of a map step (each task writes
/// the same list), so that the reduce step can tell whether every task has finished and
/// number shards the same way. A list already there must be the same.
pub fn record_expected(path: &Path, jobs: &[crate::pipeline::runner::Job]) -> Result<()> {
    let mut stems: Vec<String> = jobs.iter().map(|j| j.stem.clone()).collect();
    stems.sort();
    if path.exists() {
        let existing = read_expected(path, "")?;
        if existing != stems {
            bail!(
                "{} lists other inputs ({} shards) than this run ({}); use a new work directory",
                path.display(),
                existing.len(),
                stems.len()
            );
        }
        return Ok(());
    }
    AtomicFile::write_shared(path, &serde_json::to_vec(&stems)?)
}

/// Reads a list written by [`record_expected`]; `first_step` names the command to run when
/// it is missing.
pub fn read_expected(path: &Path, first_step: &str) -> Result<Vec<String>> {
    read_step_json(path, first_step)
}

/// Reads a JSON file an earlier step wrote into a work directory (its settings, its list of
/// inputs, its figures); `first_step` names the command to run when it is missing.
pub fn read_step_json<T: serde::de::DeserializeOwned>(path: &Path, first_step: &str) -> Result<T> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read {} (run `{first_step}` first)", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("{} is not valid", path.display()))
}
