//! The settings of one dedup work directory, written once to `WORK/config.json` by the first
//! step and checked by every later one, so that steps run as separate tasks cannot mix
//! signatures made with different settings.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::shingle::Shingling;

/// How candidate pairs from a shared LSH bucket are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Verify {
    /// Exact Jaccard of the two shingle sets (stored by `signatures`).
    Exact,
    /// The share of equal MinHash values (no shingle sets stored; ±0.025 at J = 0.8).
    Estimate,
}

/// LSH layouts named after the pipelines that used them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// MT-NLG: 260 hashes in 20 bands × 13 rows (S-curve midpoint ≈ 0.79).
    Mtnlg,
    /// FineWeb / datatrove: 112 hashes in 14 bands × 8 rows (midpoint ≈ 0.72).
    Fineweb,
}

impl Preset {
    pub fn bands_rows(self) -> (usize, usize) {
        match self {
            Preset::Mtnlg => (20, 13),
            Preset::Fineweb => (14, 8),
        }
    }

    /// The default shingles. MT-NLG: character 5-grams (the Megatron scripts' choice, and on
    /// `sieve eval dedup` the better recall of lightly edited copies at equal precision);
    /// FineWeb: word 5-grams, as datatrove uses.
    pub fn shingling(self) -> Shingling {
        match self {
            Preset::Mtnlg => Shingling::Chars(5),
            Preset::Fineweb => Shingling::Words(5),
        }
    }
}

/// Which duplicate relations build the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Methods {
    pub exact: bool,
    pub url: bool,
    pub fuzzy: bool,
}

impl Methods {
    pub fn parse(s: &str) -> Result<Methods> {
        let mut m = Methods {
            exact: false,
            url: false,
            fuzzy: false,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "exact" => m.exact = true,
                "url" => m.url = true,
                "fuzzy" => m.fuzzy = true,
                other => bail!("unknown dedup method `{other}` (use exact, url, fuzzy)"),
            }
        }
        if !(m.exact || m.url || m.fuzzy) {
            bail!("no dedup method chosen (use some of exact, url, fuzzy)");
        }
        Ok(m)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupConfig {
    pub shingling: Shingling,
    pub bands: usize,
    pub rows: usize,
    /// Seed of the MinHash permutations.
    pub seed: u64,
    /// Verified pairs need a Jaccard at least this high.
    pub threshold: f64,
    pub verify: Verify,
    pub methods: Methods,
    /// Dataset names, highest priority first; unlisted datasets come after all listed ones.
    pub priority: Vec<String>,
    /// Key-range partitions per band: the number of `edges` tasks per band.
    pub ranges: usize,
    /// Jaccard computations allowed per bucket before the rest of it is skipped (counted).
    pub max_bucket_comparisons: u64,
}

impl DedupConfig {
    pub fn num_perm(&self) -> usize {
        self.bands * self.rows
    }

    pub fn check(&self) -> Result<()> {
        if self.bands == 0 || self.rows == 0 || self.rows > 64 {
            bail!("bands must be ≥ 1 and rows from 1 to 64");
        }
        if !(0.0..=1.0).contains(&self.threshold) {
            bail!("the Jaccard threshold must be in [0, 1]");
        }
        if self.ranges == 0 || self.ranges > 4096 {
            bail!("ranges must be from 1 to 4096");
        }
        if self.priority.len() > 250 {
            bail!("at most 250 datasets can be ranked by priority");
        }
        Ok(())
    }

    /// The rank of a dataset: its position in `priority`, or after every listed dataset.
    pub fn rank(&self, dataset: &str) -> u8 {
        self.priority
            .iter()
            .position(|d| d == dataset)
            .unwrap_or(self.priority.len()) as u8
    }

    pub fn path(work: &Path) -> std::path::PathBuf {
        work.join("config.json")
    }

    /// Writes the config, or checks that the one already in `work` is the same.
    pub fn save_or_check(&self, work: &Path) -> Result<()> {
        self.check()?;
        let path = Self::path(work);
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

    pub fn load(work: &Path) -> Result<DedupConfig> {
        let path = Self::path(work);
        let text = std::fs::read(&path).with_context(|| {
            format!(
                "cannot read {} (run `sieve dedup signatures` first)",
                path.display()
            )
        })?;
        serde_json::from_slice(&text).with_context(|| format!("{} is not valid", path.display()))
    }
}

/// The `[[stage]] name = "dedup"` table of a pipeline spec; the same settings and defaults as
/// the `sieve dedup` flags.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StageOptions {
    #[serde(default)]
    priority: Vec<String>,
    #[serde(default = "default_preset")]
    preset: String,
    bands: Option<usize>,
    rows: Option<usize>,
    shingle: Option<String>,
    #[serde(default = "default_threshold")]
    threshold: f64,
    #[serde(default = "default_verify")]
    verify: Verify,
    #[serde(default = "default_methods")]
    methods: Vec<String>,
    #[serde(default = "default_seed")]
    seed: u64,
    #[serde(default = "default_ranges")]
    ranges: usize,
    #[serde(default = "default_max_comparisons")]
    max_bucket_comparisons: u64,
}

fn default_preset() -> String {
    "mtnlg".into()
}
fn default_threshold() -> f64 {
    0.8
}
fn default_verify() -> Verify {
    Verify::Exact
}
fn default_methods() -> Vec<String> {
    vec!["exact".into(), "url".into(), "fuzzy".into()]
}
fn default_seed() -> u64 {
    1
}
fn default_ranges() -> usize {
    1
}
fn default_max_comparisons() -> u64 {
    1_000_000
}

impl DedupConfig {
    /// Reads a pipeline spec's dedup stage table.
    pub fn from_table(table: &toml::Table) -> Result<DedupConfig> {
        let o: StageOptions = table
            .clone()
            .try_into()
            .context("bad options for the dedup stage")?;
        let preset = match o.preset.as_str() {
            "mtnlg" => Preset::Mtnlg,
            "fineweb" => Preset::Fineweb,
            other => bail!("unknown dedup preset `{other}` (use mtnlg or fineweb)"),
        };
        let (bands, rows) = preset.bands_rows();
        let cfg = DedupConfig {
            shingling: match &o.shingle {
                Some(s) => Shingling::parse(s)?,
                None => preset.shingling(),
            },
            bands: o.bands.unwrap_or(bands),
            rows: o.rows.unwrap_or(rows),
            seed: o.seed,
            threshold: o.threshold,
            verify: o.verify,
            methods: Methods::parse(&o.methods.join(","))?,
            priority: o.priority,
            ranges: o.ranges,
            max_bucket_comparisons: o.max_bucket_comparisons,
        };
        cfg.check()?;
        Ok(cfg)
    }
}
