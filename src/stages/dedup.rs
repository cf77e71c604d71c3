//! The `dedup` stage of a spec: exact, URL and MinHash dedup as four global steps over the
//! documents of the pass before it, then the filter leading the next pass. The algorithms and
//! the files the steps pass each other are in `crate::dedup`.
//!
//! | step | tasks | reads | writes (in `OUT/work/dedup/`) |
//! |---|---|---|---|
//! | `dedup-signatures` | one per shard | the shards | `signatures/`, `config.json` |
//! | `dedup-lsh` | one per shard | `signatures/` | `lsh/` (band keys, partitioned, sorted) |
//! | `dedup-edges` | bands × key ranges | `lsh/` | `edges/` (verified pairs) |
//! | `dedup-components` | 1 | `edges/` | `components/` (remove lists, report) |
//! | `dedup-index-shards` | one per shard | `signatures/`, `lsh/`, remove lists | the index's staging directory (`write_index` only) |
//! | `dedup-index-partitions` | bands × key ranges | the staging directory | its merged `lsh/` files |
//! | `dedup-index-publish` | 1 | the staging directory | a new generation of the index |
//!
//! With `against`, the edges step reads the indexes' files beside `lsh/` (`crate::dedup::index`).
//! The next pass starts with the filter, which drops the documents `components/remove` lists.

use std::path::Path;

use anyhow::Result;

use crate::dedup::config::{DedupConfig, DedupOptions};
use crate::dedup::files::WorkDir;
use crate::dedup::{components, edges, index_build, lsh, signatures};
use crate::pipeline::global::{Completion, GlobalStage, GlobalStep, StepContext};
use crate::pipeline::stage::StageFactory;

pub struct DedupStage {
    cfg: DedupConfig,
}

impl DedupStage {
    pub fn from_table(table: &toml::Table) -> Result<Box<dyn GlobalStage>> {
        let cfg = DedupOptions::from_table(table)?.config()?;
        Ok(Box::new(DedupStage { cfg }))
    }
}

/// The settings a spec's table gives, with the preset's layout and shingles written out.
pub fn resolved_options(table: &toml::Table) -> Result<DedupOptions> {
    let options = DedupOptions::from_table(table)?;
    let cfg = options.config()?;
    Ok(DedupOptions {
        bands: Some(cfg.bands),
        rows: Some(cfg.rows),
        shingle: Some(cfg.shingling),
        ..options
    })
}

impl GlobalStage for DedupStage {
    fn name(&self) -> &'static str {
        "dedup"
    }

    fn steps(&self) -> Vec<GlobalStep> {
        let dir = |d: &str| Completion::Dir(Path::new(d).join("done"));
        let mut steps = vec![
            GlobalStep::map("dedup-signatures", dir("signatures")),
            GlobalStep::map("dedup-lsh", dir("lsh")),
            GlobalStep::reduce(
                "dedup-edges",
                edges::partitions(&self.cfg).len(),
                dir("edges"),
            ),
            GlobalStep::single("dedup-components", dir("components")),
        ];
        if self.cfg.write_index.is_some() {
            steps.extend([
                GlobalStep::map("dedup-index-shards", dir("index/shards")),
                GlobalStep::reduce(
                    "dedup-index-partitions",
                    edges::partitions(&self.cfg).len(),
                    dir("index/partitions"),
                ),
                GlobalStep::single("dedup-index-publish", dir("index/publish")),
            ]);
        }
        steps
    }

    fn run_step(&self, step: usize, cx: &StepContext) -> Result<()> {
        let work = WorkDir::new(cx.work);
        match step {
            0 => signatures::run(&work, &self.cfg, cx.all, cx.mine, cx.threads, cx.quiet),
            1 => lsh::run(&work, cx.part, cx.threads, cx.quiet),
            2 => edges::run(&work, cx.part, cx.threads, cx.quiet),
            3 => {
                let report = components::run(&work)?;
                if !cx.quiet {
                    components::print_report(&report, &work);
                }
                Ok(())
            }
            _ => {
                let index = self.cfg.write_index.as_deref().ok_or_else(|| {
                    anyhow::anyhow!("dedup step {step}: no `write_index` in the stage")
                })?;
                match step {
                    4 => {
                        let mine: Vec<String> = cx.mine.iter().map(|j| j.stem.clone()).collect();
                        index_build::shards(&work, index, &mine, cx.threads, cx.quiet)
                    }
                    5 => index_build::partitions(&work, index, cx.part, cx.threads, cx.quiet),
                    _ => {
                        index_build::publish(&work, index)?;
                        crate::io::shards::AtomicFile::write_all(
                            &work.marker("index/publish", "all"),
                            b"",
                        )
                    }
                }
            }
        }
    }

    fn lead(&self, work: &Path) -> Result<Option<StageFactory>> {
        Ok(Some(crate::dedup::filter::filter_factory(
            WorkDir::new(work),
            None,
        )))
    }
}
