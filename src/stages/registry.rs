//! Stage names in pipeline specs → stage instances. Each stage module registers itself here
//! with a constructor that reads its options from the spec's `[[stage]]` table.

use anyhow::{bail, Result};

use crate::pipeline::spec::StageSpec;
use crate::pipeline::stage::{Stage, StageFactory};

type Constructor = fn(&toml::Table) -> Result<Box<dyn Stage>>;

/// Registered stages: name and constructor, in pipeline order.
const STAGES: &[(&str, Constructor)] = &[
    ("extract", crate::stages::extract::ExtractStage::from_table),
    ("langid", crate::stages::langid::LangidStage::from_table),
    ("clean", crate::stages::clean::CleanStage::from_table),
    ("quality", crate::stages::quality::QualityStage::from_table),
];

/// Names of the registered stages (for help and error messages).
pub fn stage_names() -> Vec<&'static str> {
    STAGES.iter().map(|(n, _)| *n).collect()
}

/// Checks every stage name and returns a factory building the chain for each shard.
pub fn factory(specs: &[StageSpec]) -> Result<StageFactory> {
    let mut constructors = Vec::new();
    for spec in specs {
        match STAGES.iter().find(|(n, _)| *n == spec.name) {
            Some((_, c)) => constructors.push((*c, spec.options.clone())),
            None => {
                let known = stage_names();
                bail!(
                    "unknown stage `{}` in the pipeline spec (registered stages: {})",
                    spec.name,
                    if known.is_empty() {
                        "none yet".to_string()
                    } else {
                        known.join(", ")
                    }
                )
            }
        }
    }
    Ok(std::sync::Arc::new(move |_stem: &str| {
        constructors.iter().map(|(c, opts)| c(opts)).collect()
    }))
}
