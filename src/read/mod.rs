//! Reading one input file into documents: WARC records, sieve document shards, or foreign
//! corpora (`sieve import`). Each reader yields documents and located, counted problems; a
//! problem with one record never stops the file.

pub mod corpus;
pub mod warc_docs;

use anyhow::Result;

use crate::doc::Document;
use crate::io::source::Input;

/// What a reader produced for one record.
pub enum ReadItem {
    Doc(Document),
    /// A record that was read fine but is not wanted (e.g. an image response).
    Dropped {
        reason: &'static str,
        bytes: u64,
    },
    /// A broken record: `kind` is the stats key, `message` names the location.
    Error {
        kind: &'static str,
        message: String,
    },
    /// The rest of the file cannot be read (e.g. a download that failed after all retries):
    /// the shard fails and gets no completion marker, so a re-run tries it again.
    Fatal(String),
}

/// A stream of read items for one input file.
pub type ReadIter = Box<dyn Iterator<Item = ReadItem> + Send>;

/// How to turn an input file into documents.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SourceSpec {
    /// WARC/WET files: response and conversion records become documents of `dataset`.
    Warc { dataset: String },
    /// Document shards written by sieve.
    Shards,
    /// Foreign JSONL or Parquet corpora.
    Import(corpus::ImportSpec),
}

impl SourceSpec {
    /// Opens `input`. An `Err` means the whole file cannot be read (reported, no marker).
    pub fn open(&self, input: &Input) -> Result<ReadIter> {
        match self {
            SourceSpec::Warc { dataset } => warc_docs::read(input, dataset),
            SourceSpec::Shards => corpus::read_shards(input),
            SourceSpec::Import(spec) => corpus::read_import(input, spec),
        }
    }
}
