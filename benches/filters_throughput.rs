//! The Gopher, C4, FineWeb and PII filters on one core against datatrove 0.10.1's, same texts,
//! same run (see README.md): each filter alone over every text, and FineWeb's chain (Gopher
//! repetition → Gopher quality → C4 without its terminal-punctuation rule → FineWeb quality →
//! PII), documents going on only while kept. Texts: the shared curated prose and the CC-style
//! WARC's pages extracted by `sieve extract`. The peer runs with `$SIEVE_PEER_PYTHON` (a venv
//! with `datatrove==0.10.1 spacy==3.8.18 regex`).

use std::path::PathBuf;
use std::time::Duration;

use sieve::doc::Document;
use sieve::pipeline::spec::StageSpec;
use sieve::pipeline::stage::{Emit, Stage};
use sieve::stages::registry;

#[path = "common.rs"]
mod common;
use common::cpu_time;

fn stage(name: &str, options: &str) -> Box<dyn Stage> {
    let spec = StageSpec {
        name: name.into(),
        options: toml::from_str(options).unwrap(),
    };
    let mut stages = registry::factory(&[spec]).unwrap()("").unwrap();
    stages.remove(0)
}

fn chain() -> Vec<Box<dyn Stage>> {
    vec![
        stage("gopher-repetition", ""),
        stage("gopher-quality", ""),
        stage("c4-quality", "filter_no_terminal_punct = false"),
        stage("fineweb-quality", ""),
        stage("pii", ""),
    ]
}

/// CPU time for passing every text through `stages` in order, and how many came out.
fn time_chain(stages: &mut [Box<dyn Stage>], texts: &[String]) -> (Duration, usize) {
    let start = cpu_time();
    let mut kept = 0;
    let mut emit = Emit::default();
    for (i, text) in texts.iter().enumerate() {
        let mut doc = Some(Document {
            id: format!("b/{i}"),
            dataset: "b".into(),
            text: text.clone(),
            ..Default::default()
        });
        for s in stages.iter_mut() {
            let d = doc.take().unwrap();
            let mut e = std::mem::take(&mut emit);
            s.process(d, &mut e).unwrap();
            doc = e.take_kept();
            emit = e;
            if doc.is_none() {
                break;
            }
        }
        kept += usize::from(doc.is_some());
    }
    (cpu_time() - start, kept)
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("../shared/data");
    let warc = data.join("warc/synthetic-cc-style/real-html-cc-style.warc.gz");
    if !warc.exists() {
        eprintln!("skipping: {} not found (needs ../shared)", warc.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_sieve"))
        .args(["extract", "-q", "--format", "jsonl", "-j", "1", "-o"])
        .arg(dir.path().join("pages"))
        .arg(&warc)
        .status()
        .unwrap();
    assert!(status.success());
    let mut texts: Vec<String> = Vec::new();
    let prose = std::fs::read(data.join("quality/positives_english_prose.jsonl.gz")).unwrap();
    let mut prose_text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&prose[..]),
        &mut prose_text,
    )
    .unwrap();
    let pages = std::fs::read_to_string(dir.path().join("pages/real-html-cc-style.jsonl")).unwrap();
    for line in prose_text.lines().chain(pages.lines()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        texts.push(v["text"].as_str().unwrap().to_string());
    }
    let mb: f64 = texts.iter().map(|t| t.len()).sum::<usize>() as f64 / 1e6;
    println!(
        "texts: {} ({mb:.1} MB): shared prose and CC-style pages",
        texts.len()
    );

    let mut ours = serde_json::Map::new();
    let single = [
        ("gopher-repetition", ""),
        ("gopher-quality", ""),
        ("c4-quality", "filter_no_terminal_punct = false"),
        ("fineweb-quality", ""),
        ("pii", ""),
    ];
    for (name, opts) in single {
        let (t, _) = time_chain(&mut [stage(name, opts)], &texts);
        ours.insert(name.into(), t.as_secs_f64().into());
    }
    let mut best = Duration::MAX;
    let mut kept = 0;
    for _ in 0..3 {
        let (t, k) = time_chain(&mut chain(), &texts);
        best = best.min(t);
        kept = k;
    }
    ours.insert("chain".into(), best.as_secs_f64().into());

    let file = dir.path().join("texts.jsonl");
    let body: String = texts
        .iter()
        .map(|t| serde_json::json!({ "text": t }).to_string() + "\n")
        .collect();
    std::fs::write(&file, body).unwrap();
    let python = std::env::var("SIEVE_PEER_PYTHON").unwrap_or_else(|_| "python3".into());
    let peer = std::process::Command::new(&python)
        .arg(root.join("benches/peers/datatrove_filters.py"))
        .arg(&file)
        .output()
        .unwrap();
    let theirs: Option<serde_json::Value> = if peer.status.success() {
        serde_json::from_slice(
            peer.stdout
                .rsplit(|&b| b == b'\n')
                .find(|l| !l.is_empty())
                .unwrap(),
        )
        .ok()
    } else {
        eprintln!(
            "datatrove peer failed ({python}; needs datatrove==0.10.1 spacy==3.8.18 regex):\n{}",
            String::from_utf8_lossy(&peer.stderr)
        );
        None
    };
    let n = texts.len() as f64;
    println!(
        "{:<20} {:>12} {:>14} {:>8}",
        "filter", "sieve docs/s", "datatrove docs/s", "ratio"
    );
    for name in [
        "gopher-repetition",
        "gopher-quality",
        "c4-quality",
        "fineweb-quality",
        "pii",
        "chain",
    ] {
        let s = ours[name].as_f64().unwrap();
        match theirs.as_ref().and_then(|v| v["seconds"][name].as_f64()) {
            Some(p) => println!("{name:<20} {:>12.0} {:>14.0} {:>7.1}x", n / s, n / p, p / s),
            None => println!("{name:<20} {:>12.0}", n / s),
        }
    }
    if let Some(v) = &theirs {
        println!("chain kept: sieve {kept}, datatrove {}", v["kept"]["chain"]);
    }
}
