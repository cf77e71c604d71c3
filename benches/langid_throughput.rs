//! Language-ID throughput on one core against the Python fastText bindings, same model
//! (lid.176.ftz), same texts, one run (see README.md): the multilingual paragraphs of
//! `sieve eval langid` (3-5 sentences of one language each). sieve's other backends (cld2,
//! the default, and whatlang) are timed on the same texts for comparison.

use std::path::PathBuf;
use std::time::Duration;

use sieve::eval::langid::paragraphs;
use sieve::stages::fasttext_model::one_line;
use sieve::stages::langid::{Backend, Identifier};

#[path = "common.rs"]
mod common;
use common::{cpu_time, run_fasttext_peer};

/// Best of three CPU times for labelling every text, and how many were labelled English.
fn time_backend(id: &Identifier, texts: &[String]) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut english = 0;
    for _ in 0..3 {
        let start = cpu_time();
        english = texts
            .iter()
            .filter(|t| id.identify(t).is_some_and(|g| g.lang == "en"))
            .count();
        best = best.min(cpu_time() - start);
    }
    (best, english)
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("../shared/data");
    let model = data.join("langid/fasttext-lid176/lid.176.ftz");
    if !model.exists() {
        eprintln!("skipping: {} not found (needs ../shared)", model.display());
        return;
    }
    // One line per text, as fastText reads them; every backend gets the same lines.
    let texts: Vec<String> = paragraphs(&data)
        .unwrap()
        .into_iter()
        .map(|p| one_line(&p.text))
        .collect();
    println!("texts: {} multilingual paragraphs", texts.len());
    let backends = [
        (
            "sieve lid.176 (Rust reader)",
            Identifier::new(Backend::default(), Some(&model)),
        ),
        ("sieve cld2", Identifier::new(Backend::Cld2, None)),
        ("sieve whatlang", Identifier::new(Backend::Whatlang, None)),
    ];
    let mut ours = 0.0;
    for (name, id) in &backends {
        let (t, english) = time_backend(id.as_ref().unwrap(), &texts);
        let rate = texts.len() as f64 / t.as_secs_f64();
        if ours == 0.0 {
            ours = rate;
        }
        println!("{name:<28}: {rate:>8.0} docs/s ({english} labelled en)");
    }

    let script = root.join("benches/peers/fasttext_lid.py");
    if let Some(v) = run_fasttext_peer(&script, &model, &texts) {
        let peer = v["docs"].as_f64().unwrap() / v["cpu_seconds"].as_f64().unwrap();
        println!(
            "{:<28}: {peer:>8.0} docs/s ({} labelled en)",
            "python fasttext lid.176", v["english"]
        );
        println!(
            "ratio: sieve's lid.176 is {:.2}x Python fastText's",
            ours / peer
        );
    }
}
