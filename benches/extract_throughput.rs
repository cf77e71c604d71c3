//! Extraction throughput against resiliparse and trafilatura, in one run (see README.md).
//!
//! All three extract the HTML responses of the same WARC on one thread, from HTML already in
//! memory (reading the WARC is not timed), timed by CPU time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sieve::io::http_payload::{decode_payload, parse_response};
use sieve::io::warc::{RecordType, TypeFilter, WarcReader};
use sieve::stages::extract::dom::{Dom, DomBuffers};
use sieve::stages::extract::extractor::extract;
use sieve::text::charset;

#[path = "common.rs"]
mod common;
use common::cpu_time;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let path = args.first().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/warc/synthetic-cc-style/real-html-cc-style.warc.gz")
    });
    if !path.exists() {
        eprintln!("skipping: {} not found (needs ../shared)", path.display());
        return;
    }
    let reader = WarcReader::new(
        std::fs::File::open(&path).unwrap(),
        TypeFilter::only(&[RecordType::Response]),
    );
    let pages: Vec<String> = reader
        .filter_map(Result::ok)
        .filter_map(|r| {
            let (head, raw) = parse_response(&r.block).ok()?;
            let payload = decode_payload(&head, raw, 64 << 20);
            Some(charset::decode(&payload.bytes, head.charset().as_deref()).text)
        })
        .collect();
    let mut best = Duration::MAX;
    let mut chars = 0usize;
    for _ in 0..3 {
        let start = cpu_time();
        chars = 0;
        // Buffers reused from page to page, as the extract stage does.
        let mut bufs = DomBuffers::default();
        for html in &pages {
            bufs = match Dom::parse_with(html, 3000, 1_000_000, bufs) {
                Ok(dom) => {
                    chars += extract(&dom).text.len();
                    dom.into_buffers()
                }
                Err((_, b)) => b,
            };
        }
        best = best.min(cpu_time() - start);
    }
    let ours = pages.len() as f64 / best.as_secs_f64();
    println!("file: {} ({} HTML responses)", path.display(), pages.len());
    println!("sieve extract : {ours:.0} pages/s ({chars} bytes of text)");

    let python = std::env::var("SIEVE_PEER_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/peers/extract_peers.py");
    match Command::new(&python).arg(&script).arg(&path).output() {
        Ok(o) if o.status.success() => {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("peer prints JSON");
            let res = v["resiliparse_pages_per_s"].as_f64().unwrap();
            let traf = v["trafilatura_pages_per_s"].as_f64().unwrap();
            println!("resiliparse   : {res:.0} pages/s");
            println!("trafilatura   : {traf:.0} pages/s (first {} pages)", v["trafilatura_pages"]);
            println!("ratio         : sieve is {:.2}x resiliparse, {:.1}x trafilatura", ours / res, ours / traf);
        }
        Ok(o) => eprintln!(
            "peers failed (set SIEVE_PEER_PYTHON to a python with fastwarc, resiliparse, trafilatura, lxml_html_clean): {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => eprintln!("cannot run {python}: {e}"),
    }
    whole_process(&path, &python);
}

/// Whole processes, WARC file in, texts out, one core, five paired runs: `sieve extract -j 1`
/// (JSON lines) against fastwarc + resiliparse in Python (peers/extract_process.py, which
/// also writes JSON lines). Each run is timed by its CPU time and peak RSS under GNU time;
/// the ratio is the median of the five pairs' ratios.
fn whole_process(warc: &Path, python: &str) {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = repo.join("benches/peers/extract_process.py");
    let mut ratios = Vec::new();
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let (cpu, rss) = common::measured(
            Command::new(env!("CARGO_BIN_EXE_sieve"))
                .args(["extract", "-j", "1", "-q", "--format", "jsonl", "-o"])
                .arg(dir.path().join("out"))
                .arg(warc),
        );
        ours.push((cpu.as_secs_f64(), rss));
        let probe = Command::new(python)
            .arg("-c")
            .arg("import fastwarc, resiliparse")
            .output();
        if !probe.is_ok_and(|o| o.status.success()) {
            eprintln!("whole-process peer skipped: {python} lacks fastwarc and resiliparse");
            return;
        }
        let (peer_cpu, peer_rss) = common::measured(
            Command::new(python)
                .arg(&script)
                .arg(warc)
                .arg(dir.path().join("peer.jsonl")),
        );
        theirs.push((peer_cpu.as_secs_f64(), peer_rss));
        ratios.push(peer_cpu.as_secs_f64() / cpu.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    let median = |v: &[(f64, u64)]| {
        let mut c: Vec<f64> = v.iter().map(|x| x.0).collect();
        c.sort_by(f64::total_cmp);
        c[c.len() / 2]
    };
    let peak = |v: &[(f64, u64)]| v.iter().map(|x| x.1).max().unwrap_or(0) as f64 / 1024.0;
    println!(
        "whole process : sieve extract -j 1 {:.2} s CPU, peak {:.0} MB; fastwarc + resiliparse {:.2} s, peak {:.0} MB",
        median(&ours),
        peak(&ours),
        median(&theirs),
        peak(&theirs)
    );
    println!(
        "ratio         : sieve is {:.2}x fastwarc + resiliparse (median of 5 pairs)",
        ratios[2]
    );
}
