//! Pipeline specs: a TOML file naming the inputs, the ordered stages and the output.
//!
//! ```toml
//! [[input]]
//! dataset = "web"
//! kind = "warc"                 # warc | shards | import
//! paths = ["crawl/*.warc.gz"]   # files, directories, globs, *.paths listings, URLs
//!
//! [output]
//! dir = "out/web"
//! format = "parquet"            # parquet | jsonl | jsonl-gz | jsonl-zst
//!
//! [[stage]]                     # in order; an empty list just converts
//! name = "..."
//! ```
//!
//! Relative paths are relative to the spec file, so a spec can be run from anywhere.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::io::shards::ShardFormat;
use crate::io::source::{resolve, InputKind, Resolve};
use crate::pipeline::runner::{disambiguate_stems, jobs_for, Job};
use crate::read::corpus::ImportSpec;
use crate::read::SourceSpec;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum InputSpecKind {
    Warc,
    Shards,
    Import,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub kind: InputSpecKind,
    pub paths: Vec<String>,
    /// Required for `warc` and `import`; shards carry their own.
    pub dataset: Option<String>,
    pub text_field: Option<String>,
    pub url_field: Option<String>,
    #[serde(default)]
    pub meta_fields: Vec<String>,
    /// Base for relative paths in `*.paths` listings.
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    pub dir: PathBuf,
    #[serde(default = "default_format")]
    pub format: ShardFormat,
    #[serde(default)]
    pub write_rejected: bool,
    /// `s3://bucket/prefix` the finished run is copied to (the plan's `publish` step).
    #[serde(default)]
    pub publish: Option<String>,
}

fn default_format() -> ShardFormat {
    ShardFormat::Parquet
}

/// A stage's `[[stage]]` table read as its options type (unknown keys are errors).
pub fn stage_options<T: serde::de::DeserializeOwned>(
    stage: &str,
    table: &toml::Table,
) -> Result<T> {
    table
        .clone()
        .try_into()
        .with_context(|| format!("bad options for the {stage} stage"))
}

/// One stage: its registered name and its options.
#[derive(Debug, Clone, Deserialize)]
pub struct StageSpec {
    pub name: String,
    #[serde(flatten)]
    pub options: toml::Table,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    #[serde(rename = "input")]
    pub inputs: Vec<InputSpec>,
    pub output: OutputSpec,
    #[serde(default, rename = "stage")]
    pub stages: Vec<StageSpec>,
    /// Resources for `sieve slurm submit`.
    #[serde(default)]
    pub slurm: SlurmSpec,
    /// Where relative paths are anchored (the spec's directory).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

impl PipelineSpec {
    pub fn load(path: &Path) -> Result<PipelineSpec> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read pipeline spec {}", path.display()))?;
        let mut spec: PipelineSpec = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid pipeline spec", path.display()))?;
        spec.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if spec.inputs.is_empty() {
            bail!("{}: the spec names no [[input]]", path.display());
        }
        // Model, task-set and blend-spec paths in stage options are relative to the spec, like every
        // other path.
        let base = spec.base_dir.clone();
        for stage in &mut spec.stages {
            for (key, value) in stage.options.iter_mut() {
                let one =
                    key == "model" || key.ends_with("_model") || key == "tasks" || key == "spec";
                // The URL filter's block lists (`domain_lists`, ...) are lists of files.
                let many = key.ends_with("_lists");
                let anchor = |p: &mut String| {
                    if Path::new(p.as_str()).is_relative() {
                        *p = normalize(&base.join(p.as_str()))
                            .to_string_lossy()
                            .into_owned();
                    }
                };
                match value {
                    toml::Value::String(p) if one => anchor(p),
                    toml::Value::Array(items) if many => {
                        for item in items {
                            if let toml::Value::String(p) = item {
                                anchor(p);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(spec)
    }

    /// Points inputs at other data: each override is `DATASET=PATH[,PATH...]` and replaces the
    /// paths of the spec's input of that dataset (paths as given, relative to the current
    /// directory; the input's `base_url` no longer applies).
    pub fn override_inputs(&mut self, overrides: &[String]) -> Result<()> {
        for o in overrides {
            let Some((dataset, paths)) = o.split_once('=') else {
                bail!("--input {o}: expected DATASET=PATH[,PATH...]");
            };
            let datasets: Vec<String> = self
                .inputs
                .iter()
                .filter_map(|i| i.dataset.clone())
                .collect();
            let input = self
                .inputs
                .iter_mut()
                .find(|i| i.dataset.as_deref() == Some(dataset))
                .with_context(|| {
                    format!(
                        "--input {o}: the spec has no input of dataset `{dataset}` (it has: {})",
                        datasets.join(", ")
                    )
                })?;
            input.paths = paths
                .split(',')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    if Path::new(p).is_relative() && !p.contains("://") {
                        std::path::absolute(p).map(|a| a.to_string_lossy().into_owned())
                    } else {
                        Ok(p.to_string())
                    }
                })
                .collect::<std::io::Result<_>>()?;
            input.base_url = None;
        }
        Ok(())
    }

    fn anchor(&self, p: &str) -> String {
        let is_remote = p.starts_with("http://") || p.starts_with("https://");
        if is_remote || Path::new(p).is_absolute() {
            p.to_string()
        } else {
            normalize(&self.base_dir.join(p))
                .to_string_lossy()
                .into_owned()
        }
    }

    pub fn output_dir(&self) -> PathBuf {
        if self.output.dir.is_absolute() {
            self.output.dir.clone()
        } else {
            normalize(&self.base_dir.join(&self.output.dir))
        }
    }

    /// Resolves every input into jobs. With several inputs, stems are prefixed by dataset
    /// (or by input number for shards) so that their outputs cannot collide.
    pub fn jobs(&self) -> Result<Vec<Job>> {
        let mut jobs = Vec::new();
        let many = self.inputs.len() > 1;
        for (i, input) in self.inputs.iter().enumerate() {
            let need_dataset = || {
                input.dataset.clone().with_context(|| {
                    format!("input {} (kind {:?}) needs a `dataset`", i + 1, input.kind)
                })
            };
            let (source, kind) = match input.kind {
                InputSpecKind::Warc => (
                    SourceSpec::Warc {
                        dataset: need_dataset()?,
                    },
                    InputKind::Warc,
                ),
                InputSpecKind::Shards => (SourceSpec::Shards, InputKind::Shards),
                InputSpecKind::Import => {
                    let mut s = ImportSpec::new(&need_dataset()?);
                    if let Some(f) = &input.text_field {
                        s.text_field = f.clone();
                    }
                    if let Some(f) = &input.url_field {
                        s.url_field = f.clone();
                    }
                    s.meta_fields = input.meta_fields.clone();
                    (SourceSpec::Import(s), InputKind::Shards)
                }
            };
            let mut opts = Resolve {
                kind,
                ..Default::default()
            };
            if let Some(b) = &input.base_url {
                opts.base_url = self.anchor(b);
            }
            let paths: Vec<String> = input.paths.iter().map(|p| self.anchor(p)).collect();
            let inputs = resolve(&paths, &opts)?;
            let prefix = many.then(|| {
                input
                    .dataset
                    .clone()
                    .unwrap_or_else(|| format!("input{}", i + 1))
            });
            jobs.extend(jobs_for(inputs, &source, prefix.as_deref()));
        }
        disambiguate_stems(&mut jobs);
        Ok(jobs)
    }
}

/// Removes `.` and `dir/..` pairs without touching the file system, so that paths in logs
/// read `data-samples/web` rather than `pipelines/../data-samples/web`.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.is_empty() {
        PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn normalize_removes_parent_pairs() {
        use super::normalize;
        use std::path::Path;
        assert_eq!(
            normalize(Path::new("pipelines/../data/x")),
            Path::new("data/x")
        );
        assert_eq!(normalize(Path::new("../a/./b")), Path::new("../a/b"));
        assert_eq!(normalize(Path::new("a/..")), Path::new("."));
    }

    use super::*;

    #[test]
    fn parses_a_spec_with_stage_options() {
        let spec: PipelineSpec = toml::from_str(
            r#"
            [[input]]
            kind = "warc"
            dataset = "web"
            paths = ["a.warc.gz"]
            [output]
            dir = "out"
            format = "jsonl-zst"
            [[stage]]
            name = "clean"
            min_chars = 512
            "#,
        )
        .unwrap();
        assert_eq!(spec.output.format, ShardFormat::JsonlZst);
        assert_eq!(spec.stages[0].name, "clean");
        assert_eq!(spec.stages[0].options["min_chars"].as_integer(), Some(512));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let r: Result<PipelineSpec, _> =
            toml::from_str("[[input]]\nkind='warc'\npaths=[]\n[output]\ndir='o'\nfromat='jsonl'\n");
        assert!(r.is_err());
    }
}

/// `[slurm]`: defaults for every step's job array, and `[slurm.steps.NAME]` for one step (a
/// step name such as `dedup-edges`, or a stage name such as `dedup` for all of its steps),
/// because steps differ: extraction wants cores, dedup's reduce wants memory.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmSpec {
    pub partition: Option<String>,
    /// Defaults for every step: `--time`, `--mem`, `--cpus-per-task`.
    pub time: Option<String>,
    pub mem: Option<String>,
    pub cpus: Option<usize>,
    /// Most tasks of one array running at once (`%N`).
    pub array_parallelism: Option<usize>,
    /// Most tasks per step: a map step's shards are spread over at most this many tasks.
    pub tasks_per_step: Option<usize>,
    #[serde(default)]
    pub steps: std::collections::BTreeMap<String, SlurmResources>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SlurmResources {
    /// `--time`, e.g. `"4:00:00"`.
    pub time: Option<String>,
    /// `--mem`, e.g. `"16G"`.
    pub mem: Option<String>,
    /// `--cpus-per-task`.
    pub cpus: Option<usize>,
}
