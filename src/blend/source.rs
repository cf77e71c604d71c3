//! A dataset's documents as the blend sees them: every prefix `sieve tokenize` wrote for it,
//! in one seeded order over all of them (so the split's tail is a fair sample), and the
//! sample streams cut from a split of that order.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::io::indexed::{IndexedReader, TokenDtype};
use crate::rng::{derive_seed, shuffle};
use crate::tokenize::step::{load_manifest, ShardPart, TokenizeManifest, MANIFEST};

pub struct DatasetSource {
    pub name: String,
    pub readers: Vec<IndexedReader>,
    /// The prefixes opened, as `tokenize.json` records them (with their checksums).
    pub parts: Vec<ShardPart>,
    pub manifest: TokenizeManifest,
    /// Every document as (reader, position), in the dataset's shuffled order.
    pub order: Vec<(u32, u32)>,
}

impl DatasetSource {
    /// Opens dataset `name` at `path`: a `sieve tokenize` output holding `name`, or that
    /// output's `name` directory.
    pub fn open(name: &str, path: &Path, seed: u64) -> Result<DatasetSource> {
        let (root, manifest) = if path.join(MANIFEST).exists() {
            (path.to_path_buf(), load_manifest(path)?)
        } else {
            match path.parent() {
                Some(parent) if parent.join(MANIFEST).exists() => {
                    (parent.to_path_buf(), load_manifest(parent)?)
                }
                _ => bail!(
                    "dataset {name}: {} is not a finished `sieve tokenize` output (no {MANIFEST} in it or its parent)",
                    path.display()
                ),
            }
        };
        let key = if root == path {
            name.to_string()
        } else {
            path.file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let Some(tokens) = manifest.datasets.get(&key) else {
            bail!(
                "dataset {name}: {} has no dataset {key:?} (it has: {})",
                root.display(),
                manifest
                    .datasets
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        let mut readers = Vec::new();
        for p in &tokens.prefixes {
            let r = IndexedReader::open(&root.join(&p.prefix))
                .with_context(|| format!("dataset {name}"))?;
            if r.len() as u64 != p.written.documents {
                bail!(
                    "dataset {name}: {} has {} documents, {MANIFEST} says {}",
                    p.prefix,
                    r.len(),
                    p.written.documents
                );
            }
            readers.push(r);
        }
        let mut order: Vec<(u32, u32)> = readers
            .iter()
            .enumerate()
            .flat_map(|(i, r)| (0..r.len() as u32).map(move |k| (i as u32, k)))
            .collect();
        shuffle(&mut order, derive_seed(seed, &["dataset", name]));
        let parts = tokens.prefixes.clone();
        Ok(DatasetSource {
            name: name.to_string(),
            readers,
            parts,
            manifest,
            order,
        })
    }

    pub fn dtype(&self) -> TokenDtype {
        self.manifest.dtype
    }

    pub fn doc_len(&self, doc: (u32, u32)) -> u64 {
        self.readers[doc.0 as usize].lengths[doc.1 as usize] as u64
    }

    pub fn tokens_in(&self, range: (u64, u64)) -> u64 {
        self.order[range.0 as usize..range.1 as usize]
            .iter()
            .map(|&d| self.doc_len(d))
            .sum()
    }

    pub fn raw(&self, doc: (u32, u32), out: &mut Vec<u8>) -> Result<()> {
        self.readers[doc.0 as usize].raw(doc.1 as usize, out)
    }
}

/// Consecutive samples of `seq_length` tokens from one split of one dataset: its documents
/// joined end to end (each ends with the end-of-document token), in the dataset's order for
/// the first epoch and a fresh seeded order for every later one.
pub struct SampleStream<'a> {
    source: &'a DatasetSource,
    split_name: &'static str,
    range: (u64, u64),
    seed: u64,
    epoch: u64,
    docs: Vec<(u32, u32)>,
    next_doc: usize,
    /// The current document's bytes not yet used.
    pending: Vec<u8>,
    used: usize,
    pub drawn: u64,
}

impl<'a> SampleStream<'a> {
    pub fn new(
        source: &'a DatasetSource,
        split_name: &'static str,
        range: (u64, u64),
        seed: u64,
    ) -> Self {
        SampleStream {
            source,
            split_name,
            range,
            seed,
            epoch: 0,
            docs: source.order[range.0 as usize..range.1 as usize].to_vec(),
            next_doc: 0,
            pending: Vec::new(),
            used: 0,
            drawn: 0,
        }
    }

    /// Appends the next sample's `seq_length · size` bytes to `out`.
    pub fn next_sample(&mut self, seq_length: u32, out: &mut Vec<u8>) -> Result<()> {
        let width = self.source.dtype().size();
        let mut need = seq_length as usize * width;
        while need > 0 {
            if self.used == self.pending.len() {
                if self.docs.is_empty() {
                    bail!(
                        "dataset {} has no tokens in the {} split",
                        self.source.name,
                        self.split_name
                    );
                }
                if self.next_doc == self.docs.len() {
                    self.epoch += 1;
                    self.next_doc = 0;
                    let seed = derive_seed(
                        self.seed,
                        &[&self.source.name, self.split_name, &self.epoch.to_string()],
                    );
                    self.docs =
                        self.source.order[self.range.0 as usize..self.range.1 as usize].to_vec();
                    shuffle(&mut self.docs, seed);
                }
                self.source
                    .raw(self.docs[self.next_doc], &mut self.pending)?;
                self.next_doc += 1;
                self.used = 0;
            }
            let take = need.min(self.pending.len() - self.used);
            out.extend_from_slice(&self.pending[self.used..self.used + take]);
            self.used += take;
            need -= take;
        }
        self.drawn += 1;
        Ok(())
    }
}
