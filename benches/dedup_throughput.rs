//! Dedup benchmark (see README.md), in one run on one generated corpus:
//!
//! 1. MinHash signatures per second on one core, 260 permutations over word 5-grams, against
//!    rensa and datasketch (Python peers, same documents, same permutation count);
//! 2. the whole dedup (`sieve dedup -j 1`) against datatrove's four MinHash stages run
//!    locally with one worker;
//! 3. with `SIEVE_BENCH_MEMORY_DOCS=N` (e.g. 1000000), the peak RSS of every dedup step on
//!    N short synthetic documents and on N/10, showing which steps grow with the corpus.
//!
//! The corpus: documents of ~1,800 words made of random paragraphs of the shared curated
//! prose, 10% of them lightly edited copies of earlier ones. `SIEVE_BENCH_DOCS` sets the
//! count (default 100,000); `SIEVE_PEER_PYTHON` the Python with rensa, datasketch, datatrove.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sieve::dedup::minhash::MinHasher;
use sieve::dedup::shingle::{Shingler, Shingling};
use sieve::doc::Document;
use sieve::io::shards::{create_writer, ShardFormat};

#[path = "common.rs"]
mod common;
use common::cpu_time;
#[path = "prose.rs"]
mod prose;
use prose::{paragraphs, Rng};

/// `count` documents of about `words` words; every tenth is an edited copy of an earlier one.
fn corpus(paras: &[String], count: usize, words: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng(seed);
    let mut docs: Vec<String> = Vec::with_capacity(count);
    for i in 0..count {
        if i % 10 == 9 {
            let src = &docs[rng.below(i)];
            let edited: Vec<&str> = src
                .split(' ')
                .map(|w| if rng.below(100) < 2 { "edited" } else { w })
                .collect();
            docs.push(edited.join(" "));
            continue;
        }
        let mut d = String::new();
        let mut n = 0;
        while n < words {
            let p = &paras[rng.below(paras.len())];
            if words < 200 {
                // Short documents: a slice of one paragraph.
                let w: Vec<&str> = p.split_whitespace().collect();
                let start = rng.below(w.len().saturating_sub(words).max(1));
                d.push_str(&w[start..(start + words).min(w.len())].join(" "));
                break;
            }
            n += p.split_whitespace().count();
            d.push_str(p);
            d.push('\n');
        }
        docs.push(d);
    }
    docs
}

/// Writes the corpus as `files` JSONL files (for the peers) and Parquet shards (for sieve).
fn write_corpus(dir: &Path, docs: &[String], files: usize) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("jsonl")).unwrap();
    let per = docs.len().div_ceil(files);
    for (k, chunk) in docs.chunks(per).enumerate() {
        let mut jsonl = std::io::BufWriter::new(
            std::fs::File::create(dir.join(format!("jsonl/part-{k:04}.jsonl"))).unwrap(),
        );
        let mut w = create_writer(
            &dir.join(format!("shards/part-{k:04}.parquet")),
            ShardFormat::Parquet,
        )
        .unwrap();
        for (i, text) in chunk.iter().enumerate() {
            let id = format!("bench/part-{k:04}#{i}");
            writeln!(jsonl, "{}", serde_json::json!({"id": id, "text": text})).unwrap();
            w.write(Document {
                id,
                dataset: "bench".into(),
                text: text.clone(),
                ..Default::default()
            })
            .unwrap();
        }
        w.finish().unwrap();
    }
}

fn sieve_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sieve"))
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/data");
    if !shared.is_dir() {
        eprintln!("skipping: ../shared/data not found");
        return;
    }
    let paras = paragraphs(&shared);
    let scratch = root.join("target/bench-dedup");
    if let Ok(n) = std::env::var("SIEVE_BENCH_MEMORY_DOCS") {
        memory(&paras, &scratch, n.parse().expect("a document count"));
        return;
    }
    let count: usize = std::env::var("SIEVE_BENCH_DOCS").map_or(100_000, |v| v.parse().unwrap());
    let docs = corpus(&paras, count, 1800, 1);
    let words: usize = docs.iter().map(|d| d.split_whitespace().count()).sum();
    let data = scratch.join("corpus");
    write_corpus(&data, &docs, 8);
    println!(
        "corpus: {} documents, {:.0} words each on average, {:.0} MB",
        docs.len(),
        words as f64 / docs.len() as f64,
        docs.iter().map(String::len).sum::<usize>() as f64 / 1e6
    );

    // 1. Signatures, in process, one thread: text → word 5-grams → 260 MinHash values.
    let hasher = MinHasher::new(260, 1);
    let mut shingler = Shingler::default();
    let mut sig = Vec::new();
    let start = cpu_time();
    let mut check = 0u64;
    for d in &docs {
        shingler.shingle_values(d, Shingling::Words(5));
        hasher.signature(&shingler.set, &mut sig);
        check = check.wrapping_add(sig[0] as u64);
    }
    let ours = docs.len() as f64 / (cpu_time() - start).as_secs_f64();
    // The two halves on their own: shingling, and MinHash over ready shingle sets.
    let start = cpu_time();
    let sets: Vec<Vec<u32>> = docs
        .iter()
        .take(10_000)
        .map(|d| {
            shingler.shingle_values(d, Shingling::Words(5));
            shingler.set.clone()
        })
        .collect();
    let shingling = sets.len() as f64 / (cpu_time() - start).as_secs_f64();
    let start = cpu_time();
    for s in &sets {
        hasher.signature(s, &mut sig);
        check = check.wrapping_add(sig[1] as u64);
    }
    let minhash = sets.len() as f64 / (cpu_time() - start).as_secs_f64();
    drop(sets);
    println!(
        "sieve signatures: {ours:.0} documents/s (text → shingles → 260 values); shingling alone \
         {shingling:.0}/s, MinHash alone {minhash:.0}/s (checksum {check})"
    );
    drop(docs);

    // 2. sieve's whole dedup, one thread, word 5-grams like the peers.
    let out = scratch.join("sieve-out");
    let _ = std::fs::remove_dir_all(&out);
    let (sieve_cpu, sieve_rss) = common::measured(
        Command::new(sieve_bin())
            .args(["dedup", "-q", "-j", "1", "--shingle", "word:5", "--output"])
            .arg(&out)
            .arg(data.join("shards")),
    );
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("dedup-work/components/report.json")).unwrap(),
    )
    .unwrap();
    println!(
        "sieve dedup (all steps, -j1): {:.1} s CPU, peak RSS {} MB, removed {}",
        sieve_cpu.as_secs_f64(),
        sieve_rss / 1024,
        report["removed"]
    );

    let Ok(python) = std::env::var("SIEVE_PEER_PYTHON") else {
        println!("peers: set SIEVE_PEER_PYTHON to a Python with rensa, datasketch and datatrove");
        return;
    };
    let script = root.join("benches/peers/dedup_peers.py");
    let mut peers = Command::new(python);
    peers
        .arg(script)
        .arg("--corpus")
        .arg(data.join("jsonl"))
        .args(["--docs", &count.to_string()]);
    // datatrove takes about 45 minutes on the default corpus: skippable for signature runs.
    if std::env::var_os("SIEVE_BENCH_SKIP_DATATROVE").is_some() {
        peers.arg("--skip-datatrove");
    }
    let o = peers.output().unwrap();
    if !o.status.success() {
        println!("peers failed:\n{}", String::from_utf8_lossy(&o.stderr));
    }
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let docs = v["docs"].as_f64().unwrap();
        let cpu = v["cpu_s"].as_f64().unwrap();
        match v["peer"].as_str().unwrap() {
            "datatrove" => println!(
                "datatrove (4 stages, 1 worker): {cpu:.1} s CPU, removed {} → sieve is {:.1}x faster",
                v["removed"],
                cpu / sieve_cpu.as_secs_f64()
            ),
            peer => {
                let rate = docs / cpu;
                let extra = v["cpu_s_with_shingling"]
                    .as_f64()
                    .map(|c| format!(", {:.0}/s counting Python shingling", docs / c))
                    .unwrap_or_default();
                println!(
                    "{peer}: {rate:.0} documents/s (shingles given{extra}) → sieve/peer = {:.2}x",
                    ours / rate
                );
            }
        }
    }
}

/// Peak RSS of each step on `n` short documents and on `n / 10`.
fn memory(paras: &[String], scratch: &Path, n: usize) {
    for count in [n / 10, n] {
        let docs = corpus(paras, count, 100, 2);
        let data = scratch.join(format!("memory-{count}"));
        write_corpus(&data, &docs, count.div_ceil(10_000));
        drop(docs);
        let work = data.join("work");
        let shards = data.join("shards");
        let bin = sieve_bin();
        let steps: Vec<(&str, Vec<std::ffi::OsString>)> = vec![
            (
                "signatures",
                vec![
                    "signatures".into(),
                    "--work".into(),
                    work.clone().into(),
                    shards.clone().into(),
                ],
            ),
            (
                "lsh",
                vec!["lsh".into(), "--work".into(), work.clone().into()],
            ),
            (
                "edges",
                vec!["edges".into(), "--work".into(), work.clone().into()],
            ),
            (
                "components",
                vec!["components".into(), "--work".into(), work.clone().into()],
            ),
            (
                "filter",
                vec![
                    "filter".into(),
                    "-q".into(),
                    "--work".into(),
                    work.clone().into(),
                    "--output".into(),
                    data.join("out").into(),
                    shards.clone().into(),
                ],
            ),
        ];
        println!(
            "{count} documents (~100 words, {} shards of 10,000), -j1:",
            count.div_ceil(10_000)
        );
        let mut total = Duration::ZERO;
        let mut peak = 0;
        for (name, args) in steps {
            let threads: &[&str] = if name == "components" {
                &[]
            } else {
                &["-j", "1"]
            };
            let (cpu, rss) =
                common::measured(Command::new(&bin).arg("dedup").args(&args).args(threads));
            total += cpu;
            peak = peak.max(rss);
            println!(
                "  {name:<11} {:>7.1} s CPU  peak RSS {:>6} MB",
                cpu.as_secs_f64(),
                rss / 1024
            );
        }
        println!(
            "  whole run   {:>7.1} s CPU  peak RSS {:>6} MB",
            total.as_secs_f64(),
            peak / 1024
        );
    }
}
