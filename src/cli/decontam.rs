//! `sieve decontam`: remove downstream-task n-grams (Megatron's algorithm), both passes at
//! once or one pass at a time (`count` and `strip` with `--shard I/N`, `merge` once).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};

use super::Outcome;
use crate::decontam::cut::Rules;
use crate::decontam::ngrams::{Compat, NgramIndex};
use crate::decontam::passes::{count_pass, merge_pass, strip_index, DecontamConfig};
use crate::decontam::passes::{expected, expected_path};
use crate::decontam::summary::{print_summary, summarize};
use crate::decontam::tasks::{load_task_file, merge, parse_task_arg, TaskSpec};
use crate::pipeline::command::{execute, shard_jobs, thread_count, RunArgs};
use crate::pipeline::runner::Job;
use crate::pipeline::tasks::record_expected;
use crate::stages::decontam::strip_factory;

#[derive(Debug, Args)]
#[command(subcommand_negates_reqs = true)]
pub struct DecontamArgs {
    #[command(subcommand)]
    pub pass: Option<DecontamPass>,
    /// Input document shards.
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// Work directory for counts; default: OUT/decontam-work.
    #[arg(long, value_name = "DIR")]
    pub work: Option<PathBuf>,
    #[command(flatten)]
    pub settings: DecontamSettings,
    /// Optional only so that the pass subcommands parse; required without one.
    #[command(flatten)]
    pub run: Option<RunArgs>,
}

#[derive(Debug, Subcommand)]
pub enum DecontamPass {
    /// Pass 1 (map): document frequencies of task n-grams in each input shard.
    Count(CountArgs),
    /// Pass 1 (reduce): sum the counts; n-grams in ≥ threshold documents leave the index.
    Merge(MergeArgs),
    /// Pass 2 (map): cut the remaining task n-grams out of the documents.
    Strip(StripArgs),
}

/// Tasks and rules; stored in WORK/config.json by `count`.
#[derive(Debug, Clone, Args)]
pub struct DecontamSettings {
    /// A task: NAME=FILE[:FIELD[,FIELD...]] (JSON lines; FIELD dotted, `a+b` joins fields;
    /// default field `text`). Repeat for more tasks or files.
    #[arg(long = "task", value_name = "NAME=FILE[:FIELDS]")]
    pub task: Vec<String>,
    /// A TOML task set (see pipelines/tasks/mtnlg.toml).
    #[arg(long, value_name = "TASKS.toml")]
    pub tasks: Option<PathBuf>,
    /// `sieve` (quirks fixed) or `megatron` (filter_ngrams.py exactly, quirks included).
    #[arg(long, value_enum, default_value = "sieve")]
    pub compat: Compat,
    /// Words per n-gram of long task texts.
    #[arg(long, default_value_t = 13)]
    pub ngram: usize,
    /// Task texts with fewer words are ignored; 8..ngram-word texts are whole n-grams.
    #[arg(long, default_value_t = 8)]
    pub min_ngram: usize,
    /// N-grams found in this many documents or more are common phrases: not removed.
    #[arg(long, default_value_t = 10)]
    pub df_threshold: u32,
    /// Characters removed on each side of a match (then on to the nearest . ! ?).
    #[arg(long, default_value_t = 200)]
    pub context_chars: usize,
    /// Pieces must be longer than this to be kept.
    #[arg(long, default_value_t = 200)]
    pub min_piece_chars: usize,
    /// Documents left in more pieces than this are dropped.
    #[arg(long, default_value_t = 10)]
    pub max_pieces: usize,
}

impl DecontamSettings {
    pub fn config(&self) -> Result<DecontamConfig> {
        let mut specs: Vec<TaskSpec> = Vec::new();
        if let Some(file) = &self.tasks {
            specs.extend(load_task_file(file)?);
        }
        for t in &self.task {
            specs.push(parse_task_arg(t)?);
        }
        if specs.is_empty() {
            bail!("no tasks: use --task NAME=FILE[:FIELDS] or --tasks TASKS.toml");
        }
        // Absolute paths, so that later passes run from anywhere find the same files.
        for s in &mut specs {
            for p in &mut s.paths {
                if let Ok(abs) = std::fs::canonicalize(&*p) {
                    *p = abs;
                }
            }
        }
        let cfg = DecontamConfig {
            tasks: merge(specs),
            compat: self.compat,
            min_ngram: self.min_ngram,
            max_ngram: self.ngram,
            df_threshold: self.df_threshold,
            rules: Rules {
                context_chars: self.context_chars,
                min_piece_chars: self.min_piece_chars,
                max_pieces: self.max_pieces,
            },
        };
        cfg.check()?;
        Ok(cfg)
    }
}

#[derive(Debug, Args)]
pub struct CountArgs {
    #[arg(required = true)]
    pub inputs: Vec<String>,
    #[arg(long, value_name = "DIR")]
    pub work: PathBuf,
    #[command(flatten)]
    pub settings: DecontamSettings,
    #[arg(short = 'j', long)]
    pub threads: Option<usize>,
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    #[arg(long, value_name = "DIR")]
    pub work: PathBuf,
}

#[derive(Debug, Args)]
pub struct StripArgs {
    #[arg(required = true)]
    pub inputs: Vec<String>,
    #[arg(long, value_name = "DIR")]
    pub work: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Both passes' global part: count all shards, merge; returns the strip index.
pub fn prepare(
    work: &Path,
    cfg: &DecontamConfig,
    jobs: &[Job],
    threads: usize,
    quiet: bool,
) -> Result<Arc<NgramIndex>> {
    let index = cfg.build_index()?;
    cfg.save_or_check(work)?;
    record_expected(&expected_path(work), jobs)?;
    count_pass(work, cfg, &index, jobs, threads, quiet)?;
    let report = merge_pass(work, &index, &expected(work)?)?;
    if !quiet {
        eprintln!(
            "sieve decontam: {} task n-grams, {} found in the corpus, {} in ≥ {} documents (kept as common phrases)",
            report.index_ngrams, report.ngrams_found, report.frequent, cfg.df_threshold
        );
    }
    strip_index(work)
}

pub fn run(a: DecontamArgs) -> Result<Outcome> {
    match a.pass {
        None => {
            let Some(run) = a.run else {
                bail!("`sieve decontam` needs --output DIR (or a pass: count, merge, strip)");
            };
            if run.shard.is_some() {
                bail!("`sieve decontam` runs both passes on one box; for task arrays run `count`, `merge` and `strip`");
            }
            let cfg = a.settings.config()?;
            let work = a.work.unwrap_or_else(|| run.output.join("decontam-work"));
            let jobs = shard_jobs(&a.inputs, &run)?;
            let index = prepare(&work, &cfg, &jobs, run.threads(), run.quiet)?;
            let outcome = execute("decontam", jobs, strip_factory(index, &cfg), &run)?;
            let s = summarize(&run.output)?;
            if !run.quiet {
                print_summary(&s, &run.output);
            }
            Ok(outcome)
        }
        Some(DecontamPass::Count(c)) => {
            let cfg = c.settings.config()?;
            let run = RunArgs {
                output: c.work.clone(),
                threads: c.threads,
                shard: c.shard.clone(),
                format: crate::io::shards::ShardFormat::Parquet,
                write_rejected: false,
                base_url: String::new(),
                quiet: false,
            };
            let all = shard_jobs(&c.inputs, &run)?;
            cfg.save_or_check(&c.work)?;
            record_expected(&expected_path(&c.work), &all)?;
            let index = cfg.build_index()?;
            let mine = run.select(all)?;
            count_pass(&c.work, &cfg, &index, &mine, thread_count(c.threads), false)?;
            Ok(Outcome::Ok)
        }
        Some(DecontamPass::Merge(m)) => {
            let cfg = DecontamConfig::load(&m.work)?;
            let index = cfg.build_index()?;
            let r = merge_pass(&m.work, &index, &expected(&m.work)?)?;
            eprintln!(
                "sieve decontam merge: {} task n-grams, {} found, {} frequent; report in {}",
                r.index_ngrams,
                r.ngrams_found,
                r.frequent,
                m.work.join("merge.json").display()
            );
            Ok(Outcome::Ok)
        }
        Some(DecontamPass::Strip(s)) => {
            let cfg = DecontamConfig::load(&s.work)?;
            let index = strip_index(&s.work)?;
            let jobs = s.run.select(shard_jobs(&s.inputs, &s.run)?)?;
            let outcome = execute("decontam strip", jobs, strip_factory(index, &cfg), &s.run)?;
            let sum = summarize(&s.run.output)?;
            if !s.run.quiet {
                print_summary(&sum, &s.run.output);
            }
            Ok(outcome)
        }
    }
}
