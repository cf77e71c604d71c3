//! Stage names in pipeline specs → stage instances. Each stage registers itself here with a
//! constructor that reads its options from the spec's `[[stage]]` table, and with the function
//! that resolves those options into every setting it will use (`sieve run --show-settings`).
//! Streaming stages process one document at a time; global stages work on the whole corpus in
//! steps (`pipeline::global`).

use anyhow::{bail, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::pipeline::global::GlobalStage;
use crate::pipeline::spec::{stage_options, StageSpec};
use crate::pipeline::stage::{Stage, StageFactory};

type Streaming = fn(&toml::Table) -> Result<Box<dyn Stage>>;
type Global = fn(&toml::Table) -> Result<Box<dyn GlobalStage>>;
type Settings = fn(&str, &toml::Table) -> Result<toml::Table>;

#[derive(Clone, Copy)]
enum Kind {
    Streaming(Streaming),
    Global(Global),
}

/// Registered stages: name, constructor and settings, in pipeline order.
const STAGES: &[(&str, Kind, Settings)] = &[
    (
        "extract",
        Kind::Streaming(crate::stages::extract::ExtractStage::from_table),
        resolved::<crate::stages::extract::ExtractOptions>,
    ),
    (
        "langid",
        Kind::Streaming(crate::stages::langid::LangidStage::from_table),
        resolved::<crate::stages::langid::LangidOptions>,
    ),
    (
        "clean",
        Kind::Streaming(crate::stages::clean::CleanStage::from_table),
        resolved::<crate::stages::clean::CleanOptions>,
    ),
    (
        "quality",
        Kind::Streaming(crate::stages::quality::QualityStage::from_table),
        resolved::<crate::stages::quality::QualityOptions>,
    ),
    (
        "dedup",
        Kind::Global(crate::stages::dedup::DedupStage::from_table),
        |_, t| table_of(&crate::stages::dedup::resolved_options(t)?),
    ),
    (
        "decontam",
        Kind::Global(crate::stages::decontam::DecontamGlobal::from_table),
        resolved::<crate::decontam::options::DecontamOptions>,
    ),
    (
        "tokenize",
        Kind::Global(crate::stages::tokenize::TokenizeStage::from_table),
        resolved::<crate::tokenize::options::TokenizeOptions>,
    ),
    (
        "blend",
        Kind::Global(crate::stages::blend::BlendStage::from_table),
        resolved::<crate::blend::options::BlendOptions>,
    ),
];

/// A stage's table read as its options type and written back with every setting filled in.
fn resolved<T: DeserializeOwned + Serialize>(
    stage: &str,
    table: &toml::Table,
) -> Result<toml::Table> {
    table_of(&stage_options::<T>(stage, table)?)
}

fn table_of<T: Serialize>(options: &T) -> Result<toml::Table> {
    Ok(toml::Table::try_from(options)?)
}

/// Names of the registered stages (for help and error messages).
pub fn stage_names() -> Vec<&'static str> {
    STAGES.iter().map(|(n, _, _)| *n).collect()
}

fn lookup(name: &str) -> Result<&'static (&'static str, Kind, Settings)> {
    match STAGES.iter().find(|(n, _, _)| *n == name) {
        Some(entry) => Ok(entry),
        None => bail!(
            "unknown stage `{name}` in the pipeline spec (registered stages: {})",
            stage_names().join(", ")
        ),
    }
}

/// The global stage a spec stage names, built from its options, or None for a streaming
/// stage. Unknown names are errors.
pub fn global(spec: &StageSpec) -> Result<Option<Box<dyn GlobalStage>>> {
    match lookup(&spec.name)?.1 {
        Kind::Global(make) => Ok(Some(make(&spec.options)?)),
        Kind::Streaming(_) => Ok(None),
    }
}

/// Every setting a spec stage will use: its table with the defaults filled in.
pub fn settings(spec: &StageSpec) -> Result<toml::Table> {
    (lookup(&spec.name)?.2)(&spec.name, &spec.options)
}

/// Checks that every stage is a registered streaming stage and returns a factory building the
/// chain for each shard.
pub fn factory(specs: &[StageSpec]) -> Result<StageFactory> {
    let mut constructors = Vec::new();
    for spec in specs {
        match lookup(&spec.name)?.1 {
            Kind::Streaming(make) => constructors.push((make, spec.options.clone())),
            Kind::Global(_) => bail!("`{}` is not a streaming stage", spec.name),
        }
    }
    Ok(std::sync::Arc::new(move |_stem: &str| {
        constructors.iter().map(|(c, opts)| c(opts)).collect()
    }))
}
