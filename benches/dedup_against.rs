//! Dedup against an index (see README.md): a new snapshot of NEW documents deduplicated
//! against the index of an old snapshot of OLD documents (`--against`), compared with one
//! dedup of all OLD + NEW documents from scratch: CPU time and peak RSS of each, one thread.
//!
//! `SIEVE_BENCH_INDEX_DOCS` (default 10,000,000) and `SIEVE_BENCH_NEW_DOCS` (default
//! 1,000,000). Documents of ~100 words from four places of the shared curated prose; every
//! tenth is a lightly edited copy of an earlier one, so the new snapshot repeats the old one as crawls do. All runs
//! verify by the signature estimate (`--verify estimate`, no shingle sets stored), which keeps
//! the disk used at the default size near 30 GB; the files are removed as the runs end.

use std::path::{Path, PathBuf};
use std::process::Command;

use sieve::doc::Document;
use sieve::io::shards::{create_writer, parquet_row_count, ShardFormat};

#[path = "common.rs"]
mod common;
#[path = "prose.rs"]
mod prose;
use prose::{paragraphs, Rng};

/// Documents per shard file.
const PER_SHARD: usize = 100_000;
const WORDS: usize = 100;

/// Document `i` of the series: a slice of a paragraph, or (every tenth) an edited copy of an
/// earlier document. Made from `i` alone, so that the corpus never has to be held.
fn doc(paras: &[String], i: usize) -> String {
    let mut rng = Rng((i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5eed);
    if i % 10 == 9 {
        let src = doc(paras, rng.below(i));
        return src
            .split(' ')
            .map(|w| if rng.below(100) < 2 { "edited" } else { w })
            .collect::<Vec<_>>()
            .join(" ");
    }
    // Four runs of 25 words from random places of random paragraphs: unrelated documents
    // share no run by chance.
    let mut out: Vec<&str> = Vec::with_capacity(WORDS);
    while out.len() < WORDS {
        let p = &paras[rng.below(paras.len())];
        let w: Vec<&str> = p.split_whitespace().collect();
        let start = rng.below(w.len().saturating_sub(WORDS / 4).max(1));
        out.extend(&w[start..(start + WORDS / 4).min(w.len())]);
    }
    out.join(" ")
}

/// Writes documents `range` as Parquet shards `dir/<prefix>-NNNN.parquet`.
fn write_shards(paras: &[String], dir: &Path, prefix: &str, range: std::ops::Range<usize>) {
    std::fs::create_dir_all(dir).unwrap();
    let mut k = 0;
    let mut at = range.start;
    while at < range.end {
        let end = (at + PER_SHARD).min(range.end);
        let mut w = create_writer(
            &dir.join(format!("{prefix}-{k:04}.parquet")),
            ShardFormat::Parquet,
        )
        .unwrap();
        for i in at..end {
            w.write(Document {
                id: format!("{prefix}/{i}"),
                dataset: prefix.into(),
                text: doc(paras, i),
                ..Default::default()
            })
            .unwrap();
        }
        w.finish().unwrap();
        at = end;
        k += 1;
    }
}

/// Documents in the Parquet shards of `dir` whose names start with `prefix`.
fn kept(dir: &Path, prefix: &str) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with(prefix) && name.ends_with(".parquet") {
            n += parquet_row_count(&p).unwrap().0;
        }
    }
    n
}

fn dedup(args: &[&str], inputs: &[&Path]) -> (f64, u64) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sieve"));
    c.args(["dedup", "-q", "-j", "1", "--verify", "estimate"])
        .args(args)
        .args(inputs);
    let (cpu, rss) = common::measured(&mut c);
    (cpu.as_secs_f64(), rss / 1024)
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let shared = root.join("../shared/data");
    if !shared.is_dir() {
        eprintln!("skipping: ../shared/data not found");
        return;
    }
    let count = |var: &str, default: usize| {
        std::env::var(var).map_or(default, |v| v.parse().expect("a document count"))
    };
    let old = count("SIEVE_BENCH_INDEX_DOCS", 10_000_000);
    let new = count("SIEVE_BENCH_NEW_DOCS", 1_000_000);
    let paras = paragraphs(&shared);
    let scratch = root.join("target/bench-dedup-against");
    let _ = std::fs::remove_dir_all(&scratch);
    let (old_dir, new_dir) = (scratch.join("old"), scratch.join("new"));
    write_shards(&paras, &old_dir, "old", 0..old);
    write_shards(&paras, &new_dir, "new", old..old + new);
    println!(
        "{old} indexed documents, {new} new ones (~{WORDS} words each), -j1, --verify estimate"
    );

    // From scratch: one dedup over both snapshots, the old one first.
    let all = scratch.join("all");
    let (all_cpu, all_rss) = dedup(
        &["--priority", "old,new", "--output", all.to_str().unwrap()],
        &[&old_dir, &new_dir],
    );
    let all_kept_new = kept(&all, "new");
    std::fs::remove_dir_all(&all).unwrap();
    println!("from scratch, all {} documents: {all_cpu:.1} s CPU, peak RSS {all_rss} MB; new documents kept {all_kept_new}", old + new);

    // The old snapshot, written into an index (the cost paid once, when it was processed).
    let index = scratch.join("index");
    let out_old = scratch.join("out-old");
    let (build_cpu, build_rss) = dedup(
        &[
            "--write-index",
            index.to_str().unwrap(),
            "--output",
            out_old.to_str().unwrap(),
        ],
        &[&old_dir],
    );
    std::fs::remove_dir_all(&out_old).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(index.join("index.json")).unwrap()).unwrap();
    let seg = &manifest["segments"][0];
    let (bytes, indexed) = (
        seg["bytes"].as_f64().unwrap(),
        seg["documents"].as_f64().unwrap(),
    );
    println!(
        "old snapshot with --write-index: {build_cpu:.1} s CPU, peak RSS {build_rss} MB; index of {indexed} documents, {:.0} bytes each ({:.2} GB)",
        bytes / indexed,
        bytes / 1e9
    );

    // The new snapshot against the index.
    let out_new = scratch.join("out-new");
    let (new_cpu, new_rss) = dedup(
        &[
            "--against",
            index.to_str().unwrap(),
            "--output",
            out_new.to_str().unwrap(),
        ],
        &[&new_dir],
    );
    let against_kept = kept(&out_new, "new");
    println!("new snapshot --against the index: {new_cpu:.1} s CPU, peak RSS {new_rss} MB; new documents kept {against_kept}");
    println!(
        "against the index / from scratch: CPU {:.3} ({:.1}x less), peak RSS {:.2}",
        new_cpu / all_cpu,
        all_cpu / new_cpu,
        new_rss as f64 / all_rss as f64
    );
    let _ = std::fs::remove_dir_all(&scratch);
}
