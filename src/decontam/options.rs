//! The decontam settings, defined once for the `sieve decontam` flags and the spec's
//! `[[stage]] name = "decontam"` keys.

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::cut::Rules;
use super::ngrams::Compat;
use super::passes::DecontamConfig;
use super::tasks::{load_task_file, merge, parse_task_arg, TaskSpec};

/// The flags and spec keys are these fields (`--df-threshold` is `df_threshold`), with the
/// defaults of `Default` for both: the MT-NLG (Megatron `filter_ngrams.py`) values.
/// `config` resolves them, with the tasks, into what `WORK/config.json` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct DecontamOptions {
    /// A TOML task set (see pipelines/tasks/mtnlg.toml); in a spec, relative to the spec.
    #[arg(long, value_name = "TASKS.toml")]
    pub tasks: Option<PathBuf>,
    /// `sieve` (quirks fixed) or `megatron` (filter_ngrams.py exactly, quirks included).
    #[arg(long, value_enum, default_value_t = DecontamOptions::default().compat)]
    pub compat: Compat,
    /// Words per n-gram of long task texts.
    #[arg(long, default_value_t = DecontamOptions::default().ngram)]
    pub ngram: usize,
    /// Task texts with fewer words are ignored; min_ngram..ngram-word texts are whole n-grams.
    #[arg(long, default_value_t = DecontamOptions::default().min_ngram)]
    pub min_ngram: usize,
    /// N-grams found in this many documents or more are common phrases: not removed.
    #[arg(long, default_value_t = DecontamOptions::default().df_threshold)]
    pub df_threshold: u32,
    /// Characters removed on each side of a match (then on to the nearest . ! ?).
    #[arg(long, default_value_t = DecontamOptions::default().context_chars)]
    pub context_chars: usize,
    /// Pieces must be longer than this to be kept.
    #[arg(long, default_value_t = DecontamOptions::default().min_piece_chars)]
    pub min_piece_chars: usize,
    /// Documents left in more pieces than this are dropped.
    #[arg(long, default_value_t = DecontamOptions::default().max_pieces)]
    pub max_pieces: usize,
}

impl Default for DecontamOptions {
    fn default() -> Self {
        DecontamOptions {
            tasks: None,
            compat: Compat::Sieve,
            ngram: 13,
            min_ngram: 8,
            df_threshold: 10,
            context_chars: 200,
            min_piece_chars: 200,
            max_pieces: 10,
        }
    }
}

impl DecontamOptions {
    pub fn from_table(table: &toml::Table) -> Result<DecontamOptions> {
        crate::pipeline::spec::stage_options("decontam", table)
    }

    /// The tasks (the task set, then each `--task NAME=FILE[:FIELDS]` of the command line)
    /// and rules, checked.
    pub fn config(&self, task_args: &[String]) -> Result<DecontamConfig> {
        let mut specs: Vec<TaskSpec> = Vec::new();
        if let Some(file) = &self.tasks {
            specs.extend(load_task_file(file)?);
        }
        for t in task_args {
            specs.push(parse_task_arg(t)?);
        }
        if specs.is_empty() {
            bail!("no tasks: name a task set (--tasks TASKS.toml, or `tasks` in a spec) or give --task NAME=FILE[:FIELDS]");
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

impl DecontamConfig {
    /// Reads a pipeline spec's decontam stage table.
    pub fn from_table(table: &toml::Table) -> Result<DecontamConfig> {
        DecontamOptions::from_table(table)?.config(&[])
    }
}
