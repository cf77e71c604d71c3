//! Extraction throughput against resiliparse and trafilatura, in one run (see README.md).
//!
//! All three extract the HTML responses of the same WARC on one thread, from HTML already in
//! memory (reading the WARC is not timed), timed by CPU time.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use sieve::io::http_payload::{decode_payload, parse_response};
use sieve::io::warc::{RecordType, TypeFilter, WarcReader};
use sieve::stages::extract::dom::Dom;
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
        for html in &pages {
            if let Ok(dom) = Dom::parse(html, 3000, 1_000_000) {
                chars += extract(&dom).text.len();
            }
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
}
