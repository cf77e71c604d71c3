//! The blend spec (`sieve blend --spec BLEND.toml`):
//!
//! ```toml
//! target_tokens = 1_000_000_000   # the whole blend, all splits
//! split = "98,2,0"                # train, valid, test (Megatron's --split syntax)
//! seed = 1234
//! seq_length = 2048
//! rule = "megatron"               # or "bounded" (see indices.rs)
//! [[dataset]]
//! name = "books"
//! path = "tokens/books"           # a `sieve tokenize` output (or one dataset inside it)
//! weight = 0.3
//! max_epochs = 2.0                # optional: fail rather than repeat it more
//! ```

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlendSpec {
    pub target_tokens: u64,
    #[serde(default = "default_split")]
    pub split: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default = "default_seq_length")]
    pub seq_length: u32,
    /// `megatron` (default: Megatron's order exactly) or `bounded` (every prefix within one
    /// sample of every share; not Megatron's order).
    #[serde(default)]
    pub rule: super::indices::BlendRule,
    #[serde(rename = "dataset")]
    pub datasets: Vec<DatasetSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    pub name: String,
    /// Optional inside a pipeline spec, where it defaults to the pipeline's tokens/<name>.
    #[serde(default)]
    pub path: Option<PathBuf>,
    pub weight: f64,
    #[serde(default)]
    pub max_epochs: Option<f64>,
}

fn default_split() -> String {
    "98,2,0".into()
}
fn default_seed() -> u64 {
    1234
}
fn default_seq_length() -> u32 {
    2048
}

impl BlendSpec {
    /// Reads a spec; relative dataset paths are taken relative to the spec's directory.
    pub fn load(path: &Path) -> Result<BlendSpec> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut spec: BlendSpec = toml::from_str(&text)
            .with_context(|| format!("{} is not a blend spec", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for d in &mut spec.datasets {
            if let Some(p) = &d.path {
                if p.is_relative() {
                    d.path = Some(base.join(p));
                }
            }
        }
        spec.validate()
            .with_context(|| format!("in {}", path.display()))?;
        Ok(spec)
    }

    pub fn validate(&self) -> Result<()> {
        if self.datasets.is_empty() {
            bail!("a blend needs at least one [[dataset]]");
        }
        if self.datasets.len() >= i16::MAX as usize {
            bail!("Megatron's dataset index is int16: at most 32,766 datasets");
        }
        if self.seq_length == 0 || self.target_tokens == 0 {
            bail!("seq_length and target_tokens must be positive");
        }
        super::indices::parse_split(&self.split)?;
        let mut names = std::collections::BTreeSet::new();
        for d in &self.datasets {
            if !(d.weight.is_finite() && d.weight > 0.0) {
                bail!("dataset {}: weight must be a positive number", d.name);
            }
            if let Some(e) = d.max_epochs {
                if e.is_nan() || e <= 0.0 {
                    bail!("dataset {}: max_epochs must be positive", d.name);
                }
            }
            if !names.insert(d.name.as_str()) {
                bail!("dataset {} is listed twice", d.name);
            }
        }
        Ok(())
    }

    /// Where dataset `d`'s tokens are: its `path`, or `default_root/<name>`.
    pub fn dataset_path(&self, d: &DatasetSpec, default_root: Option<&Path>) -> Result<PathBuf> {
        match (&d.path, default_root) {
            (Some(p), _) => Ok(p.clone()),
            (None, Some(root)) => Ok(root.join(&d.name)),
            (None, None) => bail!("dataset {} has no path", d.name),
        }
    }
}
