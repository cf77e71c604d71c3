//! Step 5 (map, one task per input shard): drops every document that `components` listed
//! for its shard, recording its representative, as a pipeline stage. A document whose
//! representative is an indexed one (`against`) is dropped as `duplicate_of_index`, naming
//! the index.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{bail, Result};

use super::config::DedupConfig;
use super::files::{id_hash, kind_name, read_removals, Removal, WorkDir, KIND_EXACT, KIND_URL};
use crate::doc::Document;
use crate::pipeline::stage::StageFactory;
use crate::pipeline::stage::{Emit, Stage};

pub struct DedupFilterStage {
    removals: HashMap<u64, Removal>,
    /// The indexes of the run's `against`, as `Removal::origin` numbers them (from 1).
    indexes: Vec<String>,
}

impl DedupFilterStage {
    /// The filter for the input shard `stem`, from the remove list `components` wrote.
    pub fn for_shard(work: &WorkDir, stem: &str) -> Result<DedupFilterStage> {
        if !work.marker("components", "all").exists() {
            bail!(
                "{}: `sieve dedup components` has not finished; run the earlier dedup steps first",
                work.root.display()
            );
        }
        let path = work.remove_file(stem);
        if !path.exists() {
            bail!(
                "{} has no remove list for shard `{stem}`: it was not among the inputs of `sieve dedup signatures`",
                work.root.display()
            );
        }
        let removals = read_removals(&path)?
            .into_iter()
            .map(|r| (r.id_hash, r))
            .collect();
        let indexes = DedupConfig::load(&work.root)?
            .against
            .iter()
            .map(|a| a.path.display().to_string())
            .collect();
        Ok(DedupFilterStage { removals, indexes })
    }
}

impl Stage for DedupFilterStage {
    fn name(&self) -> &'static str {
        "dedup"
    }

    fn process(&mut self, mut doc: Document, out: &mut Emit) -> Result<()> {
        let Some(r) = self.removals.get(&id_hash(&doc.id)) else {
            out.keep(doc);
            return Ok(());
        };
        doc.meta
            .insert("dedup_representative".into(), r.representative.clone());
        doc.meta
            .insert("dedup_component_size".into(), r.component_size.to_string());
        doc.meta
            .insert("dedup_match".into(), kind_name(r.kind).to_string());
        let reason = if r.origin > 0 {
            let index = self.indexes.get(r.origin as usize - 1);
            doc.meta.insert(
                "dedup_index".into(),
                index.map_or("?", String::as_str).to_string(),
            );
            "duplicate_of_index"
        } else {
            match r.kind {
                KIND_EXACT => "exact_duplicate",
                KIND_URL => "url_duplicate",
                _ => "near_duplicate",
            }
        };
        out.drop(doc, reason);
        Ok(())
    }
}

/// A stage factory that puts the dedup filter of each shard in front of `rest`.
pub fn filter_factory(work: WorkDir, rest: Option<StageFactory>) -> StageFactory {
    Arc::new(move |stem: &str| {
        let mut chain: Vec<Box<dyn Stage>> =
            vec![Box::new(DedupFilterStage::for_shard(&work, stem)?)];
        if let Some(rest) = &rest {
            chain.extend(rest(stem)?);
        }
        Ok(chain)
    })
}
