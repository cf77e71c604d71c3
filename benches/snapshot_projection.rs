//! Core-hours for one Common Crawl snapshot (3 billion HTML pages), projected from measured
//! per-core costs of every step of the MT-NLG spec, next to trafilatura's extraction alone
//! measured in the same run (see README.md).
//!
//! The spec of pipelines/mtnlg-cc.toml runs on one thread (`-j 1`) twice: over a small WARC
//! and over the shared CC-style WARC. Each step's CPU time is modelled as a fixed cost per task
//! (loading models and indexes) plus a cost per document entering the step, solved from the
//! two runs; the snapshot then has 9,000 tasks per map step (the spec's `tasks_per_step`) and
//! the documents each step would see at this run's survival rates.

use std::path::{Path, PathBuf};

#[path = "common.rs"]
mod common;
use std::process::Command;

use sieve::io::shards::ShardFormat;
use sieve::orchestrate::plan::Plan;
use sieve::pipeline::command::RunArgs;
use sieve::pipeline::spec::PipelineSpec;
use sieve::report::RunFacts;

const SNAPSHOT_PAGES: f64 = 3e9;
const TASKS_PER_MAP_STEP: f64 = 9000.0;

/// Runs the spec over one WARC on one thread; returns the run's facts (times per step).
fn run(warc: &Path, dir: &Path, repo: &Path) -> RunFacts {
    let out = dir.join("out");
    let spec_path = dir.join("spec.toml");
    std::fs::write(&spec_path, common::mtnlg_spec(warc, &out, repo)).unwrap();
    let spec = PipelineSpec::load(&spec_path).unwrap();
    let args = RunArgs {
        output: out.clone(),
        threads: Some(1),
        shard: None,
        format: ShardFormat::Parquet,
        write_rejected: false,
        base_url: String::new(),
        quiet: true,
    };
    Plan::new(spec, args).unwrap().run_all(&spec_path).unwrap();
    RunFacts::gather(&out).unwrap()
}

fn main() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let big = repo.join("../shared/data/warc/synthetic-cc-style/real-html-cc-style.warc.gz");
    if !big.exists() || !repo.join("../shared/data/eval").is_dir() {
        eprintln!("skipping: needs ../shared/data (the CC-style WARC and the task sets)");
        return;
    }
    let small = repo.join("data-samples/web/sample-web-00000.warc.gz");
    let d = tempfile::tempdir().unwrap();
    let (small_dir, big_dir) = (d.path().join("small"), d.path().join("big"));
    std::fs::create_dir_all(&small_dir).unwrap();
    std::fs::create_dir_all(&big_dir).unwrap();
    let s = run(&small, &small_dir, &repo);
    let b = run(&big, &big_dir, &repo);
    let pages = b.stats.stage("read").map_or(0, |r| r.docs_out) as f64;

    println!("file: {} ({pages} records read)", big.display());
    println!(
        "{:<18} {:>8} {:>10} {:>12} {:>14} {:>12}",
        "step", "tasks", "CPU s", "per task s", "per doc µs", "core-hours"
    );
    let mut total = 0.0;
    for step in &b.steps {
        let Some(small_step) = s.steps.iter().find(|x| x.step == step.step) else {
            continue;
        };
        let input = |f: &RunFacts| f.step_input(&step.step).map_or(0.0, |(n, _)| n);
        let (n_small, n_big) = (input(&s), input(&b));
        // cpu = fixed + per_item × items, through the two runs (per item 0 when the step's
        // input did not grow, as for steps without one).
        let per_item = if n_big > n_small {
            ((step.cpu_seconds - small_step.cpu_seconds) / (n_big - n_small)).max(0.0)
        } else {
            0.0
        };
        let fixed = (step.cpu_seconds - per_item * n_big).max(0.0);
        let map_step = !matches!(
            step.step.as_str(),
            "dedup-edges" | "dedup-components" | "decontam-merge" | "finish" | "blend"
        );
        let tasks = if map_step {
            TASKS_PER_MAP_STEP
        } else if step.step == "dedup-edges" {
            22.0 // 20 bands, exact keys, URL keys
        } else {
            1.0
        };
        let snapshot_items = n_big / pages * SNAPSHOT_PAGES;
        let hours = (fixed * tasks + per_item * snapshot_items) / 3600.0;
        total += hours;
        println!(
            "{:<18} {:>8} {:>10.2} {:>12.3} {:>14.1} {:>12.0}",
            step.step,
            tasks,
            step.cpu_seconds,
            fixed,
            per_item * 1e6,
            hours
        );
    }
    println!("sieve, whole pipeline: {total:.0} core-hours for {SNAPSHOT_PAGES:.0e} pages");

    let python = std::env::var("SIEVE_PEER_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = repo.join("benches/peers/extract_peers.py");
    match Command::new(&python).arg(&script).arg(&big).output() {
        Ok(o) if o.status.success() => {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("peer prints JSON");
            let traf = v["trafilatura_pages_per_s"].as_f64().unwrap();
            let hours = SNAPSHOT_PAGES / traf / 3600.0;
            println!(
                "trafilatura extraction alone (datatrove's default extractor): {traf:.0} pages/s/core \
                 → {hours:.0} core-hours; sieve end to end is {:.1}x less",
                hours / total
            );
        }
        Ok(o) => eprintln!(
            "peer failed (set SIEVE_PEER_PYTHON to a python with fastwarc, resiliparse, trafilatura, lxml_html_clean): {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => eprintln!("cannot run {python}: {e}"),
    }
}
