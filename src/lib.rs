//! sieve: a streaming data-curation pipeline and dataset builder for LLM pretraining.
//!
//! A document ([`doc::Document`]) is read from WARC files or corpora ([`read`], [`io`]),
//! passes through an ordered chain of [`pipeline::stage::Stage`]s run over input shards in
//! parallel by [`pipeline::runner`], and is written to Parquet or JSONL shards with per-stage
//! stats and completion markers. The command line lives in [`cli`].

pub mod blend;
pub mod cli;
pub mod decontam;
pub mod dedup;
pub mod doc;
pub mod eval;
pub mod fuzzing;
pub mod io;
pub mod orchestrate;
pub mod paragraphs;
pub mod pipeline;
pub mod quality_train;
pub mod read;
pub mod report;
pub use sieve_shards::rng;
pub mod stages;
pub use sieve_shards::testing;
pub mod text;
pub mod tokenize;
