//! The one trait every streaming stage implements.

use anyhow::Result;

use crate::doc::Document;

/// A streaming stage: gets one document, and keeps it, drops it with a reason, or splits it.
///
/// A stage does no I/O of its own beyond loading its model or index when it is built; the
/// runner reads, writes, counts and times. One instance is built per input shard, so a stage
/// may keep per-shard state in `&mut self` without locking.
pub trait Stage: Send {
    /// Stable name: the stats key and the `name` in pipeline specs.
    fn name(&self) -> &'static str;

    /// Handles one document. Returning `Err` drops the document and counts a `stage_error`
    /// (the run goes on); use [`Emit::drop`] for documents that are simply unwanted.
    fn process(&mut self, doc: Document, out: &mut Emit) -> Result<()>;
}

/// What a stage did with one document.
#[derive(Default)]
pub struct Emit {
    pub(crate) kept: Vec<Document>,
    pub(crate) dropped: Vec<(Document, &'static str)>,
    pub(crate) reports: Vec<String>,
    pub(crate) tallies: Vec<(&'static str, String)>,
}

impl Emit {
    /// Passes the document (possibly modified) to the next stage.
    pub fn keep(&mut self, doc: Document) {
        self.kept.push(doc);
    }

    /// Removes the document; `reason` becomes a stats counter and, with `--write-rejected`,
    /// the `drop_reason` of the document in the `rejected/` sidecar.
    pub fn drop(&mut self, doc: Document, reason: &'static str) {
        self.dropped.push((doc, reason));
    }

    /// Replaces the document by several pieces (each with its own id), in order.
    pub fn split(&mut self, pieces: impl IntoIterator<Item = Document>) {
        self.kept.extend(pieces);
    }

    /// Adds one JSON line to the stage's report for this shard, written by the runner to
    /// `OUT/reports/<stage>/<stem>.jsonl` with the shard (e.g. why a document was cut).
    pub fn report(&mut self, json_line: String) {
        self.reports.push(json_line);
    }

    /// Counts the document in bucket `bucket` of the stage's histogram `histogram` (kept in
    /// the stage's stats and drawn in the data card: languages, quality scores).
    pub fn tally(&mut self, histogram: &'static str, bucket: impl Into<String>) {
        self.tallies.push((histogram, bucket.into()));
    }

    /// The document a one-in, one-out stage kept, if any, with everything else cleared: for
    /// driving a stage by hand (the filter benchmark).
    pub fn take_kept(&mut self) -> Option<Document> {
        let doc = self.kept.pop();
        self.clear();
        doc
    }

    pub(crate) fn clear(&mut self) {
        self.kept.clear();
        self.dropped.clear();
        self.reports.clear();
        self.tallies.clear();
    }
}

/// Builds a fresh chain of stages for one input shard, given the shard's stem (stages that
/// carry per-shard state from a global step, like the dedup filter's remove list, use it).
pub type StageFactory = std::sync::Arc<dyn Fn(&str) -> Result<Vec<Box<dyn Stage>>> + Send + Sync>;

/// A factory for the empty chain (`sieve import`, `sieve warc`, a spec with no stages).
pub fn no_stages() -> StageFactory {
    std::sync::Arc::new(|_stem: &str| Ok(Vec::new()))
}
