//! One malformed input of each kind the CLI reads: the message names the file and where in
//! it (line, byte or sequence), the other inputs are still processed, and the run's stats
//! count a failed input. (Malformed WARC records: `malformed_warcs.rs`; a JSONL line that is
//! not JSON: `cli_runs.rs`.)

use std::path::Path;

use crate::util::{repo, run_expect, run_ok, stats};

fn write(path: &Path, bytes: &[u8]) -> String {
    std::fs::write(path, bytes).unwrap();
    path.to_str().unwrap().to_string()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A Parquet file cut short beside a good corpus: the good one is imported, the bad one is
/// named with its reason and listed in the run's stats until a re-run reads it.
#[test]
fn a_damaged_parquet_corpus_is_named_counted_and_the_others_imported() {
    let d = tempfile::tempdir().unwrap();
    let good = repo().join("data-samples/corpora/books.jsonl");
    let out = d.path().join("parquet");
    run_ok(&[
        "import",
        "-q",
        "--dataset",
        "b",
        "-o",
        out.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    let whole = std::fs::read(out.join("books.parquet")).unwrap();
    let bad = write(&d.path().join("cut.parquet"), &whole[..whole.len() / 2]);
    let run = d.path().join("run");
    let o = run_expect(
        &[
            "import",
            "-q",
            "--dataset",
            "x",
            "-o",
            run.to_str().unwrap(),
            good.to_str().unwrap(),
            &bad,
        ],
        2,
    );
    let err = stderr(&o);
    let footer = format!("footer at byte {}", whole.len() / 2 - 8);
    assert!(
        err.contains("cut.parquet") && err.contains(&footer),
        "{err}"
    );
    assert!(
        run.join("books.parquet").exists(),
        "the good corpus was not imported"
    );
    let s = stats(&run);
    let failed = s["failed_inputs"]
        .as_object()
        .expect("failed_inputs in stats.json");
    assert_eq!(failed.len(), 1, "{s}");
    let (input, why) = failed.iter().next().unwrap();
    assert!(
        input.ends_with("cut.parquet") && why.as_str().unwrap().contains("Parquet"),
        "{s}"
    );
    // Repaired, the input is read by a re-run and no longer counted as failed.
    std::fs::write(&bad, &whole).unwrap();
    run_ok(&[
        "import",
        "-q",
        "--dataset",
        "x",
        "-o",
        run.to_str().unwrap(),
        good.to_str().unwrap(),
        &bad,
    ]);
    assert!(
        stats(&run).get("failed_inputs").is_none(),
        "{}",
        stats(&run)
    );
}

/// A fastText model cut short, as a quality model and as a language-ID model: refused before
/// any work, naming the file and the byte where reading stopped.
#[test]
fn a_damaged_fasttext_model_is_named_with_its_byte_offset() {
    let d = tempfile::tempdir().unwrap();
    let model = repo().join("tests/fuzz-cases/fasttext_model/valid-dense-model");
    let bytes = std::fs::read(model).unwrap();
    let bad = write(&d.path().join("cut.bin"), &bytes[..200]);
    let shards = d.path().join("shards");
    let corpus = repo().join("data-samples/corpora/books.jsonl");
    let (shards_s, corpus_s) = (shards.to_str().unwrap(), corpus.to_str().unwrap());
    run_ok(&["import", "-q", "--dataset", "b", "-o", shards_s, corpus_s]);
    let outs = [d.path().join("quality"), d.path().join("langid")];
    let (q, l) = (outs[0].to_str().unwrap(), outs[1].to_str().unwrap());
    let runs: [Vec<&str>; 2] = [
        vec![
            "quality", "filter", "-q", "--model", &bad, "-o", q, shards_s,
        ],
        vec!["langid", "-q", "--lid-model", &bad, "-o", l, shards_s],
    ];
    for (args, out) in runs.iter().zip(&outs) {
        let err = stderr(&run_expect(args, 1));
        assert!(err.contains("cut.bin: at byte "), "{args:?}: {err}");
        assert!(
            !out.join("b.parquet").exists(),
            "{args:?} wrote output with a damaged model"
        );
    }
}

/// A tokenizer.json that is not JSON: named with its line and column.
#[test]
fn a_damaged_tokenizer_file_is_named_with_its_line() {
    let d = tempfile::tempdir().unwrap();
    let bad = write(
        &d.path().join("tokenizer.json"),
        b"{\n  \"model\": {\n    \"vocab\": [1, 2,\n",
    );
    let input = repo().join("data-samples/corpora/books.jsonl");
    let out = d.path().join("out");
    let o = run_expect(
        &[
            "tokenize",
            "-q",
            "--tokenizer",
            &bad,
            "-o",
            out.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        1,
    );
    let err = stderr(&o);
    assert!(
        err.contains("tokenizer.json") && err.contains("line"),
        "{err}"
    );
}

/// A pipeline spec, a blend spec and a task set with a syntax error: each named with its
/// line.
#[test]
fn damaged_specs_are_named_with_their_line() {
    let d = tempfile::tempdir().unwrap();
    let spec = write(
        &d.path().join("pipe.toml"),
        b"[output]\ndir = \"out\"\n[[input\nfiles = []\n",
    );
    let err = stderr(&run_expect(&["run", &spec], 1));
    assert!(err.contains("pipe.toml") && err.contains("line 3"), "{err}");
    let blend = write(
        &d.path().join("blend.toml"),
        b"seed = 1\nsplit = \"90,10\nweight = 1\n",
    );
    let out = d.path().join("b");
    let err = stderr(&run_expect(
        &["blend", "-q", "--spec", &blend, "-o", out.to_str().unwrap()],
        1,
    ));
    assert!(
        err.contains("blend.toml") && err.contains("line 2"),
        "{err}"
    );
    let tasks = write(
        &d.path().join("tasks.toml"),
        b"[[task]]\nname = \"qa\"\npaths = [\"x.jsonl\"\n",
    );
    let input = repo().join("data-samples/corpora/books.jsonl");
    let out = d.path().join("c");
    let err = stderr(&run_expect(
        &[
            "decontam",
            "-q",
            "--tasks",
            &tasks,
            "-o",
            out.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        1,
    ));
    assert!(
        err.contains("tasks.toml") && err.contains("line 3"),
        "{err}"
    );
}

/// A tokenized dataset whose index is damaged: the blend names the .idx file and the
/// sequence (with its byte offset) where the index goes wrong.
#[test]
fn a_damaged_token_index_is_named_with_its_offset() {
    let d = tempfile::tempdir().unwrap();
    let tokens = d.path().join("tokens");
    let corpora = repo().join("data-samples/corpora");
    let shards = d.path().join("shards");
    run_ok(&[
        "import",
        "-q",
        "--dataset",
        "books",
        "-o",
        shards.to_str().unwrap(),
        corpora.join("books.jsonl").to_str().unwrap(),
    ]);
    run_ok(&[
        "tokenize",
        "-q",
        "-o",
        tokens.to_str().unwrap(),
        shards.to_str().unwrap(),
    ]);
    let idx = walk(&tokens)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "idx"))
        .unwrap();
    let mut bytes = std::fs::read(&idx).unwrap();
    // The second sequence's length (after the 34-byte header) made negative.
    bytes[34 + 4..34 + 8].copy_from_slice(&(-5i32).to_le_bytes());
    std::fs::write(&idx, &bytes).unwrap();
    let spec = write(
        &d.path().join("blend.toml"),
        b"target_tokens = 1000\nsplit = \"90,10,0\"\nseed = 1\nseq_length = 64\n[[dataset]]\nname = \"books\"\nweight = 1.0\n",
    );
    let out = d.path().join("blend");
    let o = run_expect(
        &[
            "blend",
            "-q",
            "--spec",
            &spec,
            "--tokens",
            tokens.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        1,
    );
    let err = stderr(&o);
    let name = idx.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        err.contains(&name) && err.contains("sequence 1") && err.contains("byte 38"),
        "{err}"
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A blend whose weights would repeat a dataset more often than its `max_epochs` allows is
/// refused before anything is written, naming the dataset and by how much.
#[test]
fn a_blend_over_a_datasets_max_epochs_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let corpora = repo().join("data-samples/corpora");
    let shards = d.path().join("shards");
    let tokens = d.path().join("tokens");
    run_ok(&[
        "import",
        "-q",
        "--dataset",
        "books",
        "-o",
        shards.to_str().unwrap(),
        corpora.join("books.jsonl").to_str().unwrap(),
    ]);
    run_ok(&[
        "tokenize",
        "-q",
        "-o",
        tokens.to_str().unwrap(),
        shards.to_str().unwrap(),
    ]);
    let spec = |max_epochs: f64| {
        format!(
            "target_tokens = 200000\nsplit = \"90,10,0\"\nseed = 1\nseq_length = 64\n\
             [[dataset]]\nname = \"books\"\nweight = 1.0\nmax_epochs = {max_epochs:?}\n"
        )
    };
    // About 30k tokens of books: 200k tokens repeat the train split about 7 times.
    let capped = write(&d.path().join("capped.toml"), spec(2.0).as_bytes());
    let out = d.path().join("blend");
    let o = run_expect(
        &[
            "blend",
            "-q",
            "--spec",
            &capped,
            "--tokens",
            tokens.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        1,
    );
    let err = stderr(&o);
    assert!(
        err.contains("dataset books") && err.contains("max_epochs 2"),
        "{err}"
    );
    assert!(!out.join("manifest.json").exists());
    let roomy = write(&d.path().join("roomy.toml"), spec(20.0).as_bytes());
    run_ok(&[
        "blend",
        "-q",
        "--spec",
        &roomy,
        "--tokens",
        tokens.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let epochs = manifest["datasets"][0]["splits"]["train"]["epochs"]
        .as_f64()
        .unwrap();
    assert!(epochs > 2.0 && epochs < 20.0, "{epochs}");
}
