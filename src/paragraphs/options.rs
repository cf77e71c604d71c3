//! The paragraph dedup settings: the `sieve paragraph-dedup` flags and the spec's
//! `[[stage]] name = "paragraph-dedup"` keys are these fields, with the defaults of `Default`
//! for both. The first step writes them to `WORK/config.json`; later steps and the strip
//! stage read them from there, and a step given other settings is refused.

use std::path::Path;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::units::Split;

/// Which copies of a repeated unit stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Keep {
    /// The first copy in corpus order (shard file names in order, then position, then unit)
    /// stays; the others go.
    First,
    /// Every copy goes.
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct ParagraphDedupOptions {
    /// What a unit is: each line, or each paragraph between blank lines.
    #[arg(long, value_enum, default_value_t = ParagraphDedupOptions::default().split)]
    pub split: Split,
    /// Which copies of a repeated unit stay: the first in corpus order, or none.
    #[arg(long, value_enum, default_value_t = ParagraphDedupOptions::default().keep)]
    pub keep: Keep,
    /// A unit seen more than this many times is removed everywhere, its first copy too
    /// (0: never).
    #[arg(long, default_value_t = ParagraphDedupOptions::default().max_copies)]
    pub max_copies: u64,
    /// Units shorter than this (normalised characters) are never matched: short lines such as
    /// "Yes." or "Chapter 1" repeat in honest text.
    #[arg(long, default_value_t = ParagraphDedupOptions::default().min_unit_chars)]
    pub min_unit_chars: usize,
    /// A document that lost units and has fewer characters than this left is dropped
    /// (`duplicate_paragraphs`).
    #[arg(long, default_value_t = ParagraphDedupOptions::default().min_doc_chars)]
    pub min_doc_chars: usize,
    /// Hash partitions (merge tasks); each holds its removals in memory (12 bytes each).
    #[arg(long, default_value_t = ParagraphDedupOptions::default().partitions)]
    pub partitions: usize,
}

impl Default for ParagraphDedupOptions {
    fn default() -> Self {
        ParagraphDedupOptions {
            split: Split::Line,
            keep: Keep::First,
            max_copies: 100,
            min_unit_chars: 20,
            min_doc_chars: 200,
            partitions: 4,
        }
    }
}

impl ParagraphDedupOptions {
    pub fn from_table(table: &toml::Table) -> Result<ParagraphDedupOptions> {
        let o: ParagraphDedupOptions =
            crate::pipeline::spec::stage_options("paragraph-dedup", table)?;
        o.check()?;
        Ok(o)
    }

    pub fn check(&self) -> Result<()> {
        if self.partitions == 0 || self.partitions > 4096 {
            bail!("paragraph-dedup: partitions must be from 1 to 4096");
        }
        Ok(())
    }

    /// Writes the settings to `work`, or checks that the ones there are the same.
    pub fn save_or_check(&self, work: &Path) -> Result<()> {
        self.check()?;
        let path = super::layout::config(work);
        if path.exists() {
            let existing = Self::load(work)?;
            if existing != *self {
                bail!(
                    "{} was written with other settings ({}); use a new work directory or the same settings",
                    path.display(),
                    serde_json::to_string(&existing)?
                );
            }
            return Ok(());
        }
        crate::pipeline::tasks::write_json_shared(&path, self)
    }

    pub fn load(work: &Path) -> Result<ParagraphDedupOptions> {
        crate::pipeline::tasks::read_step_json(
            &super::layout::config(work),
            "sieve paragraph-dedup",
        )
    }
}
