//! GPT-2 tokenization throughput, one core, against OpenAI's tiktoken (Python, the peer the
//! issue names) and tiktoken-rs (its Rust port) on the same documents in one run; the ids are
//! compared by count and checksum.
//!
//! Documents: the shared English prose (`quality/positives_english_prose.jsonl.gz`), whole
//! documents, four times over. `SIEVE_PEER_PYTHON` names a Python with tiktoken (default `python3`).

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::Command;

use sieve::tokenize::Tokenizer;

#[path = "common.rs"]
mod common;
use common::cpu_time;

fn checksum(all: &[Vec<u32>]) -> (u64, u64) {
    let (mut n, mut sum) = (0u64, 0u64);
    for ids in all {
        for &t in ids {
            n += 1;
            sum = ((sum as u128 + n as u128 * t as u128) % (1u128 << 61)) as u64;
        }
    }
    (n, sum)
}

/// Best of three CPU times of `f` over all documents.
fn best_of_3(docs: &[String], mut f: impl FnMut(&str) -> Vec<u32>) -> (f64, Vec<Vec<u32>>) {
    let mut best = f64::MAX;
    let mut out = Vec::new();
    for _ in 0..3 {
        let start = cpu_time();
        out = docs.iter().map(|d| f(d)).collect();
        best = best.min((cpu_time() - start).as_secs_f64());
    }
    (best, out)
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/data");
    if !shared.is_dir() {
        eprintln!("skipping: ../shared/data not found");
        return;
    }
    let f = std::fs::File::open(shared.join("quality/positives_english_prose.jsonl.gz")).unwrap();
    let docs: Vec<String> = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(f))
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(&l.unwrap()).unwrap();
            (v["tokenized"].as_bool() != Some(true))
                .then(|| v["text"].as_str().unwrap_or("").to_string())
        })
        .filter(|t| !t.is_empty())
        .collect();
    // Four passes over the corpus, so that each timed run takes a measurable time.
    let docs: Vec<String> = std::iter::repeat_n(docs, 4).flatten().collect();
    let mb = docs.iter().map(String::len).sum::<usize>() as f64 / 1e6;
    println!("documents: {} ({mb:.1} MB of English prose)", docs.len());

    let tok = Tokenizer::by_name("gpt2").unwrap();
    let (ours_s, ours) = best_of_3(&docs, |d| {
        let mut ids = Vec::new();
        tok.encode(d, &mut ids).unwrap();
        ids
    });
    let (n, sum) = checksum(&ours);
    println!(
        "sieve gpt2:           {:6.1} MB/s ({ours_s:.2} s CPU, {n} tokens, {:.2} Mtok/s)",
        mb / ours_s,
        n as f64 / 1e6 / ours_s
    );
    let rs = tiktoken_rs::r50k_base().unwrap();
    let (rs_s, theirs) = best_of_3(&docs, |d| rs.encode_ordinary(d));
    println!(
        "tiktoken-rs r50k:     {:6.1} MB/s ({rs_s:.2} s CPU); ids identical: {}",
        mb / rs_s,
        checksum(&theirs) == (n, sum)
    );

    let python = std::env::var("SIEVE_PEER_PYTHON").unwrap_or_else(|_| "python3".into());
    let dir = root.join("target/bench-tokenize");
    std::fs::create_dir_all(&dir).unwrap();
    let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join("docs.jsonl")).unwrap());
    for d in &docs {
        writeln!(w, "{}", serde_json::json!({ "text": d })).unwrap();
    }
    drop(w);
    let o = Command::new(&python)
        .arg(root.join("benches/peers/tiktoken_bench.py"))
        .arg(shared.join("tokenizer/gpt2-tiktoken-rs/r50k_base.tiktoken"))
        .arg(dir.join("docs.jsonl"))
        .output();
    match o {
        Ok(o) if o.status.success() => {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            let py_s = v["cpu_s"].as_f64().unwrap();
            let same = v["tokens"].as_u64() == Some(n) && v["checksum"].as_u64() == Some(sum);
            println!(
                "python tiktoken r50k: {:6.1} MB/s ({py_s:.2} s CPU); ids identical: {same}",
                mb / py_s
            );
            println!(
                "sieve / python tiktoken = {:.2}x; sieve / tiktoken-rs = {:.2}x",
                py_s / ours_s,
                rs_s / ours_s
            );
        }
        Ok(o) => println!(
            "python tiktoken failed (set SIEVE_PEER_PYTHON to a Python with tiktoken): {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => println!("cannot run {python}: {e}"),
    }
}
