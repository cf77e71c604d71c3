//! The command line: one module per subcommand, each an args struct and a `run`.
//!
//! Every stage command follows one convention:
//! `sieve <command> [OPTIONS] --output <DIR> <INPUT>...`, with the run options of
//! [`common::RunArgs`] (threads, shard selection, format, rejected sidecar).

pub mod blend;
pub mod decontam;
pub mod dedup;
pub mod eval;
pub mod extract;
pub mod import;
pub mod inspect;
pub mod inspect_tokens;
pub mod paragraph_dedup;
pub mod publish;
pub mod quality;
pub mod report;
pub mod run;
pub mod sample;
pub mod slurm;
pub mod stage;
pub mod status;
pub mod tokenize;
pub mod warc;
pub mod words;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "sieve",
    version,
    about = "Curate LLM pretraining data: WARC → clean, deduplicated, decontaminated, tokenized shards",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Bring JSONL or Parquet corpora in as document shards.
    Import(import::ImportArgs),
    /// Turn WARC/WET records into raw documents (HTML or WET text in `text`).
    Warc(warc::WarcArgs),
    /// WARC responses → main text (boilerplate removed, charset decided).
    Extract(extract::ExtractArgs),
    /// The stages whose command is made from their options (langid, clean, …: see
    /// `stages/registry.rs`).
    #[command(flatten)]
    Stage(stage::StageCommand),
    /// Train the quality classifier, or filter documents with it (Pareto or threshold).
    Quality(quality::QualityArgs),
    /// Remove exact, URL and near duplicates across datasets (MinHash LSH, priority-aware).
    Dedup(Box<dedup::DedupArgs>),
    /// Remove exact duplicate paragraphs (or lines) across documents: repeated boilerplate.
    ParagraphDedup(Box<paragraph_dedup::ParagraphDedupArgs>),
    /// Cut downstream-task n-grams out of documents (Megatron's decontamination).
    Decontam(Box<decontam::DecontamArgs>),
    /// Document shards → Megatron .bin/.idx datasets (GPT-2 BPE by default), one per corpus.
    Tokenize(tokenize::TokenizeArgs),
    /// Mix tokenized datasets by weight: per-dataset prefixes, blended stream, manifest.
    Blend(blend::BlendArgs),
    /// Decode random sequences of tokenized output back to text.
    Sample(sample::SampleArgs),
    /// Summarize a WARC file, a shard file, an output directory, or token shards and manifests.
    Inspect(inspect::InspectArgs),
    /// Run a pipeline spec (TOML): inputs, ordered stages, output.
    Run(run::RunSpecArgs),
    /// Copy a finished run to object storage (s3://), markers and manifests last.
    Publish(publish::PublishArgs),
    /// Write a run's data card: an HTML page and Markdown with SVG charts.
    Report(report::ReportArgs),
    /// Score components against labelled benchmarks (needs ../shared/data).
    Eval(eval::EvalArgs),
    /// Run a spec on a Slurm cluster: one job array per step, chained with afterok.
    #[command(subcommand)]
    Slurm(slurm::SlurmCommand),
    /// How far a run directory got: per step, tasks done of total and what is running (a
    /// `sieve run` on this machine or a Slurm submission), and what failed, with its error.
    Status(status::StatusArgs),
    /// Print each document's words and sentence count as the Gopher, C4 and FineWeb filters
    /// split them (datatrove's spaCy English rules), one JSON line per input line.
    Words(words::WordsArgs),
}

pub use crate::pipeline::Outcome;

pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Import(a) => import::run(a),
        Command::Warc(a) => warc::run(a),
        Command::Extract(a) => extract::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Stage(a) => stage::run(a),
        Command::Quality(a) => quality::run(a),
        Command::Dedup(a) => dedup::run(*a),
        Command::ParagraphDedup(a) => paragraph_dedup::run(*a),
        Command::Decontam(a) => decontam::run(*a),
        Command::Tokenize(a) => tokenize::run(a),
        Command::Blend(a) => blend::run(a),
        Command::Sample(a) => sample::run(a),
        Command::Run(a) => run::run(a),
        Command::Report(a) => report::run(a),
        Command::Publish(a) => publish::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Words(a) => words::run(a),
        Command::Slurm(slurm::SlurmCommand::Submit(a)) => crate::orchestrate::slurm::submit(&a),
        Command::Status(a) => status::run(&a),
    }
}
