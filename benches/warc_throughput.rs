//! WARC reading throughput against fastwarc, in one run (see benches/README.md).
//!
//! Both sides iterate every record of the same file on one thread, parse the HTTP headers of
//! responses and read every payload; each side is timed by CPU time, best of several runs.
//! The result is a ratio, because absolute times drift on shared machines.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use sieve::io::http_payload::parse_response;
use sieve::io::warc::{RecordType, TypeFilter, WarcReader};

#[path = "common.rs"]
mod common;
use common::cpu_time;

fn default_warc() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/warc/synthetic-cc-style/real-html-cc-style.warc.gz")
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let path = args.first().map(PathBuf::from).unwrap_or_else(default_warc);
    if !path.exists() {
        eprintln!("skipping: {} not found (needs ../shared)", path.display());
        return;
    }
    let bytes = std::fs::metadata(&path).unwrap().len() as f64;
    let repeats = 5;
    let mut best = Duration::MAX;
    let (mut records, mut payload) = (0u64, 0u64);
    for _ in 0..repeats {
        let file = std::fs::File::open(&path).unwrap();
        let start = cpu_time();
        records = 0;
        payload = 0;
        for item in WarcReader::new(file, TypeFilter::all()) {
            let r = item.expect("benchmark file is clean");
            records += 1;
            payload += if r.record_type == RecordType::Response {
                parse_response(&r.block).map_or(r.block.len(), |(_, body)| body.len()) as u64
            } else {
                r.block.len() as u64
            };
        }
        best = best.min(cpu_time() - start);
    }
    let secs = best.as_secs_f64();
    println!(
        "file: {} ({:.1} MB compressed)",
        path.display(),
        bytes / 1e6
    );
    println!(
        "sieve    : {records} records, {:.0} records/s, {:.1} MB/s compressed, {:.1} MB/s payload ({:.3} s CPU)",
        records as f64 / secs,
        bytes / 1e6 / secs,
        payload as f64 / 1e6 / secs,
        secs
    );

    let python = std::env::var("SIEVE_PEER_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/peers/fastwarc_iter.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&path)
        .arg(repeats.to_string())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("peer prints JSON");
            let peer_secs = v["cpu_seconds"].as_f64().unwrap();
            let peer_records = v["records"].as_u64().unwrap();
            println!(
                "fastwarc : {peer_records} records, {:.0} records/s, {:.1} MB/s compressed ({:.3} s CPU)",
                peer_records as f64 / peer_secs,
                bytes / 1e6 / peer_secs,
                peer_secs
            );
            println!("ratio    : sieve is {:.2}x fastwarc", peer_secs / secs);
        }
        Ok(o) => eprintln!(
            "fastwarc peer failed (set SIEVE_PEER_PYTHON to a python with fastwarc): {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => eprintln!("cannot run {python}: {e}"),
    }
}
