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

/// The command a document-to-document stage may have (`cli/stage.rs` builds it): its help line,
/// its options type's flags, and those flags read back as the stage's `[[stage]]` table.
pub struct StageCli {
    pub about: &'static str,
    pub augment: fn(clap::Command) -> clap::Command,
    pub options: fn(&clap::ArgMatches) -> Result<toml::Table, clap::Error>,
}

const fn cli<T: clap::Args + Serialize>(about: &'static str) -> Option<StageCli> {
    Some(StageCli {
        about,
        augment: T::augment_args,
        options: matched::<T>,
    })
}

fn matched<T: clap::Args + Serialize>(m: &clap::ArgMatches) -> Result<toml::Table, clap::Error> {
    let options = T::from_arg_matches(m)?;
    table_of(&options)
        .map_err(|e| clap::Error::raw(clap::error::ErrorKind::ValueValidation, format!("{e:#}")))
}

type Streaming = fn(&toml::Table) -> Result<Box<dyn Stage>>;
type Global = fn(&toml::Table) -> Result<Box<dyn GlobalStage>>;
type Settings = fn(&str, &toml::Table) -> Result<toml::Table>;

#[derive(Clone, Copy)]
enum Kind {
    Streaming(Streaming),
    Global(Global),
}

struct Entry {
    name: &'static str,
    kind: Kind,
    settings: Settings,
    /// Streaming stages from shards to shards may have their command made from their options.
    command: Option<StageCli>,
}

/// Registered stages, in pipeline order.
const STAGES: &[Entry] = &[
    Entry {
        name: "extract",
        kind: Kind::Streaming(crate::stages::extract::ExtractStage::from_table),
        settings: resolved::<crate::stages::extract::ExtractOptions>,
        command: None, // reads WARC files too, and explains pages: cli/extract.rs
    },
    Entry {
        name: "langid",
        kind: Kind::Streaming(crate::stages::langid::LangidStage::from_table),
        settings: resolved::<crate::stages::langid::LangidOptions>,
        command: cli::<crate::stages::langid::LangidOptions>(
            "Label documents with their language; keep the wanted languages",
        ),
    },
    Entry {
        name: "clean",
        kind: Kind::Streaming(crate::stages::clean::CleanStage::from_table),
        settings: resolved::<crate::stages::clean::CleanOptions>,
        command: cli::<crate::stages::clean::CleanOptions>(
            "Repair Unicode, normalise whitespace, apply the MT-NLG length rules",
        ),
    },
    Entry {
        name: "quality",
        kind: Kind::Streaming(crate::stages::quality::QualityStage::from_table),
        settings: resolved::<crate::stages::quality::QualityOptions>,
        command: None, // `sieve quality filter` beside `sieve quality train`: cli/quality.rs
    },
    Entry {
        name: "gopher-repetition",
        kind: Kind::Streaming(
            crate::stages::filters::gopher_repetition::GopherRepetitionStage::from_table,
        ),
        settings: resolved::<crate::stages::filters::gopher_repetition::GopherRepetitionOptions>,
        command: cli::<crate::stages::filters::gopher_repetition::GopherRepetitionOptions>(
            "Gopher's repetition rules (datatrove's GopherRepetitionFilter)",
        ),
    },
    Entry {
        name: "gopher-quality",
        kind: Kind::Streaming(
            crate::stages::filters::gopher_quality::GopherQualityStage::from_table,
        ),
        settings: resolved::<crate::stages::filters::gopher_quality::GopherQualityOptions>,
        command: cli::<crate::stages::filters::gopher_quality::GopherQualityOptions>(
            "Gopher's quality rules (datatrove's GopherQualityFilter)",
        ),
    },
    Entry {
        name: "c4-quality",
        kind: Kind::Streaming(crate::stages::filters::c4_quality::C4QualityStage::from_table),
        settings: resolved::<crate::stages::filters::c4_quality::C4QualityOptions>,
        command: cli::<crate::stages::filters::c4_quality::C4QualityOptions>(
            "C4's line and document rules (datatrove's C4QualityFilter)",
        ),
    },
    Entry {
        name: "c4-badwords",
        kind: Kind::Streaming(crate::stages::filters::c4_badwords::C4BadwordsStage::from_table),
        settings: resolved::<crate::stages::filters::c4_badwords::C4BadwordsOptions>,
        command: cli::<crate::stages::filters::c4_badwords::C4BadwordsOptions>(
            "Drop documents with a word of a bad-word list (datatrove's C4BadWordsFilter)",
        ),
    },
    Entry {
        name: "fineweb-quality",
        kind: Kind::Streaming(
            crate::stages::filters::fineweb_quality::FinewebQualityStage::from_table,
        ),
        settings: resolved::<crate::stages::filters::fineweb_quality::FinewebQualityOptions>,
        command: cli::<crate::stages::filters::fineweb_quality::FinewebQualityOptions>(
            "FineWeb's line rules (datatrove's FineWebQualityFilter)",
        ),
    },
    Entry {
        name: "url-filter",
        kind: Kind::Streaming(crate::stages::filters::url_filter::UrlFilterStage::from_table),
        settings: resolved::<crate::stages::filters::url_filter::UrlFilterOptions>,
        command: cli::<crate::stages::filters::url_filter::UrlFilterOptions>(
            "Drop documents by URL: domain, URL and word block lists (datatrove's URLFilter)",
        ),
    },
    Entry {
        name: "pii",
        kind: Kind::Streaming(crate::stages::filters::pii::PiiStage::from_table),
        settings: resolved::<crate::stages::filters::pii::PiiOptions>,
        command: cli::<crate::stages::filters::pii::PiiOptions>(
            "Replace e-mail and public IP addresses (datatrove's PIIFormatter)",
        ),
    },
    Entry {
        name: "dedup",
        kind: Kind::Global(crate::stages::dedup::DedupStage::from_table),
        settings: |_, t| table_of(&crate::stages::dedup::resolved_options(t)?),
        command: None,
    },
    Entry {
        name: "paragraph-dedup",
        kind: Kind::Global(crate::stages::paragraph_dedup::ParagraphDedupGlobal::from_table),
        settings: resolved::<crate::paragraphs::options::ParagraphDedupOptions>,
        command: None, // global steps: cli/paragraph_dedup.rs
    },
    Entry {
        name: "decontam",
        kind: Kind::Global(crate::stages::decontam::DecontamGlobal::from_table),
        settings: resolved::<crate::decontam::options::DecontamOptions>,
        command: None,
    },
    Entry {
        name: "tokenize",
        kind: Kind::Global(crate::stages::tokenize::TokenizeStage::from_table),
        settings: resolved::<crate::tokenize::options::TokenizeOptions>,
        command: None,
    },
    Entry {
        name: "blend",
        kind: Kind::Global(crate::stages::blend::BlendStage::from_table),
        settings: resolved::<crate::blend::options::BlendOptions>,
        command: None,
    },
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
    STAGES.iter().map(|e| e.name).collect()
}

/// The stages that have a command of their own shape, with it.
pub fn commands() -> impl Iterator<Item = (&'static str, &'static StageCli)> {
    STAGES
        .iter()
        .filter_map(|e| e.command.as_ref().map(|c| (e.name, c)))
}

/// The command of stage `name`, if it has one.
pub fn command(name: &str) -> Option<&'static StageCli> {
    commands().find(|(n, _)| *n == name).map(|(_, c)| c)
}

fn lookup(name: &str) -> Result<&'static Entry> {
    match STAGES.iter().find(|e| e.name == name) {
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
    match lookup(&spec.name)?.kind {
        Kind::Global(make) => Ok(Some(make(&spec.options)?)),
        Kind::Streaming(_) => Ok(None),
    }
}

/// Every setting a spec stage will use: its table with the defaults filled in.
pub fn settings(spec: &StageSpec) -> Result<toml::Table> {
    (lookup(&spec.name)?.settings)(&spec.name, &spec.options)
}

/// Checks that every stage is a registered streaming stage and returns a factory building the
/// chain for each shard.
pub fn factory(specs: &[StageSpec]) -> Result<StageFactory> {
    let mut constructors = Vec::new();
    for spec in specs {
        match lookup(&spec.name)?.kind {
            Kind::Streaming(make) => constructors.push((make, spec.options.clone())),
            Kind::Global(_) => bail!("`{}` is not a streaming stage", spec.name),
        }
    }
    Ok(std::sync::Arc::new(move |_stem: &str| {
        constructors.iter().map(|(c, opts)| c(opts)).collect()
    }))
}
