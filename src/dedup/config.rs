//! The settings of one dedup work directory, written once to `WORK/config.json` by the first
//! step and checked by every later one, so that steps run as separate tasks cannot mix
//! signatures made with different settings.

use std::path::{Path, PathBuf};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
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

impl std::fmt::Display for Methods {
    /// The names of the chosen relations, comma-separated (what `parse` reads).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let chosen = [
            ("exact", self.exact),
            ("url", self.url),
            ("fuzzy", self.fuzzy),
        ];
        let names: Vec<&str> = chosen.iter().filter(|c| c.1).map(|c| c.0).collect();
        f.write_str(&names.join(","))
    }
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
    /// Indexes of earlier runs whose documents this run's documents are checked against,
    /// highest priority first, each pinned to the generation it had when the run began.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub against: Vec<IndexRef>,
    /// The index this run's kept documents are added to, as a new generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_index: Option<PathBuf>,
}

/// A dedup index a run is checked against: its directory and the number of its generations
/// (segments) the run reads. A run reads the generations the index had when its first step
/// ran, so that every task of the run sees the same index while another run extends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexRef {
    pub path: PathBuf,
    pub generation: usize,
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

    /// Writes the config, or checks that the one already in `work` is the same. The first
    /// write pins each index of `against` to its current generation, after checking that its
    /// layout can serve these settings; later checks compare the index paths only.
    pub fn save_or_check(&self, work: &Path) -> Result<()> {
        self.check()?;
        let path = Self::path(work);
        if path.exists() {
            let existing = Self::load(work)?;
            let unpinned = |c: &DedupConfig| {
                let mut c = c.clone();
                c.against.iter_mut().for_each(|a| a.generation = 0);
                c
            };
            if unpinned(&existing) != unpinned(self) {
                bail!(
                    "{} was written with other settings ({}); use a new work directory or the same settings",
                    path.display(),
                    serde_json::to_string(&existing)?
                );
            }
            return Ok(());
        }
        let mut pinned = self.clone();
        for a in &mut pinned.against {
            // The index this run grows may not exist yet (the first snapshot of a series run
            // with one spec): it is then read as empty.
            let growing = self.write_index.as_ref() == Some(&a.path);
            a.generation = if growing && !super::index::Manifest::exists(&a.path) {
                0
            } else {
                super::index::Manifest::load(&a.path)
                    .and_then(|m| m.usable_by(self))
                    .with_context(|| format!("--against {}", a.path.display()))?
            };
        }
        crate::pipeline::tasks::write_json_shared(&path, &pinned)
    }

    pub fn load(work: &Path) -> Result<DedupConfig> {
        let path = Self::path(work);
        crate::pipeline::tasks::read_step_json(&path, "sieve dedup signatures")
    }
}

/// The dedup settings: the `sieve dedup` flags and the spec's `[[stage]] name = "dedup"`
/// keys are these fields (`--max-bucket-comparisons` is `max_bucket_comparisons`), with the
/// defaults of `Default` for both. [`DedupOptions::config`] resolves the preset into the layout
/// that `WORK/config.json` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct DedupOptions {
    /// Datasets from highest to lowest priority: each group of duplicates keeps the first
    /// document met in the highest-priority dataset. Unlisted datasets rank last.
    #[arg(long, value_delimiter = ',', value_name = "A,B,C")]
    pub priority: Vec<String>,
    /// LSH layout: mtnlg = 20 bands × 13 rows (260 hashes), fineweb = 14 × 8.
    #[arg(long, value_enum, default_value_t = DedupOptions::default().preset)]
    pub preset: Preset,
    /// Override the preset's number of bands.
    #[arg(long)]
    pub bands: Option<usize>,
    /// Override the preset's rows per band.
    #[arg(long)]
    pub rows: Option<usize>,
    /// Shingles: word:N (N consecutive normalised words) or char:N; default: the preset's
    /// (mtnlg: char:5, fineweb: word:5; see docs/stages/dedup.md for the measurements behind it).
    #[arg(long, value_parser = Shingling::parse)]
    pub shingle: Option<Shingling>,
    /// Minimum Jaccard similarity of a verified pair.
    #[arg(long, default_value_t = DedupOptions::default().threshold)]
    pub threshold: f64,
    /// Verify candidates by exact Jaccard of shingle sets or by the signature estimate.
    #[arg(long, value_enum, default_value_t = DedupOptions::default().verify)]
    pub verify: Verify,
    /// Which relations make duplicates (a list in a spec: `["exact", "url"]`).
    #[arg(long, value_parser = Methods::parse, default_value_t = DedupOptions::default().methods)]
    #[serde(with = "method_list")]
    pub methods: Methods,
    /// Seed of the MinHash permutations.
    #[arg(long, default_value_t = DedupOptions::default().seed)]
    pub seed: u64,
    /// Key ranges per band (edges tasks per band = ranges).
    #[arg(long, default_value_t = DedupOptions::default().ranges)]
    pub ranges: usize,
    /// Jaccard computations per bucket before the rest of the bucket is skipped.
    #[arg(long, default_value_t = DedupOptions::default().max_bucket_comparisons)]
    pub max_bucket_comparisons: u64,
    /// Dedup indexes of earlier runs (`write_index`): documents duplicating an indexed one are
    /// dropped (`duplicate_of_index`). Repeat the flag for several; earlier ones rank higher.
    #[arg(long, value_name = "INDEX")]
    pub against: Vec<PathBuf>,
    /// Add the documents this run keeps to this index (created if absent) as a new
    /// generation, for later runs' `against`.
    #[arg(long, value_name = "INDEX")]
    pub write_index: Option<PathBuf>,
}

impl Default for DedupOptions {
    fn default() -> Self {
        DedupOptions {
            priority: Vec::new(),
            preset: Preset::Mtnlg,
            bands: None,
            rows: None,
            shingle: None,
            threshold: 0.8,
            verify: Verify::Exact,
            methods: Methods {
                exact: true,
                url: true,
                fuzzy: true,
            },
            seed: 1,
            ranges: 1,
            max_bucket_comparisons: 1_000_000,
            against: Vec::new(),
            write_index: None,
        }
    }
}

/// `methods` in a spec: a list of names, as on the command line.
mod method_list {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Methods;

    pub fn serialize<S: Serializer>(m: &Methods, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.to_string().split(','))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Methods, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        Methods::parse(&names.join(",")).map_err(serde::de::Error::custom)
    }
}

impl DedupOptions {
    /// Reads a pipeline spec's dedup stage table.
    pub fn from_table(table: &toml::Table) -> Result<DedupOptions> {
        crate::pipeline::spec::stage_options("dedup", table)
    }

    /// The layout and rules these options give (the preset resolved), checked.
    pub fn config(&self) -> Result<DedupConfig> {
        let (bands, rows) = self.preset.bands_rows();
        let cfg = DedupConfig {
            shingling: self.shingle.unwrap_or(self.preset.shingling()),
            bands: self.bands.unwrap_or(bands),
            rows: self.rows.unwrap_or(rows),
            seed: self.seed,
            threshold: self.threshold,
            verify: self.verify,
            methods: self.methods,
            priority: self.priority.clone(),
            ranges: self.ranges,
            max_bucket_comparisons: self.max_bucket_comparisons,
            against: self
                .against
                .iter()
                .map(|path| IndexRef {
                    path: path.clone(),
                    generation: 0,
                })
                .collect(),
            write_index: self.write_index.clone(),
        };
        cfg.check()?;
        Ok(cfg)
    }
}

impl DedupConfig {
    /// Reads a pipeline spec's dedup stage table.
    pub fn from_table(table: &toml::Table) -> Result<DedupConfig> {
        DedupOptions::from_table(table)?.config()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid configuration to vary one field at a time.
    fn base() -> DedupConfig {
        DedupOptions::default().config().unwrap()
    }

    fn table(toml_text: &str) -> toml::Table {
        toml_text.parse().unwrap()
    }

    #[test]
    fn presets_are_the_papers_and_datatroves_layouts() {
        // MT-NLG: 260 hashes = 20 bands of 13 rows; datatrove's FineWeb: 14 × 8 = 112.
        assert_eq!(Preset::Mtnlg.bands_rows(), (20, 13));
        assert_eq!(Preset::Fineweb.bands_rows(), (14, 8));
        assert_eq!(Preset::Mtnlg.shingling(), Shingling::Chars(5));
        assert_eq!(Preset::Fineweb.shingling(), Shingling::Words(5));
        let cfg = base();
        assert_eq!((cfg.bands, cfg.rows, cfg.num_perm()), (20, 13, 260));
        let small = DedupConfig {
            bands: 3,
            rows: 2,
            ..base()
        };
        assert_eq!(small.num_perm(), 6);
    }

    #[test]
    fn methods_parse_and_print_the_same_names() {
        let m = Methods::parse(" url , fuzzy ,").unwrap();
        assert_eq!(
            m,
            Methods {
                exact: false,
                url: true,
                fuzzy: true,
            }
        );
        assert_eq!(m.to_string(), "url,fuzzy");
        for one in ["exact", "url", "fuzzy"] {
            let m = Methods::parse(one).unwrap();
            assert_eq!(m.to_string(), one);
            assert_eq!(
                [m.exact, m.url, m.fuzzy].iter().filter(|&&b| b).count(),
                1,
                "{one}"
            );
        }
        assert!(Methods::parse("exact,minhash").is_err());
        assert!(Methods::parse("").is_err());
        assert!(Methods::parse(" , ").is_err());
    }

    #[test]
    fn each_limit_accepts_its_last_value_and_refuses_the_next() {
        let ok = |c: DedupConfig| c.check().is_ok();
        assert!(ok(DedupConfig { bands: 1, ..base() }));
        assert!(!ok(DedupConfig { bands: 0, ..base() }));
        assert!(ok(DedupConfig { rows: 1, ..base() }));
        assert!(!ok(DedupConfig { rows: 0, ..base() }));
        assert!(ok(DedupConfig { rows: 64, ..base() }));
        assert!(!ok(DedupConfig { rows: 65, ..base() }));
        for t in [0.0, 0.8, 1.0] {
            assert!(
                ok(DedupConfig {
                    threshold: t,
                    ..base()
                }),
                "{t}"
            );
        }
        for t in [-0.01, 1.01, f64::NAN] {
            assert!(
                !ok(DedupConfig {
                    threshold: t,
                    ..base()
                }),
                "{t}"
            );
        }
        assert!(ok(DedupConfig {
            ranges: 1,
            ..base()
        }));
        assert!(!ok(DedupConfig {
            ranges: 0,
            ..base()
        }));
        assert!(ok(DedupConfig {
            ranges: 4096,
            ..base()
        }));
        assert!(!ok(DedupConfig {
            ranges: 4097,
            ..base()
        }));
        let names = |n: usize| (0..n).map(|i| format!("d{i}")).collect::<Vec<_>>();
        assert!(ok(DedupConfig {
            priority: names(250),
            ..base()
        }));
        assert!(!ok(DedupConfig {
            priority: names(251),
            ..base()
        }));
    }

    #[test]
    fn unlisted_datasets_rank_after_every_listed_one() {
        let cfg = DedupConfig {
            priority: vec!["wiki".into(), "books".into(), "cc".into()],
            ..base()
        };
        assert_eq!(cfg.rank("wiki"), 0);
        assert_eq!(cfg.rank("books"), 1);
        assert_eq!(cfg.rank("cc"), 2);
        assert_eq!(cfg.rank("forum"), 3);
        assert_eq!(base().rank("anything"), 0);
    }

    #[test]
    fn a_work_directory_keeps_its_first_settings() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = DedupConfig {
            threshold: 0.7,
            priority: vec!["a".into()],
            ..base()
        };
        cfg.save_or_check(dir.path()).unwrap();
        assert_eq!(
            DedupConfig::path(dir.path()),
            dir.path().join("config.json")
        );
        assert_eq!(DedupConfig::load(dir.path()).unwrap(), cfg);
        // The same settings again: accepted; any other: refused, the file unchanged.
        cfg.save_or_check(dir.path()).unwrap();
        let other = DedupConfig {
            threshold: 0.75,
            ..cfg.clone()
        };
        let err = other.save_or_check(dir.path()).unwrap_err().to_string();
        assert!(err.contains("other settings"), "{err}");
        assert_eq!(DedupConfig::load(dir.path()).unwrap(), cfg);
        // Settings that fail their check are refused before anything is compared or written.
        let fresh = tempfile::tempdir().unwrap();
        assert!(DedupConfig { rows: 0, ..base() }
            .save_or_check(fresh.path())
            .is_err());
        assert!(!DedupConfig::path(fresh.path()).exists());
        assert!(DedupConfig::load(fresh.path()).is_err());
    }

    #[test]
    fn a_growing_index_that_does_not_exist_yet_is_read_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let index = dir.path().join("index");
        let grows = DedupConfig {
            against: vec![IndexRef {
                path: index.clone(),
                generation: 7,
            }],
            write_index: Some(index.clone()),
            ..base()
        };
        grows.save_or_check(&dir.path().join("w1")).unwrap();
        let saved = DedupConfig::load(&dir.path().join("w1")).unwrap();
        assert_eq!(saved.against[0].generation, 0);
        // The same missing index read without growing it: refused, naming it.
        let reads = DedupConfig {
            write_index: None,
            ..grows.clone()
        };
        let err = format!(
            "{:#}",
            reads.save_or_check(&dir.path().join("w2")).unwrap_err()
        );
        assert!(err.contains("--against"), "{err}");
        // Growing another index does not excuse a missing one.
        let other = DedupConfig {
            write_index: Some(dir.path().join("elsewhere")),
            ..grows
        };
        assert!(other.save_or_check(&dir.path().join("w3")).is_err());
    }

    #[test]
    fn a_spec_table_gives_the_same_settings_as_the_flags() {
        let cfg = DedupConfig::from_table(&table(
            r#"
            preset = "fineweb"
            threshold = 0.7
            methods = ["exact", "fuzzy"]
            priority = ["wiki"]
            rows = 4
            "#,
        ))
        .unwrap();
        assert_eq!((cfg.bands, cfg.rows), (14, 4));
        assert_eq!(cfg.shingling, Shingling::Words(5));
        assert_eq!(cfg.threshold, 0.7);
        assert_eq!(
            cfg.methods,
            Methods {
                exact: true,
                url: false,
                fuzzy: true
            }
        );
        assert_eq!(cfg.priority, ["wiki"]);
        let options = DedupOptions::from_table(&table("shingle = \"word:3\"\nbands = 2")).unwrap();
        assert_eq!(options.shingle, Some(Shingling::Words(3)));
        let cfg = options.config().unwrap();
        assert_eq!(
            (cfg.bands, cfg.rows, cfg.shingling),
            (2, 13, Shingling::Words(3))
        );
        // The spec's methods are a list of names, written back the same way.
        let written = toml::Table::try_from(&options).unwrap();
        assert_eq!(
            written["methods"],
            toml::Value::Array(vec!["exact".into(), "url".into(), "fuzzy".into()])
        );
        assert_eq!(DedupOptions::from_table(&written).unwrap(), options);
        assert!(DedupOptions::from_table(&table("methods = [\"mh\"]")).is_err());
        assert!(DedupConfig::from_table(&table("rows = 65")).is_err());
    }
}
