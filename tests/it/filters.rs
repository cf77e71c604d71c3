//! The Gopher, C4, FineWeb, URL and PII filters against datatrove 0.10.1 itself, decision for
//! decision (tests/python/filters_agreement.py does the work; needs ../shared and a Python with
//! datatrove and spaCy, which scripts/test.sh installs), and the generated spaCy tables against
//! the pinned spaCy.

use std::process::Command;

use crate::util::{python_with, repo, run_ok, shared_data};

const MODULES: &[&str] = &[
    "datatrove",
    "spacy",
    "regex",
    "tldextract",
    "ahocorasick",
    "fasteners",
];

#[test]
fn datatrove_filters_agree_decision_for_decision() {
    let Some(shared) = shared_data() else { return };
    let Some(python) = python_with(MODULES) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let out = Command::new(&python)
        .arg(repo().join("tests/python/filters_agreement.py"))
        .arg(env!("CARGO_BIN_EXE_sieve"))
        .arg(&shared)
        .arg(work.path())
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "sieve's filters disagree with datatrove's:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The harness really compared: every filter row is there, over at least 5,000 documents.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.path().join("agreement.json")).unwrap())
            .unwrap();
    assert!(summary["documents"].as_u64().unwrap() >= 5000);
    let names: Vec<&str> = summary["filters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filter"].as_str().unwrap().split(' ').next().unwrap())
        .collect();
    for stage in [
        "gopher-repetition",
        "gopher-quality",
        "c4-quality",
        "fineweb-quality",
        "url-filter",
    ] {
        assert!(names.contains(&stage), "{stage} missing from {names:?}");
    }
}

#[test]
fn spacy_tables_are_what_the_pinned_spacy_gives() {
    let Some(python) = python_with(MODULES) else {
        return;
    };
    crate::util::assert_generated_file_is_committed(
        &python,
        "scripts/spacy-tables.py",
        "src/text/spacy_en/tables.rs",
    );
}

/// `pipelines/fineweb.toml` pointed at the sample pages runs end to end, every stage of
/// FineWeb's recipe in its order, and the data card's drop table shows the URL filter's
/// counts as computed here from the pages' URLs and the sample block list.
#[test]
fn fineweb_recipe_runs_on_the_sample_and_its_card_shows_the_reasons() {
    // The spec's language model is lid.176 from ../shared.
    if shared_data().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fineweb");
    let web = repo().join("data-samples/web");
    let input = format!("cc={}", web.display());
    let spec = repo().join("pipelines/fineweb.toml");
    run_ok(&[
        "run",
        spec.to_str().unwrap(),
        "--input",
        &input,
        "-o",
        out.to_str().unwrap(),
        "-q",
    ]);

    let stats = crate::util::stats(&out);
    let order: Vec<&str> = stats["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "read",
            "url-filter",
            "extract",
            "langid",
            "gopher-repetition",
            "gopher-quality",
            "c4-quality",
            "fineweb-quality",
            "dedup",
            "pii"
        ]
    );

    // Independently: the pages (every record `sieve warc` reads as a document) by host.
    let raw = dir.path().join("raw");
    run_ok(&[
        "warc",
        "--format",
        "jsonl",
        "-q",
        "-o",
        raw.to_str().unwrap(),
        web.to_str().unwrap(),
    ]);
    let (mut domain, mut subdomain) = (0u64, 0u64);
    for entry in std::fs::read_dir(&raw).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            for doc in crate::util::docs_of(&path) {
                let url = doc.url.unwrap_or_default();
                let host = url
                    .split("://")
                    .nth(1)
                    .unwrap_or("")
                    .split('/')
                    .next()
                    .unwrap_or("");
                if host == "example.net" || host.ends_with(".example.net") {
                    domain += 1;
                } else if host == "copycat.example.org" {
                    subdomain += 1;
                }
            }
        }
    }
    assert!(
        domain > 0 && subdomain > 0,
        "the sample has pages of both blocked hosts"
    );
    let url_filter = crate::util::read_stage(&stats, "url-filter");
    assert_eq!(url_filter["dropped"]["domain"].as_u64(), Some(domain));
    assert_eq!(url_filter["dropped"]["subdomain"].as_u64(), Some(subdomain));

    // The card's drop table says the same, and lists every filter's reasons.
    let card = std::fs::read_to_string(out.join("report/README.md")).unwrap();
    assert!(
        card.contains(&format!("| url-filter | domain | dropped | {domain} |")),
        "{card}"
    );
    assert!(card.contains(&format!(
        "| url-filter | subdomain | dropped | {subdomain} |"
    )));
    for stage in [
        "gopher-repetition",
        "gopher-quality",
        "c4-quality",
        "fineweb-quality",
    ] {
        let dropped = crate::util::read_stage(&stats, stage)["dropped"]
            .as_object()
            .unwrap()
            .clone();
        for (reason, n) in dropped {
            let row = format!("| {stage} | {reason} | dropped | {n} |");
            assert!(card.contains(&row), "{row} missing from the card");
        }
    }
}
