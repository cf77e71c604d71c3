//! The `decontam` stage: its global steps (`DecontamGlobal`, at the end of this file) and the
//! strip stage that follows them, which cuts task n-grams (and 200 characters around each) out of
//! documents, splitting them into pieces; see `crate::decontam` for the index and the passes.
//!
//! Outcomes: a document without task n-grams is kept as is; one with cuts becomes its
//! surviving pieces (ids `<id>/piece<k>`, `meta.split_id`, `meta.decontam_parent`); one left
//! in more than `max_pieces` pieces is dropped (`too_many_splits`), one with nothing left is
//! dropped (`contaminated`). Every cut goes to the stage report
//! `OUT/reports/decontam/<stem>.jsonl`: document, tasks, n-gram, character offsets.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;

use crate::decontam::cut::{strip, Rules};
use crate::decontam::ngrams::{Compat, NgramIndex, Scanner};
use crate::decontam::passes::DecontamConfig;
use crate::decontam::passes::{count_step, merge_step, strip_index};
use crate::doc::Document;
use crate::pipeline::global::{Completion, GlobalStage, GlobalStep, StepContext};
use crate::pipeline::stage::{Emit, Stage, StageFactory};

pub struct DecontamStage {
    index: Arc<NgramIndex>,
    compat: Compat,
    rules: Rules,
}

impl DecontamStage {
    pub fn new(index: Arc<NgramIndex>, compat: Compat, rules: Rules) -> DecontamStage {
        DecontamStage {
            index,
            compat,
            rules,
        }
    }
}

impl Stage for DecontamStage {
    fn name(&self) -> &'static str {
        "decontam"
    }

    fn process(&mut self, mut doc: Document, out: &mut Emit) -> Result<()> {
        let mut scanner = Scanner::new(&self.index, self.compat);
        let result = strip(&doc.text, &mut scanner, &self.rules);
        if result.cuts.is_empty() {
            out.keep(doc);
            return Ok(());
        }
        let mut tasks: Vec<&str> = result
            .cuts
            .iter()
            .flat_map(|c| c.tasks.iter().map(String::as_str))
            .collect();
        tasks.sort_unstable();
        tasks.dedup();
        let tasks = tasks.join("-");
        let outcome = if result.pieces.len() > self.rules.max_pieces {
            "dropped_too_many_pieces"
        } else if result.pieces.is_empty() {
            "dropped_nothing_left"
        } else {
            "split"
        };
        for cut in &result.cuts {
            out.report(
                serde_json::json!({
                    "id": doc.id,
                    "tasks": cut.tasks,
                    "ngram": cut.ngram,
                    "start": cut.start,
                    "end": cut.end,
                    "pieces": result.pieces.len(),
                    "outcome": outcome,
                })
                .to_string(),
            );
        }
        doc.meta
            .insert("decontam_cuts".into(), result.cuts.len().to_string());
        doc.meta.insert("decontam_tasks".into(), tasks.clone());
        match outcome {
            "dropped_too_many_pieces" => out.drop(doc, "too_many_splits"),
            "dropped_nothing_left" => out.drop(doc, "contaminated"),
            _ => {
                let pieces = result
                    .pieces
                    .into_iter()
                    .enumerate()
                    .map(|(k, (text, offset))| {
                        let mut piece = doc.clone();
                        piece.id = format!("{}/piece{k}", doc.id);
                        piece.text = text;
                        piece.meta.insert("decontam_parent".into(), doc.id.clone());
                        piece
                            .meta
                            .insert("decontam_offset".into(), offset.to_string());
                        piece
                            .meta
                            .insert("split_id".into(), format!("{tasks}-{k:04}"));
                        piece
                    });
                out.split(pieces.collect::<Vec<_>>());
            }
        }
        Ok(())
    }
}

/// A factory for the strip stage.
pub fn strip_factory(index: Arc<NgramIndex>, cfg: &DecontamConfig) -> StageFactory {
    let (compat, rules) = (cfg.compat, cfg.rules);
    Arc::new(move |_stem: &str| {
        Ok(vec![
            Box::new(DecontamStage::new(index.clone(), compat, rules)) as Box<dyn Stage>,
        ])
    })
}

/// The `decontam` stage of a spec: Megatron's two passes as global steps over the documents of
/// the pass before it, then the strip stage leading the next pass.
///
/// | step | tasks | writes (in `OUT/work/decontam/`) |
/// |---|---|---|
/// | `decontam-count` | one per shard | `config.json`, `counts/` (document frequency of each task n-gram) |
/// | `decontam-merge` | 1 | `frequent.bin` (n-grams too common to remove), `merge.json` |
pub struct DecontamGlobal {
    cfg: DecontamConfig,
}

impl DecontamGlobal {
    pub fn from_table(table: &toml::Table) -> Result<Box<dyn GlobalStage>> {
        Ok(Box::new(DecontamGlobal {
            cfg: DecontamConfig::from_table(table)?,
        }))
    }
}

impl GlobalStage for DecontamGlobal {
    fn name(&self) -> &'static str {
        "decontam"
    }

    fn steps(&self) -> Vec<GlobalStep> {
        vec![
            GlobalStep::map("decontam-count", Completion::Dir("counts/done".into())),
            GlobalStep::single("decontam-merge", Completion::File("merge.json".into())),
        ]
    }

    fn run_step(&self, step: usize, cx: &StepContext) -> Result<()> {
        match step {
            0 => count_step(cx.work, &self.cfg, cx.all, cx.mine, cx.threads, cx.quiet),
            _ => merge_step(cx.work, cx.quiet).map(drop),
        }
    }

    fn lead(&self, work: &Path) -> Result<Option<StageFactory>> {
        Ok(Some(strip_factory(strip_index(work)?, &self.cfg)))
    }

    fn after_finish(&self, out: &Path, quiet: bool) -> Result<()> {
        let summary = crate::decontam::summary::summarize(out)?;
        if !quiet {
            crate::decontam::summary::print_summary(&summary, out);
        }
        Ok(())
    }
}
