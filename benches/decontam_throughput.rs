//! Decontamination throughput against a straightforward Python implementation of the same
//! algorithm (benches/peers/decontam_ref.py), same documents, same tasks, one run; the
//! outputs are compared piece by piece (see README.md).
//!
//! Tasks: pipelines/tasks/mtnlg.toml (needs ../shared). Documents: ~600-word texts of
//! random paragraphs of the shared curated prose; 2% carry a task passage (a RACE article,
//! a LAMBADA passage, ...), a few carry a dozen (more than 10 pieces: dropped), and one
//! sentence of a task text is planted in 20 documents (a common phrase: left alone).
//! `SIEVE_BENCH_DOCS` sets the count (default 20,000); `SIEVE_PEER_PYTHON` the Python.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use sieve::decontam::cut::{count, strip, Rules};
use sieve::decontam::ngrams::{Compat, NgramIndex, Scanner};
use sieve::decontam::tasks::{build_index, load_task_file, task_texts};

#[path = "common.rs"]
mod common;
use common::cpu_time;
#[path = "prose.rs"]
mod prose;
use prose::{paragraphs, Rng};

/// Runs both passes in process; returns the cut documents (id, pieces, dropped) in order.
fn sieve_run(
    mut index: NgramIndex,
    docs: &[(String, String)],
    compat: Compat,
) -> Vec<(String, Vec<String>, bool)> {
    let rules = Rules::default();
    let mut scanner = Scanner::new(&index, compat);
    let mut df: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
    let mut found = Vec::new();
    for (_, text) in docs {
        count(text, &mut scanner, &mut found);
        for (k, _) in found.drain(..) {
            *df.entry(k).or_default() += 1;
        }
    }
    // The common phrases leave the index (as `sieve decontam merge` does).
    for (k, n) in &df {
        if *n >= 10 {
            index.entries.remove(k);
        }
    }
    index.finish();
    let mut scanner = Scanner::new(&index, compat);
    let mut out = Vec::new();
    for (id, text) in docs {
        let r = strip(text, &mut scanner, &rules);
        if !r.cuts.is_empty() {
            let dropped = r.pieces.len() > rules.max_pieces;
            out.push((
                id.clone(),
                r.pieces.into_iter().map(|(p, _)| p).collect(),
                dropped,
            ));
        }
    }
    out
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/data");
    if !shared.is_dir() {
        eprintln!("skipping: ../shared/data not found");
        return;
    }
    let tasks = load_task_file(&root.join("pipelines/tasks/mtnlg.toml")).unwrap();
    let (index, _) = build_index(&tasks, 8, 13).unwrap();
    let task_texts: Vec<(String, Vec<String>)> = tasks
        .iter()
        .map(|t| (t.name.clone(), task_texts(t).unwrap().1))
        .collect();
    let long_texts: Vec<&String> = task_texts
        .iter()
        .flat_map(|(_, ts)| ts.iter())
        .filter(|t| t.split_whitespace().count() >= 60)
        .collect();

    let count: usize = std::env::var("SIEVE_BENCH_DOCS").map_or(20_000, |v| v.parse().unwrap());
    let paras = paragraphs(&shared);
    let mut rng = Rng(3);
    let common_phrase = long_texts[0]
        .split_whitespace()
        .take(20)
        .collect::<Vec<_>>()
        .join(" ");
    let mut docs: Vec<(String, String)> = Vec::with_capacity(count);
    for i in 0..count {
        let mut parts: Vec<String> = Vec::new();
        let mut words = 0;
        while words < 600 {
            let p = &paras[rng.below(paras.len())];
            words += p.split_whitespace().count();
            parts.push(p.clone());
        }
        if i % 50 == 7 {
            let at = rng.below(parts.len());
            parts.insert(at, long_texts[rng.below(long_texts.len())].clone());
        }
        if i % 997 == 11 {
            for _ in 0..12 {
                let at = rng.below(parts.len() + 1);
                parts.insert(at, long_texts[rng.below(long_texts.len())].clone());
            }
        }
        if i % 1000 < 20 && count >= 1000 {
            parts.insert(1, format!("As they say, {common_phrase}."));
        }
        docs.push((format!("bench#{i}"), parts.join("\n")));
    }
    let bytes: usize = docs.iter().map(|(_, t)| t.len()).sum();
    let mb = bytes as f64 / 1e6;
    println!(
        "documents: {} ({mb:.1} MB); task n-grams: {} from {} tasks",
        docs.len(),
        index.len(),
        tasks.len()
    );

    let mut results = Vec::new();
    for compat in [Compat::Megatron, Compat::Sieve] {
        let copy = index.clone();
        let start = cpu_time();
        let out = sieve_run(copy, &docs, compat);
        let secs = (cpu_time() - start).as_secs_f64();
        let dropped = out.iter().filter(|o| o.2).count();
        println!(
            "sieve --compat {compat:?}: {:.1} MB/s ({secs:.2} s CPU), {} documents cut, {dropped} dropped",
            mb / secs,
            out.len()
        );
        results.push((secs, out));
    }

    let Ok(python) = std::env::var("SIEVE_PEER_PYTHON").or_else(|_| Ok::<_, ()>("python3".into()))
    else {
        return;
    };
    let dir = root.join("target/bench-decontam");
    std::fs::create_dir_all(&dir).unwrap();
    let tasks_json: Vec<serde_json::Value> = task_texts
        .iter()
        .map(|(n, ts)| serde_json::json!({"name": n, "texts": ts}))
        .collect();
    std::fs::write(
        dir.join("tasks.json"),
        serde_json::to_vec(&tasks_json).unwrap(),
    )
    .unwrap();
    let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("docs.jsonl")).unwrap());
    for (id, text) in &docs {
        writeln!(f, "{}", serde_json::json!({"id": id, "text": text})).unwrap();
    }
    drop(f);
    let o = Command::new(python)
        .arg(root.join("benches/peers/decontam_ref.py"))
        .arg(dir.join("tasks.json"))
        .arg(dir.join("docs.jsonl"))
        .arg(dir.join("python-out.jsonl"))
        .output()
        .unwrap();
    if !o.status.success() {
        println!("python failed: {}", String::from_utf8_lossy(&o.stderr));
        return;
    }
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let py_secs = v["cpu_s"].as_f64().unwrap();
    let py: Vec<(String, Vec<String>, bool)> =
        std::fs::read_to_string(dir.join("python-out.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["id"].as_str().unwrap().to_string(),
                    v["pieces"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p.as_str().unwrap().to_string())
                        .collect(),
                    v["dropped"].as_bool().unwrap(),
                )
            })
            .collect();
    let identical = py == results[0].1;
    println!(
        "python reference: {:.2} MB/s ({py_secs:.1} s CPU), {} documents cut; output identical to --compat megatron: {identical}",
        mb / py_secs,
        py.len()
    );
    println!(
        "sieve --compat megatron / python = {:.0}x; sieve default / python = {:.0}x",
        py_secs / results[0].0,
        py_secs / results[1].0
    );
    if !identical {
        for (a, b) in py.iter().zip(&results[0].1) {
            if a != b {
                println!("first difference: python {:?}\n sieve {:?}", a.0, b.0);
                break;
            }
        }
    }
}
