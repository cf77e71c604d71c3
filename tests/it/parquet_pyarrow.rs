//! Parquet output is read back by pyarrow, the reader most users have.
//!
//! Uses `$SIEVE_TEST_PYTHON` (set by .ci/run to a venv with pyarrow); without it, `python3`
//! if it has pyarrow, else the test says why it skips.

use std::process::Command;

use crate::util::repo;

#[test]
fn pyarrow_reads_sieve_parquet_with_the_documented_schema() {
    let explicit = std::env::var("SIEVE_TEST_PYTHON").ok();
    let python = explicit.clone().unwrap_or_else(|| "python3".into());
    let has_pyarrow = Command::new(&python)
        .args(["-c", "import pyarrow"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_pyarrow {
        assert!(
            explicit.is_none(),
            "SIEVE_TEST_PYTHON={python} has no pyarrow"
        );
        sieve::testing::skip(&format!(
            "pyarrow ({python} has none; set SIEVE_TEST_PYTHON)"
        ));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    crate::util::warc_sample_into(&out);
    let ours: Vec<_> = crate::util::docs_of(&out.join("sample-web-00000.parquet"));
    let check = Command::new(&python)
        .arg(repo().join("tests/python/check_parquet.py"))
        .arg(out.join("sample-web-00000.parquet"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "pyarrow check failed:\n{}\n{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(report["rows"], ours.len());
    assert_eq!(report["first_id"], ours[0].id);
    assert_eq!(report["first_url"], ours[0].url.clone().unwrap());
    assert_eq!(
        report["text_chars"],
        ours.iter().map(|d| d.text.chars().count()).sum::<usize>()
    );
    assert_eq!(report["first_meta_charset"], ours[0].meta["charset"]);
}
