//! The runner: input shards in parallel, each through the stage chain into one output shard.
//!
//! Output layout of a run directory:
//!
//! ```text
//! OUT/<stem>.parquet          documents kept (or .jsonl[.gz|.zst])
//! OUT/rejected/<stem>.parquet dropped documents with drop_stage/drop_reason (--write-rejected)
//! OUT/stats/<stem>.json       counters of this shard
//! OUT/done/<stem>             completion marker, written last
//! OUT/failed/<stem>.json      why an input could not be read (removed once it is done)
//! OUT/stats.json              sum of every stats/<stem>.json present, and the failed inputs
//! ```
//!
//! A shard's marker is written only after its outputs and stats are renamed into place, so
//! a killed run leaves no marker for unfinished shards and a re-run redoes exactly those.
//! Each output shard depends only on its input shard, never on thread count or timing.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rayon::prelude::*;

use super::progress::Progress;
use super::stage::{Emit, StageFactory};
use super::stats::{RunStats, StageStats};
use crate::doc::Document;
use crate::io::shards::{create_writer, AtomicFile, DocWriter, ShardFormat};
use crate::io::source::Input;
use crate::read::{ReadItem, SourceSpec};

/// One input shard to process.
#[derive(Debug, Clone)]
pub struct Job {
    pub input: Input,
    pub source: SourceSpec,
    /// Base name of every file this shard produces.
    pub stem: String,
}

/// Settings shared by all shards of a run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub output: PathBuf,
    pub format: ShardFormat,
    pub threads: usize,
    pub write_rejected: bool,
    pub quiet: bool,
    /// Name shown in progress lines (the command).
    pub label: String,
}

/// What a run did.
#[derive(Debug)]
pub struct RunSummary {
    pub processed: usize,
    pub skipped: usize,
    /// Inputs that could not be processed, with the reason. They have no marker.
    pub failed: Vec<(String, String)>,
    /// Stats of every finished shard in the output directory (this run's and earlier ones).
    pub stats: RunStats,
}

/// Per-document problems printed per shard before only counting them.
const MAX_LOGGED_PROBLEMS: u64 = 20;

const KNOWN_SUFFIXES: &[&str] = &[
    ".warc.gz",
    ".warc.zst",
    ".warc",
    ".wet.gz",
    ".wet",
    ".wat.gz",
    ".arc.gz",
    ".arc",
    ".jsonl.gz",
    ".jsonl.zst",
    ".jsonl",
    ".ndjson.gz",
    ".ndjson",
    ".json.gz",
    ".json.zst",
    ".json",
    ".parquet",
];

/// The output base name for an input key: extensions removed, directories flattened.
pub fn stem_for_key(key: &str) -> String {
    let lower = key.to_ascii_lowercase();
    let base = KNOWN_SUFFIXES
        .iter()
        .find(|s| lower.ends_with(*s))
        .map_or(key, |s| &key[..key.len() - s.len()]);
    base.replace(['/', '\\'], "__")
}

/// Jobs for inputs read with one source spec, stems derived from their keys.
pub fn jobs_for(inputs: Vec<Input>, source: &SourceSpec, stem_prefix: Option<&str>) -> Vec<Job> {
    inputs
        .into_iter()
        .map(|input| {
            let stem = match stem_prefix {
                Some(p) => format!("{p}__{}", stem_for_key(&input.key)),
                None => stem_for_key(&input.key),
            };
            Job {
                input,
                source: source.clone(),
                stem,
            }
        })
        .collect()
}

/// Gives every job whose stem collides with another's (`x.warc` beside `x.warc.gz`) a stem
/// built from its whole key instead. Call it on the full job list, before `--shard`
/// selection, so that every task names shards the same way.
pub fn disambiguate_stems(jobs: &mut [Job]) {
    let mut count: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for j in jobs.iter() {
        *count.entry(j.stem.clone()).or_default() += 1;
    }
    for j in jobs.iter_mut() {
        if count[&j.stem] > 1 {
            let short = stem_for_key(&j.input.key);
            let full = j.input.key.replace(['/', '\\'], "__");
            j.stem = match j.stem.strip_suffix(&short) {
                Some(prefix) => format!("{prefix}{full}"),
                None => full,
            };
        }
    }
}

fn marker_path(out: &Path, stem: &str) -> PathBuf {
    out.join("done").join(stem)
}

fn stats_path(out: &Path, stem: &str) -> PathBuf {
    out.join("stats").join(format!("{stem}.json"))
}

/// Runs the jobs. Per-document problems are counted; a shard that cannot be read at all is
/// reported in `failed` and the others go on.
pub fn run(jobs: Vec<Job>, stages: StageFactory, cfg: &RunConfig) -> Result<RunSummary> {
    let mut seen = std::collections::BTreeMap::new();
    for job in &jobs {
        if let Some(other) = seen.insert(job.stem.clone(), job.input.to_string()) {
            bail!(
                "{} and {} would both write the output shard `{}`",
                other,
                job.input,
                job.stem
            );
        }
    }
    crate::io::shards::ensure_output_dir(&cfg.output)?;
    // Build the chain once up front so that a bad model path fails before any work starts.
    if let Some(first) = jobs.first() {
        stages(&first.stem).context("cannot build the pipeline's stages")?;
    }

    let (todo, done): (Vec<Job>, Vec<Job>) = jobs
        .into_iter()
        .partition(|j| !marker_path(&cfg.output, &j.stem).exists());
    let progress = Progress::new(&cfg.label, todo.len() as u64, cfg.quiet);
    if !done.is_empty() {
        progress.println(&format!(
            "{}: {} shards already finished (markers in {}), skipping them",
            cfg.label,
            done.len(),
            cfg.output.join("done").display()
        ));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .build()
        .context("cannot start the worker threads")?;
    let results: Vec<(&Job, Result<()>)> = pool.install(|| {
        todo.par_iter()
            .with_max_len(1)
            .map(|job| {
                let r = process_shard(job, &stages, cfg, &progress);
                progress.file_done();
                (job, r)
            })
            .collect()
    });
    progress.finish(&cfg.label);

    let mut failed = Vec::new();
    for (job, r) in results {
        let input = job.input.to_string();
        if let Err(e) = r {
            let why = format!("{e:#}");
            eprintln!("{}: error: {input}: {why}", cfg.label);
            record_failure(&cfg.output, &job.stem, &input, &why)?;
            failed.push((input, why));
        }
    }
    let stats = merge_stats(&cfg.output)?;
    Ok(RunSummary {
        processed: todo.len() - failed.len(),
        skipped: done.len(),
        failed,
        stats,
    })
}

/// Sums every per-shard stats file of a run directory into `stats.json`. Tasks of one step
/// running at once each write it (per-process temporaries); the step's `finish` sums it again
/// once all of them are done.
pub fn merge_stats(out: &Path) -> Result<RunStats> {
    let total = sum_stats(out)?;
    AtomicFile::write_shared(&out.join("stats.json"), &total.to_json())?;
    Ok(total)
}

fn failure_path(out: &Path, stem: &str) -> PathBuf {
    out.join("failed").join(format!("{stem}.json"))
}

/// Keeps why `input` could not be read, for the run's stats (until a re-run finishes it).
fn record_failure(out: &Path, stem: &str, input: &str, why: &str) -> Result<()> {
    fs::create_dir_all(out.join("failed"))?;
    let record = serde_json::json!({ "input": input, "error": why });
    AtomicFile::write_all(&failure_path(out, stem), record.to_string().as_bytes())
}

/// The inputs of a run directory that failed and are not done since: input → error.
pub fn failed_inputs(out: &Path) -> std::collections::BTreeMap<String, String> {
    let mut failed = std::collections::BTreeMap::new();
    let Ok(entries) = fs::read_dir(out.join("failed")) else {
        return failed;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Some(stem) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
            continue;
        };
        if stem.starts_with('.') || marker_path(out, &stem).exists() {
            continue;
        }
        let record: Option<serde_json::Value> = fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if let Some(r) = record {
            let input = r["input"].as_str().unwrap_or(&stem).to_string();
            failed.insert(input, r["error"].as_str().unwrap_or_default().to_string());
        }
    }
    failed
}

/// Sums every per-shard stats file of a run directory, with the inputs that failed.
pub fn sum_stats(out: &Path) -> Result<RunStats> {
    let dir = out.join("stats");
    let mut files: Vec<PathBuf> = match fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .filter(|p| {
                !p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .starts_with('.')
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    let mut total = RunStats::default();
    for f in &files {
        total += &RunStats::load(f)?;
    }
    total.failed_inputs = failed_inputs(out);
    Ok(total)
}

/// Removes temporaries a killed run may have left for this shard.
fn remove_stale_temporaries(out: &Path, stem: &str) {
    for dir in [
        out.to_path_buf(),
        out.join("rejected"),
        out.join("stats"),
        out.join("done"),
    ] {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(&format!(".{stem}.")) && name.contains(".tmp") {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

struct ShardRun<'a> {
    cfg: &'a RunConfig,
    progress: &'a Progress,
    input_name: String,
    stem: &'a str,
    problems: u64,
    rejected: Option<Box<dyn DocWriter>>,
    /// Stage reports of this shard, by stage name.
    reports: Vec<(&'static str, AtomicFile)>,
}

impl ShardRun<'_> {
    fn report(&mut self, message: &str) {
        self.problems += 1;
        if self.problems <= MAX_LOGGED_PROBLEMS {
            self.progress
                .println(&format!("{}: warning: {message}", self.cfg.label));
        }
    }

    fn write_report(&mut self, stage: &'static str, line: &str) -> Result<()> {
        use std::io::Write;
        if !self.reports.iter().any(|(s, _)| *s == stage) {
            let path = self
                .cfg
                .output
                .join("reports")
                .join(stage)
                .join(format!("{}.jsonl", self.stem));
            self.reports.push((stage, AtomicFile::create(&path)?));
        }
        let file = &mut self
            .reports
            .iter_mut()
            .find(|(s, _)| *s == stage)
            .expect("created above")
            .1;
        file.write_all(line.as_bytes())?;
        file.write_all(b"\n")?;
        Ok(())
    }

    fn reject(&mut self, mut doc: Document, stage: &str, reason: &str) -> Result<()> {
        if !self.cfg.write_rejected {
            return Ok(());
        }
        if self.rejected.is_none() {
            let path = self.cfg.output.join("rejected").join(format!(
                "{}.{}",
                self.stem,
                self.cfg.format.extension()
            ));
            self.rejected = Some(create_writer(&path, self.cfg.format)?);
        }
        doc.meta.insert("drop_stage".into(), stage.to_string());
        doc.meta.insert("drop_reason".into(), reason.to_string());
        self.rejected.as_mut().expect("created above").write(doc)
    }
}

fn process_shard(
    job: &Job,
    stages: &StageFactory,
    cfg: &RunConfig,
    progress: &Progress,
) -> Result<()> {
    remove_stale_temporaries(&cfg.output, &job.stem);
    let mut chain = stages(&job.stem)?;
    let items = job.source.open(&job.input)?;
    let out_path = cfg
        .output
        .join(format!("{}.{}", job.stem, cfg.format.extension()));
    let mut writer = create_writer(&out_path, cfg.format)?;

    let mut read = StageStats::new("read");
    let mut stage_stats: Vec<StageStats> =
        chain.iter().map(|s| StageStats::new(s.name())).collect();
    let mut shard = ShardRun {
        cfg,
        progress,
        input_name: job.input.to_string(),
        stem: &job.stem,
        problems: 0,
        rejected: None,
        reports: Vec::new(),
    };
    let mut emit = Emit::default();
    let mut current: Vec<Document> = Vec::new();
    let mut next: Vec<Document> = Vec::new();
    let (mut pending_docs, mut pending_bytes) = (0u64, 0u64);

    for item in items {
        let doc = match item {
            ReadItem::Doc(doc) => {
                read.docs_in += 1;
                read.bytes_in += doc.text_bytes();
                read.docs_out += 1;
                read.bytes_out += doc.text_bytes();
                doc
            }
            ReadItem::Dropped { reason, bytes } => {
                read.docs_in += 1;
                read.bytes_in += bytes;
                read.drop_reason(reason);
                continue;
            }
            ReadItem::Error { kind, message } => {
                read.docs_in += 1;
                read.error(kind);
                shard.report(&message);
                continue;
            }
            ReadItem::Fatal(message) => bail!("{message}"),
        };
        pending_docs += 1;
        pending_bytes += doc.text_bytes();
        current.clear();
        current.push(doc);
        for (stage, stats) in chain.iter_mut().zip(stage_stats.iter_mut()) {
            next.clear();
            for doc in current.drain(..) {
                stats.docs_in += 1;
                stats.bytes_in += doc.text_bytes();
                let id = doc.id.clone();
                emit.clear();
                if let Err(e) = stage.process(doc, &mut emit) {
                    stats.error("stage_error");
                    let msg = format!(
                        "{}: {} failed on {id}: {e:#}",
                        shard.input_name,
                        stage.name()
                    );
                    shard.report(&msg);
                    continue;
                }
                for line in emit.reports.drain(..) {
                    shard.write_report(stage.name(), &line)?;
                }
                for (histogram, bucket) in emit.tallies.drain(..) {
                    stats.tally(histogram, &bucket);
                }
                for (dropped, reason) in emit.dropped.drain(..) {
                    stats.drop_reason(reason);
                    shard.reject(dropped, stage.name(), reason)?;
                }
                for kept in emit.kept.drain(..) {
                    stats.docs_out += 1;
                    stats.bytes_out += kept.text_bytes();
                    next.push(kept);
                }
            }
            std::mem::swap(&mut current, &mut next);
        }
        for doc in current.drain(..) {
            writer.write(doc)?;
        }
        if pending_docs >= 1000 {
            progress.add_docs(pending_docs, pending_bytes);
            (pending_docs, pending_bytes) = (0, 0);
        }
    }
    progress.add_docs(pending_docs, pending_bytes);
    if shard.problems > MAX_LOGGED_PROBLEMS {
        progress.println(&format!(
            "{}: warning: {}: {} more problems not shown (counted in stats)",
            cfg.label,
            shard.input_name,
            shard.problems - MAX_LOGGED_PROBLEMS
        ));
    }

    writer.finish()?;
    if let Some(r) = shard.rejected.take() {
        r.finish()?;
    }
    for (_, report) in std::mem::take(&mut shard.reports) {
        report.commit()?;
    }
    let mut stats = RunStats {
        shards: 1,
        stages: vec![read],
        ..Default::default()
    };
    stats.stages.extend(stage_stats);
    AtomicFile::write_all(&stats_path(&cfg.output, &job.stem), &stats.to_json())?;
    let marker = serde_json::json!({
        "input": job.input.to_string(),
        "output": out_path.file_name().map(|n| n.to_string_lossy().into_owned()),
    });
    AtomicFile::write_all(
        &marker_path(&cfg.output, &job.stem),
        marker.to_string().as_bytes(),
    )?;
    // An earlier attempt's failure no longer holds.
    let _ = fs::remove_file(failure_path(&cfg.output, &job.stem));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colliding_stems_fall_back_to_the_whole_key() {
        let inputs = ["x.warc", "x.warc.gz", "y.warc.gz"]
            .map(|k| Input::local(Path::new(k)))
            .to_vec();
        let mut jobs = jobs_for(inputs, &SourceSpec::Shards, Some("web"));
        disambiguate_stems(&mut jobs);
        let stems: Vec<_> = jobs.iter().map(|j| j.stem.as_str()).collect();
        assert_eq!(stems, ["web__x.warc", "web__x.warc.gz", "web__y"]);
    }

    #[test]
    fn stems_drop_extensions_and_flatten_directories() {
        assert_eq!(stem_for_key("CC-MAIN-1-00000.warc.gz"), "CC-MAIN-1-00000");
        assert_eq!(stem_for_key("a/b/part-0.jsonl.zst"), "a__b__part-0");
        assert_eq!(stem_for_key("x.PARQUET"), "x");
        assert_eq!(stem_for_key("noext"), "noext");
    }
}
