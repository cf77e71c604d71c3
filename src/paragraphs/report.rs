//! Step 3 (one task): the partitions' figures summed, and the most repeated units with their
//! text (read back from the first document holding each), in `WORK/report.json`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::count::shard_stems;
use super::layout;
use super::merge::{keep_top, MergeStats, Repeated};
use super::options::ParagraphDedupOptions;
use crate::dedup::files::id_hash;
use crate::pipeline::runner::Job;
use crate::pipeline::tasks::{read_step_json, write_json};
use crate::read::ReadItem;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TopUnit {
    pub text: String,
    pub copies: u64,
    pub documents: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Report {
    pub documents: u64,
    /// Every unit, and those long enough to be matched.
    pub units: u64,
    pub matched_units: u64,
    /// Bytes of every unit.
    pub bytes: u64,
    pub distinct_units: u64,
    /// Distinct units seen more than once, and more than `max_copies` times.
    pub repeated_units: u64,
    pub units_over_max: u64,
    pub removed_units: u64,
    pub removed_bytes: u64,
    /// removed_bytes / bytes.
    pub removed_share: f64,
    pub top: Vec<TopUnit>,
    pub settings: Option<ParagraphDedupOptions>,
}

#[derive(Deserialize)]
struct CountStats {
    documents: u64,
    units: u64,
    matched_units: u64,
    bytes: u64,
}

pub fn run(work: &Path, jobs: &[Job]) -> Result<Report> {
    let options = ParagraphDedupOptions::load(work)?;
    let stems = shard_stems(work)?;
    let mut report = Report {
        settings: Some(options.clone()),
        ..Default::default()
    };
    for stem in &stems {
        let c: CountStats =
            read_step_json(&layout::count_stats(work, stem), "sieve paragraph-dedup")?;
        report.documents += c.documents;
        report.units += c.units;
        report.matched_units += c.matched_units;
        report.bytes += c.bytes;
    }
    let mut top: Vec<Repeated> = Vec::new();
    for p in 0..options.partitions {
        let path = layout::merge_stats(work, p);
        if !path.exists() {
            bail!("paragraph-dedup: partition {p} has not been merged; run the merge step first");
        }
        let m: MergeStats = read_step_json(&path, "sieve paragraph-dedup")?;
        report.distinct_units += m.keys;
        report.repeated_units += m.repeated_keys;
        report.units_over_max += m.keys_over_max;
        report.removed_units += m.removed_units;
        report.removed_bytes += m.removed_bytes;
        top.extend(m.top);
    }
    report.removed_share = report.removed_bytes as f64 / report.bytes.max(1) as f64;
    keep_top(&mut top);
    report.top = texts_of(&options, &stems, jobs, &top)?;
    write_json(&layout::report(work), &report)?;
    Ok(report)
}

/// The text of each repeated unit, from the first document holding it: each shard named is
/// read once, up to its last wanted document.
fn texts_of(
    options: &ParagraphDedupOptions,
    stems: &[String],
    jobs: &[Job],
    top: &[Repeated],
) -> Result<Vec<TopUnit>> {
    let mut by_shard: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, r) in top.iter().enumerate() {
        by_shard.entry(r.first_shard).or_default().push(i);
    }
    let mut texts = vec![String::new(); top.len()];
    for (shard, wanted) in by_shard {
        let stem = &stems[shard as usize];
        let job = jobs
            .iter()
            .find(|j| &j.stem == stem)
            .ok_or_else(|| anyhow::anyhow!("paragraph-dedup report: no input shard {stem}"))?;
        let mut left = wanted.len();
        for item in job.source.open(&job.input)? {
            let ReadItem::Doc(d) = item else { continue };
            let h = id_hash(&d.id);
            for &i in &wanted {
                if top[i].first_id_hash == h && texts[i].is_empty() {
                    let unit = options.split.units(&d.text).nth(top[i].first_unit as usize);
                    texts[i] = unit.unwrap_or_default().trim().to_string();
                    left -= 1;
                }
            }
            if left == 0 {
                break;
            }
        }
    }
    Ok(top
        .iter()
        .zip(texts)
        .map(|(r, text)| TopUnit {
            text,
            copies: r.copies,
            documents: r.documents,
        })
        .collect())
}

pub fn print_report(r: &Report, work: &Path) {
    eprintln!(
        "sieve paragraph-dedup: {} units in {} documents, {} distinct repeated, {} removed ({:.2}% of the text); report in {}",
        r.units,
        r.documents,
        r.repeated_units,
        r.removed_units,
        100.0 * r.removed_share,
        layout::report(work).display()
    );
}
