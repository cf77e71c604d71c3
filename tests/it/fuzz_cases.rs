//! Replays every input kept under `tests/fuzz-cases/<target>/` (each a finding of the fuzzers,
//! fixed) through its check in `sieve::fuzzing`, plus seeds every target with the project's
//! own sample files, so a regression of a fixed parser bug fails here, not only under
//! libFuzzer.

use std::path::Path;

use sieve::fuzzing::{check, TARGETS};

fn cases_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-cases")
}

#[test]
fn every_kept_fuzz_case_passes_its_check() {
    let mut ran = 0;
    for entry in std::fs::read_dir(cases_dir()).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let target = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            TARGETS.iter().any(|(n, _)| *n == target),
            "tests/fuzz-cases/{target}: no such fuzz target"
        );
        for case in std::fs::read_dir(&dir).unwrap() {
            let case = case.unwrap().path();
            let bytes = std::fs::read(&case).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&target, &bytes));
            assert!(outcome.is_ok(), "{} fails its check again", case.display());
            ran += 1;
        }
    }
    assert!(ran > 0, "no kept fuzz cases under tests/fuzz-cases");
}

/// The targets on real inputs of their kind (they must accept what sieve itself reads).
#[test]
fn every_fuzz_target_runs_on_the_sample_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| std::fs::read(root.join(p)).unwrap();
    let warc = read("data-samples/web/sample-web-00000.warc.gz");
    // warc_reader's first byte picks the compression: 0 = as stored.
    let mut raw = vec![0u8];
    raw.extend_from_slice(&warc[..warc.len().min(1 << 16)]);
    check("warc_reader", &raw).unwrap();
    // Garbage between two good records (mode 3): the second is found again.
    check(
        "warc_reader",
        b"\x03 not a record \x00\xff\r\n\r\nContent-Length: 5\r\n",
    )
    .unwrap();
    let mut jsonl = vec![0u8];
    jsonl.extend_from_slice(&read("data-samples/corpora/books.jsonl"));
    check("corpus_import", &jsonl).unwrap();
    check("toml_specs", &read("pipelines/sample.toml")).unwrap();
    check(
        "tokenizer",
        "Hello, world! Ünïcödé and 日本語 too.".as_bytes(),
    )
    .unwrap();
    check(
        "extract_page",
        b"<html><body><p>Some text here.</p></body></html>",
    )
    .unwrap();
    check(
        "http_payload",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>hi</p>",
    )
    .unwrap();
    check(
        "indexed_dataset",
        b"\x00\x10some bytes of a dataset\xffand more",
    )
    .unwrap();
    check("fasttext_model", b"not a model").unwrap();
}

/// The hand-made model kept as a case is a valid one (so the fasttext_model target's seed
/// reaches prediction): it loads, and its prediction depends on the words.
#[test]
fn the_kept_fasttext_model_is_valid() {
    use sieve::stages::fasttext_infer::SupervisedModel;
    let path = cases_dir().join("fasttext_model/valid-dense-model");
    let m = SupervisedModel::load(&path).unwrap();
    assert_eq!(m.labels(), ["__label__hq", "__label__lq"]);
    let (a, b) = (m.predict("the quick fox"), m.predict("fox fox fox"));
    assert!((a.iter().sum::<f32>() - 1.0).abs() < 1e-3, "{a:?}");
    assert_ne!(a, b);
}
