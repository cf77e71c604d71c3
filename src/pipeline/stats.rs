//! Per-stage counters. They are plain values that add up, so per-shard stats merge into a
//! run's `stats.json` by summing, in any order, with the same result.

use std::collections::BTreeMap;
use std::ops::AddAssign;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Counters of one stage (or of reading, under the name `read`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageStats {
    pub name: String,
    pub docs_in: u64,
    pub bytes_in: u64,
    pub docs_out: u64,
    pub bytes_out: u64,
    /// Documents removed on purpose, by reason.
    #[serde(default)]
    pub dropped: BTreeMap<String, u64>,
    /// Broken input or failed processing, by kind.
    #[serde(default)]
    pub errors: BTreeMap<String, u64>,
    /// Histograms a stage keeps about the documents it saw (`lang` → language → documents,
    /// quality `score` bins), for the data card. Counts, so they sum like the rest.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tallies: BTreeMap<String, BTreeMap<String, u64>>,
}

impl StageStats {
    pub fn new(name: &str) -> Self {
        StageStats {
            name: name.to_string(),
            ..Default::default()
        }
    }

    pub fn drop_reason(&mut self, reason: &str) {
        *self.dropped.entry(reason.to_string()).or_default() += 1;
    }

    pub fn error(&mut self, kind: &str) {
        *self.errors.entry(kind.to_string()).or_default() += 1;
    }

    pub fn tally(&mut self, histogram: &str, bucket: &str) {
        let h = match self.tallies.get_mut(histogram) {
            Some(h) => h,
            None => self.tallies.entry(histogram.to_string()).or_default(),
        };
        match h.get_mut(bucket) {
            Some(n) => *n += 1,
            None => {
                h.insert(bucket.to_string(), 1);
            }
        }
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    pub fn errors_total(&self) -> u64 {
        self.errors.values().sum()
    }
}

impl AddAssign<&StageStats> for StageStats {
    fn add_assign(&mut self, o: &StageStats) {
        self.docs_in += o.docs_in;
        self.bytes_in += o.bytes_in;
        self.docs_out += o.docs_out;
        self.bytes_out += o.bytes_out;
        for (k, v) in &o.dropped {
            *self.dropped.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        for (name, h) in &o.tallies {
            let mine = self.tallies.entry(name.clone()).or_default();
            for (k, v) in h {
                *mine.entry(k.clone()).or_default() += v;
            }
        }
    }
}

/// The stats of one shard or of a whole run: reading first, then each stage in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStats {
    /// Input shards these counters cover.
    pub shards: u64,
    pub stages: Vec<StageStats>,
    /// Inputs that could not be read at all (no output, no marker: a re-run tries them
    /// again), with the reason, by input.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failed_inputs: BTreeMap<String, String>,
}

impl AddAssign<&RunStats> for RunStats {
    fn add_assign(&mut self, o: &RunStats) {
        self.shards += o.shards;
        self.failed_inputs
            .extend(o.failed_inputs.iter().map(|(k, v)| (k.clone(), v.clone())));
        for s in &o.stages {
            match self.stages.iter_mut().find(|x| x.name == s.name) {
                Some(mine) => *mine += s,
                None => self.stages.push(s.clone()),
            }
        }
    }
}

impl RunStats {
    pub fn stage(&self, name: &str) -> Option<&StageStats> {
        self.stages.iter().find(|s| s.name == name)
    }

    pub fn load(path: &Path) -> Result<RunStats> {
        let text =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_slice(&text)
            .with_context(|| format!("{} is not a stats file", path.display()))
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("stats serialize");
        v.push(b'\n');
        v
    }

    /// One line per stage, for logs and `sieve inspect`.
    pub fn table(&self) -> String {
        // As wide as the longest stage name (`gopher-repetition`), so the columns line up.
        let w = self
            .stages
            .iter()
            .map(|s| s.name.len())
            .max()
            .unwrap_or(0)
            .max(12);
        let mut out = format!(
            "{:<w$} {:>10} {:>10} {:>12} {:>12}  drops / errors\n",
            "stage", "docs in", "docs out", "MB in", "MB out"
        );
        for s in &self.stages {
            let mut notes: Vec<String> =
                s.dropped.iter().map(|(k, v)| format!("{k}={v}")).collect();
            notes.extend(s.errors.iter().map(|(k, v)| format!("error:{k}={v}")));
            out.push_str(&format!(
                "{:<w$} {:>10} {:>10} {:>12.2} {:>12.2}  {}\n",
                s.name,
                s.docs_in,
                s.docs_out,
                s.bytes_in as f64 / 1e6,
                s.bytes_out as f64 / 1e6,
                notes.join(" ")
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_is_order_independent() {
        let mut a = RunStats {
            failed_inputs: BTreeMap::new(),
            shards: 1,
            stages: vec![StageStats::new("read")],
        };
        a.stages[0].docs_in = 3;
        a.stages[0].drop_reason("x");
        let mut b = RunStats {
            failed_inputs: BTreeMap::new(),
            shards: 1,
            stages: vec![StageStats::new("read"), StageStats::new("clean")],
        };
        b.stages[0].docs_in = 4;
        b.stages[0].drop_reason("x");
        b.stages[1].error("boom");
        a.stages[0].tally("lang", "en");
        b.stages[0].tally("lang", "en");
        b.stages[0].tally("lang", "de");
        let mut ab = RunStats::default();
        ab += &a;
        ab += &b;
        let mut ba = RunStats::default();
        ba += &b;
        ba += &a;
        assert_eq!(ab.stage("read"), ba.stage("read"));
        assert_eq!(ab.stage("read").unwrap().docs_in, 7);
        assert_eq!(ab.stage("read").unwrap().dropped["x"], 2);
        assert_eq!(ab.stage("clean").unwrap().errors["boom"], 1);
        assert_eq!(ab.shards, 2);
        let langs = &ab.stage("read").unwrap().tallies["lang"];
        assert_eq!((langs["en"], langs["de"]), (2, 1));
    }
}
