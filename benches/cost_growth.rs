//! How sieve's cost grows with its input, step by step, and the snapshot projection made from
//! the measured slopes (see README.md, "How cost grows").
//!
//! The MT-NLG spec (the stages of pipelines/mtnlg-cc.toml) runs on one thread over generated
//! crawls of 10k, 100k and 1M pages (`scripts/generate-crawl.py`, cached under
//! `target/bench-data/`) and over the shared CC-style WARC of real pages. Every step runs as
//! its own process (`sieve run --step`) under GNU time, which gives its CPU time and peak RSS.
//! Per step, CPU = fixed + slope × documents is fitted over the generated crawls; pass 1's cost
//! per page is the real pages' own, the later steps' slopes are scaled by the real documents'
//! size against the generated ones', and the snapshot is 3 billion pages at the CC-style run's
//! survival rates, 9,000 tasks per map step. Charts: benches/cost-growth-cpu.svg and benches/cost-growth-rss.svg.
//!
//! `SIEVE_GROWTH_SIZES=10000,100000` runs fewer sizes.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "common.rs"]
mod common;

use sieve::report::charts::{grouped_bars, Series};
use sieve::report::RunFacts;

const SNAPSHOT_PAGES: f64 = 3e9;
const TASKS_PER_MAP_STEP: f64 = 9000.0;

/// One input's run: per step, (documents in, CPU seconds, peak RSS in KiB), and the mean
/// size in bytes of the documents entering each step.
struct Measured {
    label: String,
    pages: f64,
    steps: Vec<(String, f64, f64, u64)>,
    doc_bytes: Vec<f64>,
}

/// The stage whose input a step reads (pass 1 reads the pages; pass K ≥ 2 and the global
/// steps read what the dedup or decontam stage was given).
fn leading_stage(step: &str) -> &'static str {
    if step.starts_with("dedup") || step == "pass-2" {
        "dedup"
    } else if step.starts_with("decontam") || step == "pass-3" {
        "decontam"
    } else {
        "read"
    }
}

fn sieve_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sieve"))
}

/// The generated crawl of `n` pages, made once.
fn crawl(repo: &Path, n: usize) -> PathBuf {
    let dir = repo.join("target/bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("crawl-{n}.warc.gz"));
    if !path.exists() {
        let partial = dir.join(format!("crawl-{n}.warc.gz.partial"));
        let status = Command::new("python3")
            .arg(repo.join("scripts/generate-crawl.py"))
            .arg(n.to_string())
            .arg(&partial)
            .status()
            .expect("python3 runs scripts/generate-crawl.py");
        assert!(status.success(), "generating the {n}-page crawl failed");
        std::fs::rename(&partial, &path).unwrap();
    }
    path
}

/// Runs every step of the spec over `warc`, each as its own process on one thread.
fn measure(label: &str, warc: &Path, repo: &Path) -> Measured {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let spec = dir.path().join("spec.toml");
    std::fs::write(&spec, common::mtnlg_spec(warc, &out, repo)).unwrap();
    let plan = Command::new(sieve_bin())
        .arg("run")
        .arg(&spec)
        .arg("--plan")
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("--plan prints JSON");
    let names: Vec<String> = plan
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    let mut timed = Vec::new();
    for name in &names {
        let (cpu, rss) = common::measured(
            Command::new(sieve_bin())
                .arg("run")
                .arg(&spec)
                .args(["-j", "1", "-q", "--step", name]),
        );
        timed.push((name.clone(), cpu.as_secs_f64(), rss));
    }
    let facts = RunFacts::gather(&out).unwrap();
    let pages = facts.stats.stage("read").map_or(0, |r| r.docs_in) as f64;
    let doc_bytes = timed
        .iter()
        .map(|(name, ..)| {
            facts
                .stats
                .stage(leading_stage(name))
                .map_or(0.0, |s| s.bytes_in as f64 / (s.docs_in as f64).max(1.0))
        })
        .collect();
    let steps = timed
        .into_iter()
        .map(|(name, cpu, rss)| {
            let docs = facts.step_input(&name).map_or(0.0, |(n, _)| n);
            (name, docs, cpu, rss)
        })
        .collect();
    Measured {
        label: label.into(),
        pages,
        steps,
        doc_bytes,
    }
}

/// Least squares of y = a + b·x.
fn fit(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let sxx: f64 = points.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let b = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    (my - b * mx, b)
}

fn main() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let real = repo.join("../shared/data/warc/synthetic-cc-style/real-html-cc-style.warc.gz");
    if !real.exists() || !repo.join("../shared/data/eval").is_dir() {
        eprintln!("skipping: needs ../shared/data (the CC-style WARC and the task sets)");
        return;
    }
    let sizes: Vec<usize> = std::env::var("SIEVE_GROWTH_SIZES")
        .unwrap_or_else(|_| "10000,100000,1000000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("SIEVE_GROWTH_SIZES: numbers"))
        .collect();
    let mut runs = Vec::new();
    for &n in &sizes {
        let warc = crawl(&repo, n);
        runs.push(measure(&format!("{}k generated", n / 1000), &warc, &repo));
    }
    let cc = measure("CC-style (real)", &real, &repo);

    println!(
        "{:<18} {:<18} {:>10} {:>9} {:>11} {:>9}",
        "step", "input", "docs in", "CPU s", "µs per doc", "peak MB"
    );
    for (i, (name, ..)) in cc.steps.iter().enumerate() {
        for m in runs.iter().chain([&cc]) {
            let (_, docs, cpu, rss) = &m.steps[i];
            println!(
                "{:<18} {:<18} {:>10.0} {:>9.2} {:>11.1} {:>9.0}",
                name,
                m.label,
                docs,
                cpu,
                cpu / docs.max(1.0) * 1e6,
                *rss as f64 / 1024.0
            );
        }
    }

    // The projection: per step, fixed + slope × documents fitted over the generated crawls.
    // Pass 1 is measured on the real pages directly (1,171 of them, no fixed cost to speak
    // of). The later steps work on extracted text, whose cost per document follows its
    // length: their slope is scaled by the real documents' mean size against the generated
    // ones' at that step (the real run has too few documents left there to time them apart
    // from the fixed cost of loading task n-grams).
    println!(
        "\n{:<18} {:>10} {:>12} {:>8} {:>12} {:>14} {:>12}",
        "step", "fixed s", "slope µs", "size ×", "real µs/doc", "snapshot docs", "core-hours"
    );
    let largest = runs.last().expect("at least one generated crawl");
    let mut total = 0.0;
    let mut pass1_per_page = 0.0;
    for (i, (name, cc_docs, cc_cpu, _)) in cc.steps.iter().enumerate() {
        let points: Vec<(f64, f64)> = runs.iter().map(|m| (m.steps[i].1, m.steps[i].2)).collect();
        let (fixed, slope) = fit(&points);
        let (fixed, slope) = (fixed.max(0.0), slope.max(0.0));
        let size_ratio = match name.as_str() {
            "pass-1" | "tokenize" => 1.0,
            _ if largest.doc_bytes[i] > 0.0 && cc.doc_bytes[i] > 0.0 => {
                cc.doc_bytes[i] / largest.doc_bytes[i]
            }
            _ => 1.0,
        };
        let real_per_doc = if name == "pass-1" && *cc_docs > 0.0 {
            cc_cpu / cc_docs
        } else {
            slope * size_ratio
        };
        let map_step = !matches!(
            name.as_str(),
            "dedup-edges" | "dedup-components" | "decontam-merge" | "finish" | "blend" | "report"
        );
        let tasks = if map_step {
            TASKS_PER_MAP_STEP
        } else if name == "dedup-edges" {
            22.0
        } else {
            1.0
        };
        let snapshot_docs = cc_docs / cc.pages * SNAPSHOT_PAGES;
        let hours = (fixed * tasks + real_per_doc * snapshot_docs) / 3600.0;
        if name == "pass-1" {
            pass1_per_page = real_per_doc;
        }
        total += hours;
        println!(
            "{:<18} {:>10.2} {:>12.1} {:>8.2} {:>12.1} {:>14.3e} {:>12.0}",
            name,
            fixed,
            slope * 1e6,
            size_ratio,
            real_per_doc * 1e6,
            snapshot_docs,
            hours
        );
    }
    println!(
        "pass 1: {:.2} ms per real page per core; whole pipeline: {total:.0} core-hours for {SNAPSHOT_PAGES:.0e} pages",
        pass1_per_page * 1e3
    );

    // Charts: the steps that read documents. CPU per document over the generated crawls (a
    // flat group is cost growing linearly with the input); peak memory for every input.
    let shown: Vec<usize> = (0..cc.steps.len())
        .filter(|&i| runs.iter().any(|m| m.steps[i].1 > 0.0))
        .collect();
    let steps: Vec<String> = shown.iter().map(|&i| cc.steps[i].0.clone()).collect();
    let cpu = runs
        .iter()
        .map(|m| Series {
            name: m.label.clone(),
            values: shown
                .iter()
                .map(|&i| m.steps[i].2 / m.steps[i].1.max(1.0) * 1e6)
                .collect(),
        })
        .collect::<Vec<_>>();
    let rss = runs
        .iter()
        .chain([&cc])
        .map(|m| Series {
            name: m.label.clone(),
            values: shown
                .iter()
                .map(|&i| m.steps[i].3 as f64 / 1024.0)
                .collect(),
        })
        .collect::<Vec<_>>();
    let write = |file: &str, svg: String| {
        std::fs::write(repo.join("benches").join(file), svg).unwrap();
        println!("chart: benches/{file}");
    };
    write(
        "cost-growth-cpu.svg",
        grouped_bars(
            "CPU per document entering each step, one core",
            "µs per document",
            &steps,
            &cpu,
            None,
        )
        .unwrap(),
    );
    write(
        "cost-growth-rss.svg",
        grouped_bars(
            "Peak memory of each step's process, one core",
            "peak RSS, MB",
            &steps,
            &rss,
            None,
        )
        .unwrap(),
    );
}
