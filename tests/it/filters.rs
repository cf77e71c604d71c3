//! The Gopher, C4, FineWeb, URL and PII filters against datatrove 0.10.1 itself, decision for
//! decision (tests/python/filters_agreement.py does the work; needs ../shared and a Python with
//! datatrove and spaCy, which scripts/test.sh installs), and the generated spaCy tables against
//! the pinned spaCy.

use std::process::Command;

use crate::util::{python_with, repo, shared_data};

const MODULES: &[&str] = &["datatrove", "spacy", "regex", "tldextract", "ahocorasick", "fasteners"];

#[test]
fn datatrove_filters_agree_decision_for_decision() {
    let Some(shared) = shared_data() else { return };
    let Some(python) = python_with(MODULES) else { return };
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
        serde_json::from_slice(&std::fs::read(work.path().join("agreement.json")).unwrap()).unwrap();
    assert!(summary["documents"].as_u64().unwrap() >= 5000);
    let names: Vec<&str> = summary["filters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["filter"].as_str().unwrap().split(' ').next().unwrap())
        .collect();
    for stage in ["gopher-repetition", "gopher-quality", "c4-quality", "fineweb-quality", "url-filter"] {
        assert!(names.contains(&stage), "{stage} missing from {names:?}");
    }
}

#[test]
fn spacy_tables_are_what_the_pinned_spacy_gives() {
    let Some(python) = python_with(MODULES) else { return };
    let generated = Command::new(&python)
        .arg(repo().join("scripts/spacy-tables.py"))
        .output()
        .expect("python runs");
    assert!(generated.status.success(), "{}", String::from_utf8_lossy(&generated.stderr));
    let mut rustfmt = Command::new("rustfmt")
        .args(["--edition", "2021", "--emit", "stdout"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("rustfmt runs");
    use std::io::Write;
    rustfmt.stdin.take().unwrap().write_all(&generated.stdout).unwrap();
    let formatted = rustfmt.wait_with_output().unwrap();
    let committed = std::fs::read_to_string(repo().join("src/text/spacy_en/tables.rs")).unwrap();
    assert!(
        String::from_utf8_lossy(&formatted.stdout) == committed,
        "src/text/spacy_en/tables.rs differs from what scripts/spacy-tables.py makes with the \
         installed spaCy: regenerate it (see the script's header)"
    );
}
