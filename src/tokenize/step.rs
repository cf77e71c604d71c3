//! `sieve tokenize` (a map step): each input shard's documents → one Megatron indexed dataset
//! per source corpus (the document's `dataset`), documents shuffled with a seed derived from
//! the run's seed, the dataset and the shard, so a re-run writes the same bytes.
//!
//! Output: `OUT/<dataset>/<stem>.bin|.idx`, a record per shard in `OUT/records/<stem>.json` (and its marker in `OUT/done/`), and
//! `OUT/tokenize.json` (the tokenizer, the dtype and every prefix with its counts and
//! checksums), written last: a directory with `tokenize.json` is complete.
//!
//! Memory: a shard's tokens go to a temporary file in read order; only the offsets (12 bytes
//! per document) are held, and the shuffled prefix is copied from that file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::{Tokenizer, TokenizerInfo};
use crate::io::indexed::{IndexedWriter, TokenDtype, WrittenPrefix};
use crate::pipeline::runner::Job;
use crate::pipeline::tasks::{for_each_task, write_json};
use crate::read::ReadItem;
use crate::rng::{derive_seed, shuffle};

/// One dataset's part of one input shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardPart {
    /// Relative to the output directory, without `.bin`/`.idx`.
    pub prefix: String,
    #[serde(flatten)]
    pub written: WrittenPrefix,
}

/// What one input shard gave.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    pub stem: String,
    pub input: String,
    pub documents_read: u64,
    /// Documents whose text encodes to no token (not written).
    pub empty: u64,
    /// Records that could not be read (named on stderr).
    pub errors: u64,
    pub parts: BTreeMap<String, ShardPart>,
}

/// `OUT/tokenize.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenizeManifest {
    pub format: String,
    pub tokenizer: TokenizerInfo,
    pub dtype: TokenDtype,
    pub seed: u64,
    pub documents_read: u64,
    pub empty: u64,
    pub errors: u64,
    pub datasets: BTreeMap<String, DatasetTokens>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatasetTokens {
    pub documents: u64,
    pub tokens: u64,
    pub prefixes: Vec<ShardPart>,
}

pub const MANIFEST: &str = "tokenize.json";

fn record_path(out: &Path, stem: &str) -> PathBuf {
    out.join("records").join(format!("{stem}.json"))
}

/// Dataset names become directory names: keep them to a safe alphabet.
fn check_dataset_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.starts_with('.')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        bail!("dataset name {name:?} cannot name a directory (use letters, digits, - _ .)");
    }
    Ok(())
}

/// Tokens of one dataset in read order, in a temporary file.
struct Spill {
    path: PathBuf,
    file: BufWriter<File>,
    /// (byte offset, byte length) per document.
    docs: Vec<(u64, u32)>,
    at: u64,
}

fn tokenize_shard(
    out: &Path,
    tokenizer: &Tokenizer,
    dtype: TokenDtype,
    seed: u64,
    job: &Job,
) -> Result<()> {
    let mut record = ShardRecord {
        stem: job.stem.clone(),
        input: job.input.key.clone(),
        ..Default::default()
    };
    let mut spills: BTreeMap<String, Spill> = BTreeMap::new();
    let mut ids = Vec::new();
    let mut raw = Vec::new();
    for item in job.source.open(&job.input)? {
        let doc = match item {
            ReadItem::Doc(d) => d,
            ReadItem::Fatal(m) => bail!("{m}"),
            ReadItem::Error { message, .. } => {
                record.errors += 1;
                if record.errors <= 20 {
                    eprintln!("sieve tokenize: {message}");
                }
                continue;
            }
            ReadItem::Dropped { .. } => continue,
        };
        record.documents_read += 1;
        ids.clear();
        if let Err(e) = tokenizer.encode(&doc.text, &mut ids) {
            record.errors += 1;
            if record.errors <= 20 {
                eprintln!(
                    "sieve tokenize: {}: document {}: {e:#}",
                    job.input.key, doc.id
                );
            }
            continue;
        }
        if ids.is_empty() {
            record.empty += 1;
            continue;
        }
        ids.push(tokenizer.eod());
        raw.clear();
        dtype
            .encode(&ids, &mut raw)
            .with_context(|| format!("{}: document {}", job.input.key, doc.id))?;
        if !spills.contains_key(&doc.dataset) {
            check_dataset_name(&doc.dataset)?;
            let dir = out.join(&doc.dataset);
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let path = dir.join(format!(".{}.unshuffled.tmp", job.stem));
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            spills.insert(
                doc.dataset.clone(),
                Spill {
                    path,
                    file: BufWriter::with_capacity(1 << 20, file),
                    docs: Vec::new(),
                    at: 0,
                },
            );
        }
        let spill = spills.get_mut(&doc.dataset).expect("inserted above");
        spill
            .file
            .write_all(&raw)
            .with_context(|| format!("cannot write {}", spill.path.display()))?;
        spill.docs.push((spill.at, raw.len() as u32));
        spill.at += raw.len() as u64;
    }
    for (dataset, mut spill) in spills {
        let file = spill
            .file
            .into_inner()
            .map_err(|e| anyhow::anyhow!("cannot write {}: {}", spill.path.display(), e.error()))?;
        shuffle(&mut spill.docs, derive_seed(seed, &[&dataset, &job.stem]));
        let prefix = format!("{dataset}/{}", job.stem);
        let mut w = IndexedWriter::create(&out.join(&prefix), dtype)?;
        let mut buf = Vec::new();
        for &(at, len) in &spill.docs {
            buf.resize(len as usize, 0);
            file.read_exact_at(&mut buf, at)
                .with_context(|| format!("cannot read {}", spill.path.display()))?;
            w.add_raw(&buf)?;
        }
        let written = w.finish()?;
        drop(file);
        let _ = std::fs::remove_file(&spill.path);
        record.parts.insert(dataset, ShardPart { prefix, written });
    }
    write_json(&record_path(out, &job.stem), &record)
}

/// Tokenizes the `selected` shards (skipping finished ones); once every shard of `all` has
/// its record, writes `OUT/tokenize.json` and returns it.
pub fn tokenize_all(
    out: &Path,
    tokenizer: &Tokenizer,
    seed: u64,
    all: &[Job],
    selected: &[Job],
    threads: usize,
    quiet: bool,
) -> Result<Option<TokenizeManifest>> {
    let dtype = TokenDtype::for_vocab(tokenizer.info.vocab_size);
    let manifest_path = out.join(MANIFEST);
    if manifest_path.exists() {
        let old = load_manifest(out)?;
        if old.tokenizer != tokenizer.info || old.seed != seed {
            bail!(
                "{} was written with another tokenizer or seed; use a new output directory",
                manifest_path.display()
            );
        }
    }
    for_each_task(
        "sieve tokenize",
        &out.join("done"),
        selected,
        |j| j.stem.clone(),
        threads,
        quiet,
        |job| tokenize_shard(out, tokenizer, dtype, seed, job),
    )?;
    let missing = all
        .iter()
        .filter(|j| !record_path(out, &j.stem).exists())
        .count();
    if missing > 0 {
        if !quiet {
            eprintln!(
                "sieve tokenize: {missing} of {} shards still to do; {MANIFEST} is written when all are",
                all.len()
            );
        }
        return Ok(None);
    }
    let mut manifest = TokenizeManifest {
        format: "megatron-mmidx-v1".into(),
        tokenizer: tokenizer.info.clone(),
        dtype,
        seed,
        documents_read: 0,
        empty: 0,
        errors: 0,
        datasets: BTreeMap::new(),
    };
    let mut stems: Vec<&str> = all.iter().map(|j| j.stem.as_str()).collect();
    stems.sort_unstable();
    for stem in stems {
        let path = record_path(out, stem);
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let r: ShardRecord = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a shard record", path.display()))?;
        manifest.documents_read += r.documents_read;
        manifest.empty += r.empty;
        manifest.errors += r.errors;
        for (dataset, part) in r.parts {
            let d = manifest.datasets.entry(dataset).or_default();
            d.documents += part.written.documents;
            d.tokens += part.written.tokens;
            d.prefixes.push(part);
        }
    }
    // Tasks finishing together may each write it (the same bytes).
    crate::pipeline::tasks::write_json_shared(&manifest_path, &manifest)?;
    Ok(Some(manifest))
}

pub fn load_manifest(dir: &Path) -> Result<TokenizeManifest> {
    let path = dir.join(MANIFEST);
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "cannot read {} (not a finished `sieve tokenize` output)",
            path.display()
        )
    })?;
    serde_json::from_slice(&bytes).with_context(|| format!("{} is not valid", path.display()))
}

pub fn print_summary(m: &TokenizeManifest, out: &std::path::Path) {
    eprintln!(
        "sieve tokenize: {} ({:?}, end of document {}): {} documents read, {} empty, {} unreadable",
        m.tokenizer.encoding, m.dtype, m.tokenizer.eod_id, m.documents_read, m.empty, m.errors
    );
    for (name, d) in &m.datasets {
        eprintln!(
            "  {name:<16} {:>10} documents {:>14} tokens  ({} prefixes)",
            d.documents,
            d.tokens,
            d.prefixes.len()
        );
    }
    eprintln!(
        "  manifest: {}",
        out.join(crate::tokenize::step::MANIFEST).display()
    );
}
