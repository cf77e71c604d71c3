//! The `paragraph-dedup` stage of a spec: exact duplicate paragraphs (or lines) across the
//! corpus, as three global steps over the documents of the pass before it, then the strip
//! stage leading the next pass. The algorithm and files are in `crate::paragraphs`.
//!
//! | step | tasks | writes (in `OUT/work/paragraph-dedup/`) |
//! |---|---|---|
//! | `paragraph-dedup-count` | one per shard | `config.json`, `count/` (unit keys, hash-partitioned) |
//! | `paragraph-dedup-merge` | one per partition | `merge/` (removals per shard, partition figures) |
//! | `paragraph-dedup-report` | 1 | `report.json` (totals, the most repeated units) |
//!
//! The strip stage removes each document's listed units (`meta.paragraphs_removed`) and drops
//! a document left with fewer than `min_doc_chars` characters (`duplicate_paragraphs`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Result};

use crate::dedup::files::id_hash;
use crate::doc::Document;
use crate::paragraphs::options::ParagraphDedupOptions;
use crate::paragraphs::{count, layout, merge, report};
use crate::pipeline::global::{Completion, GlobalStage, GlobalStep, StepContext};
use crate::pipeline::stage::{Emit, Stage, StageFactory};

pub struct ParagraphDedupGlobal {
    options: ParagraphDedupOptions,
}

impl ParagraphDedupGlobal {
    pub fn from_table(table: &toml::Table) -> Result<Box<dyn GlobalStage>> {
        Ok(Box::new(ParagraphDedupGlobal {
            options: ParagraphDedupOptions::from_table(table)?,
        }))
    }
}

impl GlobalStage for ParagraphDedupGlobal {
    fn name(&self) -> &'static str {
        "paragraph-dedup"
    }

    fn steps(&self) -> Vec<GlobalStep> {
        vec![
            GlobalStep::map(
                "paragraph-dedup-count",
                Completion::Dir("count/done".into()),
            ),
            GlobalStep::reduce(
                "paragraph-dedup-merge",
                self.options.partitions,
                Completion::Dir("merge/done".into()),
            ),
            GlobalStep::single(
                "paragraph-dedup-report",
                Completion::File("report.json".into()),
            ),
        ]
    }

    fn run_step(&self, step: usize, cx: &StepContext) -> Result<()> {
        match step {
            0 => count::run(
                cx.work,
                &self.options,
                cx.all,
                cx.mine,
                cx.threads,
                cx.quiet,
            ),
            1 => merge::run(cx.work, cx.part, cx.threads, cx.quiet),
            _ => {
                let r = report::run(cx.work, cx.all)?;
                if !cx.quiet {
                    report::print_report(&r, cx.work);
                }
                Ok(())
            }
        }
    }

    fn lead(&self, work: &Path) -> Result<Option<StageFactory>> {
        Ok(Some(strip_factory(work.to_path_buf())))
    }
}

/// Removes the units the merge step listed for one shard.
pub struct ParagraphStripStage {
    options: ParagraphDedupOptions,
    /// Document id hash → its units to remove, ascending.
    removals: HashMap<u64, Vec<u32>>,
}

impl ParagraphStripStage {
    pub fn for_shard(work: &Path, stem: &str) -> Result<ParagraphStripStage> {
        if !layout::report(work).exists() {
            bail!(
                "{}: the paragraph-dedup steps have not finished (no report.json)",
                work.display()
            );
        }
        let options = ParagraphDedupOptions::load(work)?;
        let mut removals: HashMap<u64, Vec<u32>> = HashMap::new();
        for p in 0..options.partitions {
            let path = layout::removals(work, p, stem);
            if !path.exists() {
                bail!(
                    "{} has no removals for shard `{stem}`: it was not among the inputs of the count step",
                    work.display()
                );
            }
            for (id, unit) in merge::read_removals(&path)? {
                removals.entry(id).or_default().push(unit);
            }
        }
        for units in removals.values_mut() {
            units.sort_unstable();
            units.dedup();
        }
        Ok(ParagraphStripStage { options, removals })
    }
}

impl Stage for ParagraphStripStage {
    fn name(&self) -> &'static str {
        "paragraph-dedup"
    }

    fn process(&mut self, mut doc: Document, out: &mut Emit) -> Result<()> {
        let Some(units) = self.removals.get(&id_hash(&doc.id)) else {
            out.keep(doc);
            return Ok(());
        };
        let split = self.options.split;
        let kept: Vec<&str> = split
            .units(&doc.text)
            .enumerate()
            .filter(|(i, _)| units.binary_search(&(*i as u32)).is_err())
            .map(|(_, u)| u)
            .collect();
        let text = kept.join(split.separator());
        doc.meta
            .insert("paragraphs_removed".into(), units.len().to_string());
        doc.text = text;
        if doc.text.trim().chars().count() < self.options.min_doc_chars {
            out.drop(doc, "duplicate_paragraphs");
        } else {
            out.keep(doc);
        }
        Ok(())
    }
}

/// A factory for the strip stage of each shard.
pub fn strip_factory(work: PathBuf) -> StageFactory {
    Arc::new(move |stem: &str| {
        Ok(vec![
            Box::new(ParagraphStripStage::for_shard(&work, stem)?) as Box<dyn Stage>
        ])
    })
}
