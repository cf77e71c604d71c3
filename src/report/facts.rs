//! What a data card says, read from a run directory's own records: `stats.json` (with the
//! stages' histograms), the tokenize and blend manifests, the dedup components report, the
//! decontamination reports and the step timings. Each part but the stats is optional: a
//! card of a plain `sieve warc` run has a funnel and drops only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;

use crate::blend::manifest::BlendManifest;
use crate::decontam::passes::DecontamConfig;
use crate::dedup::components::Report as DedupReport;
use crate::dedup::config::DedupConfig;
use crate::pipeline::spec::PipelineSpec;
use crate::pipeline::stats::RunStats;
use crate::pipeline::timing::{self, TaskTiming};
use crate::tokenize::step::TokenizeManifest;

/// Settings of the spec that the run's records do not hold.
#[derive(Debug, Clone, Default)]
pub struct SpecFacts {
    /// The Pareto shape of the quality filter (None: threshold mode, or no quality stage).
    pub quality_alpha: Option<f64>,
    pub quality_threshold: Option<f64>,
    /// Languages the langid stage keeps.
    pub langid_keep: Vec<String>,
    /// The langid stage's minimum confidence.
    pub langid_min_score: Option<f64>,
}

impl SpecFacts {
    pub fn of(spec: &PipelineSpec) -> SpecFacts {
        let mut facts = SpecFacts::default();
        for stage in &spec.stages {
            let num = |key: &str| {
                stage.options.get(key).and_then(|v| match v {
                    toml::Value::Float(f) => Some(*f),
                    toml::Value::Integer(i) => Some(*i as f64),
                    _ => None,
                })
            };
            match stage.name.as_str() {
                "quality" => {
                    facts.quality_threshold = num("threshold");
                    if facts.quality_threshold.is_none() {
                        facts.quality_alpha = Some(num("alpha").unwrap_or(3.0));
                    }
                }
                "langid" => {
                    facts.langid_min_score = num("min_score");
                    if let Some(toml::Value::Array(keep)) = stage.options.get("keep") {
                        facts.langid_keep = keep
                            .iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect();
                    }
                }
                _ => {}
            }
        }
        facts
    }
}

/// Time of one step, summed over its tasks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepTime {
    pub step: String,
    pub tasks: usize,
    pub attempts: u32,
    pub wall_seconds: f64,
    pub cpu_seconds: f64,
}

#[derive(Debug, Default)]
pub struct RunFacts {
    /// The run directory's name, for titles.
    pub name: String,
    pub stats: RunStats,
    pub tokens: Option<TokenizeManifest>,
    pub blend: Option<BlendManifest>,
    /// Each dedup work directory's components report and settings, by stage work name
    /// (`dedup`).
    pub dedup: Vec<(String, DedupReport, Option<DedupConfig>)>,
    /// The paragraph dedup report, when the run had that stage.
    pub paragraphs: Option<crate::paragraphs::report::Report>,
    /// The decontamination settings, from its work directory.
    pub decontam_config: Option<DecontamConfig>,
    pub decontam: Option<crate::decontam::summary::Summary>,
    /// Steps in the order they ran (the plan's order, as their first timing appeared).
    pub steps: Vec<StepTime>,
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("{} is not what sieve writes there", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Global stages placed between passes: the name of each is also the name of the
/// per-document stage that leads the pass after it.
const GLOBAL_STAGES: &[&str] = &["dedup", "paragraph-dedup", "decontam"];

impl RunFacts {
    pub fn gather(run: &Path) -> Result<RunFacts> {
        let Some(stats) = read_json::<RunStats>(&run.join("stats.json"))? else {
            bail!(
                "{} has no stats.json: give the output directory of a sieve run",
                run.display()
            );
        };
        let name = std::fs::canonicalize(run)
            .unwrap_or_else(|_| run.to_path_buf())
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| run.display().to_string());
        let mut dedup = Vec::new();
        for dir in sorted_subdirs(&run.join("work")) {
            if let Some(r) = read_json::<DedupReport>(&dir.join("components/report.json"))? {
                let stage = dir.file_name().unwrap().to_string_lossy().into_owned();
                let config = read_json::<DedupConfig>(&dir.join("config.json"))?;
                dedup.push((stage, r, config));
            }
        }
        let paragraphs = read_json(&run.join("work/paragraph-dedup/report.json"))?;
        let decontam = read_json(&run.join("decontam-summary.json"))?;
        let decontam_config = read_json(&run.join("work/decontam/config.json"))?;
        Ok(RunFacts {
            name,
            stats,
            tokens: read_json(&run.join("tokens").join(crate::tokenize::step::MANIFEST))?,
            blend: read_json(&run.join("blend").join("manifest.json"))?,
            dedup,
            paragraphs,
            decontam,
            decontam_config,
            steps: step_times(timing::load_all(run)?),
        })
    }

    /// Tokens written by tokenize, when it ran.
    pub fn total_tokens(&self) -> Option<u64> {
        self.tokens
            .as_ref()
            .map(|t| t.datasets.values().map(|d| d.tokens).sum())
    }

    /// What a step consumed, for its throughput: (amount, unit). Passes and global steps count
    /// the documents entering them, tokenize and blend the tokens they wrote.
    pub fn step_input(&self, step: &str) -> Option<(f64, &'static str)> {
        let docs_in = |stage: &str| self.stats.stage(stage).map(|s| s.docs_in as f64);
        if let Some(k) = step.strip_prefix("pass-") {
            let k: usize = k.parse().ok()?;
            if k == 1 {
                return docs_in("read").map(|d| (d, "documents"));
            }
            // Pass K (K ≥ 2) is led by the (K−1)-th global stage's per-document filter.
            let global = self
                .stats
                .stages
                .iter()
                .filter(|s| GLOBAL_STAGES.contains(&s.name.as_str()))
                .nth(k - 2)?;
            return Some((global.docs_in as f64, "documents"));
        }
        if let Some(stage) = GLOBAL_STAGES.iter().find(|g| {
            step.strip_prefix(**g)
                .is_some_and(|rest| rest.starts_with('-'))
        }) {
            return docs_in(stage).map(|d| (d, "documents"));
        }
        match step {
            "tokenize" => self.total_tokens().map(|t| (t as f64, "tokens")),
            "blend" => self.blend.as_ref().map(|b| {
                let tokens: u64 = b.streams.values().map(|s| s.tokens).sum();
                (tokens as f64, "tokens")
            }),
            _ => None,
        }
    }
}

fn sorted_subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect(),
        Err(_) => Vec::new(),
    };
    dirs.sort();
    dirs
}

/// Sums task timings per step, in the order of the plan they came from.
fn step_times(tasks: Vec<TaskTiming>) -> Vec<StepTime> {
    let mut by_step: BTreeMap<(usize, String), StepTime> = BTreeMap::new();
    for t in tasks {
        let s = by_step
            .entry((t.position, t.step.clone()))
            .or_insert_with(|| StepTime {
                step: t.step.clone(),
                ..Default::default()
            });
        s.tasks += 1;
        s.attempts += t.attempts;
        s.wall_seconds += t.wall_seconds;
        s.cpu_seconds += t.cpu_seconds;
    }
    by_step.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_times_sum_tasks_in_plan_order() {
        let t = |step: &str, position, task, cpu| TaskTiming {
            step: step.into(),
            position,
            task,
            tasks: 2,
            attempts: 1,
            wall_seconds: 1.0,
            cpu_seconds: cpu,
            threads: 1,
        };
        let steps = step_times(vec![
            t("tokenize", 7, 0, 1.0),
            t("pass-2", 5, 1, 2.0),
            t("pass-1", 0, 0, 3.0),
            t("pass-2", 5, 0, 4.0),
        ]);
        let got: Vec<(&str, usize, f64)> = steps
            .iter()
            .map(|s| (s.step.as_str(), s.tasks, s.cpu_seconds))
            .collect();
        assert_eq!(
            got,
            [("pass-1", 1, 3.0), ("pass-2", 2, 6.0), ("tokenize", 1, 1.0)]
        );
    }
}
