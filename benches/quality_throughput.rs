//! Quality scoring throughput against the Python fastText bindings, same model, same
//! documents, one run (see README.md). Documents: the extracted main text of the shared
//! CC-style WARC's pages, one per line as the classifier sees them.

use std::path::PathBuf;
use std::time::Duration;

use sieve::io::http_payload::{decode_payload, parse_response};
use sieve::io::warc::{RecordType, TypeFilter, WarcReader};
use sieve::stages::extract::dom::Dom;
use sieve::stages::extract::extractor::extract;
use sieve::stages::quality::{classifier_text, QualityModel};
use sieve::text::charset;

#[path = "common.rs"]
mod common;
use common::{cpu_time, run_fasttext_peer};

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let warc = root.join("../shared/data/warc/synthetic-cc-style/real-html-cc-style.warc.gz");
    if !warc.exists() {
        eprintln!("skipping: {} not found (needs ../shared)", warc.display());
        return;
    }
    let model_path = root.join("models/quality/mtnlg-quality.ftz");
    let reader = WarcReader::new(
        std::fs::File::open(&warc).unwrap(),
        TypeFilter::only(&[RecordType::Response]),
    );
    let docs: Vec<String> = reader
        .filter_map(Result::ok)
        .filter_map(|r| {
            let (head, raw) = parse_response(&r.block).ok()?;
            let html = charset::decode(
                &decode_payload(&head, raw, 64 << 20).bytes,
                head.charset().as_deref(),
            )
            .text;
            let text = extract(&Dom::parse(&html, 3000, 1_000_000).ok()?).text;
            (!text.is_empty()).then(|| classifier_text(&text))
        })
        .collect();
    let model = QualityModel::load(&model_path).unwrap();
    let mut best = Duration::MAX;
    let mut total = 0.0f64;
    for _ in 0..3 {
        let start = cpu_time();
        total = docs.iter().map(|d| model.score(d) as f64).sum();
        best = best.min(cpu_time() - start);
    }
    let ours = docs.len() as f64 / best.as_secs_f64();
    let mb = docs.iter().map(String::len).sum::<usize>() as f64 / 1e6;
    println!(
        "documents: {} ({mb:.1} MB of text), model {}",
        docs.len(),
        model_path.display()
    );
    println!(
        "sieve          : {ours:.0} docs/s, {:.1} MB/s (mean P(hq) {:.4})",
        mb / best.as_secs_f64(),
        total / docs.len() as f64
    );

    let script = root.join("benches/peers/fasttext_predict.py");
    if let Some(v) = run_fasttext_peer(&script, &model_path, &docs) {
        let peer = v["docs"].as_f64().unwrap() / v["cpu_seconds"].as_f64().unwrap();
        println!(
            "python fasttext: {peer:.0} docs/s (mean P(hq) {:.4})",
            v["mean_hq"].as_f64().unwrap()
        );
        println!(
            "ratio          : sieve is {:.2}x Python fastText",
            ours / peer
        );
    }
}
