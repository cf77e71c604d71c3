//! tokenize's rarely taken branches: dataset names that cannot be directory names.

use crate::recipe::{corpus, doc, letters};
use crate::util::{run_ok, sieve};

/// A document's dataset names the directory its tokens go to, so a name that would leave
/// the output directory, hide in it or need quoting is refused, naming it; the names the
/// rule allows (letters, digits, `-`, `_`, `.` not first) are written where they say.
#[test]
fn dataset_names_that_cannot_name_a_directory_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let jsonl = corpus(dir, "docs.jsonl", &[doc("a", letters(1, 40))]);
    let names = [
        ("../evil", false),
        (".hidden", false),
        ("", false),
        ("a b", false),
        ("x/y", false),
        ("é", false),
        ("web-2.0_X9", true),
        ("a.", true),
    ];
    for (k, (name, ok)) in names.iter().enumerate() {
        let shards = dir.join(format!("shards-{k}"));
        let (s, i) = (shards.to_str().unwrap(), jsonl.to_str().unwrap());
        run_ok(&["import", "-q", "--dataset", name, "-o", s, i]);
        let tokens = dir.join(format!("work-{k}/tokens"));
        let run = sieve()
            .args(["tokenize", "-q", "-o", tokens.to_str().unwrap(), s])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.success(), *ok, "{name:?}: {err}");
        if *ok {
            assert!(tokens.join(name).is_dir(), "{name:?}");
        } else {
            let said = format!(
                "dataset name {name:?} cannot name a directory (use letters, digits, - _ .)"
            );
            assert!(err.contains(&said), "{name:?}: {err}");
            // Nothing was written beside or above the output directory.
            assert!(!dir.join(format!("work-{k}/evil")).exists());
            assert!(!tokens.join(".hidden").exists());
        }
    }
}

/// A word-level tokenizer knowing three words and no unknown-word token: any other word
/// cannot be encoded (the `tokenizers` library reports a missing unknown token).
fn three_word_tokenizer(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("three-words.json");
    let json = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [{"id": 2, "content": "<|endoftext|>", "single_word": false,
            "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": null, "decoder": null,
        "model": {"type": "WordLevel", "vocab": {"hello": 0, "there": 1, "<|endoftext|>": 2},
            "unk_token": "[UNK]"},
    });
    std::fs::write(&path, json.to_string()).unwrap();
    path
}

/// `sieve tokenize -q --tokenizer TOKENIZER -o OUT CORPUS`: its stderr and `tokenize.json`.
fn tokenize_corpus(
    dir: &std::path::Path,
    tag: &str,
    tokenizer: &std::path::Path,
    lines: &[String],
) -> (String, serde_json::Value) {
    let corpus = dir.join(format!("{tag}.jsonl"));
    std::fs::write(&corpus, lines.join("\n") + "\n").unwrap();
    let out = dir.join(format!("{tag}-tokens"));
    let run = run_ok(&[
        "tokenize",
        "-q",
        "--tokenizer",
        tokenizer.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        corpus.to_str().unwrap(),
    ]);
    let manifest = crate::recipe::json_file(&out.join("tokenize.json"));
    (String::from_utf8(run.stderr).unwrap(), manifest)
}

/// The lines of `stderr` where tokenize names a record or document it could not use.
fn named_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("sieve tokenize: "))
        .collect()
}

/// Records that cannot be read and documents that cannot be encoded are counted in
/// `tokenize.json` and the first 20 of each run are named; a document that encodes to no
/// token is counted as empty; the rest are tokenized.
#[test]
fn unreadable_and_unencodable_documents_are_counted_and_the_first_twenty_named() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let tokenizer = three_word_tokenizer(dir);
    let good = r#"{"id": "good", "dataset": "p", "text": "hello there hello"}"#;

    // 25 lines that are not JSON, then a good document.
    let mut lines: Vec<String> = (0..25).map(|i| format!("{{broken {i}")).collect();
    lines.push(good.into());
    let (err, m) = tokenize_corpus(dir, "broken", &tokenizer, &lines);
    let named = named_errors(&err);
    assert_eq!(named.len(), 20, "{err}");
    assert!(
        named[0].contains("broken.jsonl") && named[0].contains("line 1 "),
        "{err}"
    );
    assert!(named[19].contains("line 20 "), "{err}");
    assert_eq!(m["errors"], 25, "{m}");
    assert_eq!(m["documents_read"], 1, "{m}");
    assert_eq!(m["empty"], 0, "{m}");
    assert_eq!(m["datasets"]["p"]["documents"], 1, "{m}");
    // hello there hello, then the end of the document.
    assert_eq!(m["datasets"]["p"]["tokens"], 4, "{m}");

    // 25 documents with a word the tokenizer cannot encode, one of spaces only, a good one.
    let mut lines: Vec<String> = (0..25)
        .map(|i| format!(r#"{{"id": "u{i}", "dataset": "p", "text": "hello stranger{i}"}}"#))
        .collect();
    lines.push(r#"{"id": "blank", "dataset": "p", "text": "   "}"#.into());
    lines.push(good.into());
    let (err, m) = tokenize_corpus(dir, "strangers", &tokenizer, &lines);
    let named = named_errors(&err);
    assert_eq!(named.len(), 20, "{err}");
    assert!(
        named[0].contains("strangers.jsonl: document u0: tokenizer: "),
        "{err}"
    );
    assert!(named[19].contains("document u19: "), "{err}");
    assert_eq!(m["errors"], 25, "{m}");
    assert_eq!(m["documents_read"], 27, "{m}");
    assert_eq!(m["empty"], 1, "{m}");
    assert_eq!(m["datasets"]["p"]["documents"], 1, "{m}");
}

/// Tokenizing as two tasks: the first says what is left (unless quiet) and writes no
/// manifest; the second writes `tokenize.json` with the two shards' counts added up, the
/// same bytes as one run over both. The directory then refuses another seed or tokenizer,
/// and takes a rerun with the same ones.
#[test]
fn tokenize_in_tasks_adds_up_every_shards_counts_and_keeps_its_settings() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let a = dir.join("a.jsonl");
    std::fs::write(
        &a,
        "{\"id\": \"a1\", \"dataset\": \"p\", \"text\": \"one document\"}\n\
         {\"id\": \"a2\", \"dataset\": \"p\", \"text\": \"\"}\n",
    )
    .unwrap();
    let b = dir.join("b.jsonl");
    std::fs::write(
        &b,
        "{\"id\": \"b1\", \"dataset\": \"p\", \"text\": \"another\"}\n{broken\n\
         {\"id\": \"b2\", \"dataset\": \"q\", \"text\": \"and a third one\"}\n",
    )
    .unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let whole = dir.join("whole");
    run_ok(&["tokenize", "-q", "-o", whole.to_str().unwrap(), a, b]);

    let tasks = dir.join("tasks");
    let t = tasks.to_str().unwrap();
    let first = run_ok(&["tokenize", "--shard", "0/2", "-o", t, a, b]);
    let said = String::from_utf8_lossy(&first.stderr);
    assert!(
        said.contains(
            "sieve tokenize: 1 of 2 shards still to do; tokenize.json is written when all are"
        ),
        "{said}"
    );
    assert!(!tasks.join("tokenize.json").exists());
    let quiet = dir.join("quiet");
    let q = run_ok(&[
        "tokenize",
        "-q",
        "--shard",
        "0/2",
        "-o",
        quiet.to_str().unwrap(),
        a,
        b,
    ]);
    assert_eq!(String::from_utf8_lossy(&q.stderr), "");
    run_ok(&["tokenize", "-q", "--shard", "1/2", "-o", t, a, b]);
    // Each shard's record says which input it read and which prefixes came from it.
    let mut records = Vec::new();
    for entry in std::fs::read_dir(tasks.join("records")).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
        let r = crate::recipe::json_file(&path);
        assert_eq!(r["stem"], stem.as_str(), "{r}");
        for part in r["parts"].as_object().unwrap().values() {
            let prefix = part["prefix"].as_str().unwrap();
            assert!(prefix.ends_with(&format!("/{stem}")), "{prefix} in {r}");
        }
        records.push((r["input"].as_str().unwrap().to_string(), r["parts"].clone()));
    }
    records.sort_by(|x, y| x.0.cmp(&y.0));
    let inputs: Vec<&str> = records.iter().map(|(input, _)| input.as_str()).collect();
    assert_eq!(inputs, ["a.jsonl", "b.jsonl"]);
    let datasets = |parts: &serde_json::Value| -> Vec<String> {
        parts.as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(datasets(&records[0].1), ["p"]);
    assert_eq!(datasets(&records[1].1), ["p", "q"]);
    let m = crate::recipe::json_file(&tasks.join("tokenize.json"));
    assert_eq!(m["documents_read"], 4, "{m}");
    assert_eq!(m["empty"], 1, "{m}");
    assert_eq!(m["errors"], 1, "{m}");
    assert_eq!(m["datasets"]["p"]["documents"], 2, "{m}");
    assert_eq!(m["datasets"]["q"]["documents"], 1, "{m}");
    assert_eq!(
        m["datasets"]["p"]["prefixes"].as_array().unwrap().len(),
        2,
        "{m}"
    );
    // GPT-2: "one document" and "another" are 2 and 1 tokens, each with its end of document.
    assert_eq!(m["datasets"]["p"]["tokens"], 5, "{m}");
    assert_eq!(
        std::fs::read(tasks.join("tokenize.json")).unwrap(),
        std::fs::read(whole.join("tokenize.json")).unwrap()
    );

    let tokenizer = three_word_tokenizer(dir);
    for other in [
        vec!["--seed", "7"],
        vec!["--tokenizer", tokenizer.to_str().unwrap()],
    ] {
        let mut args = vec!["tokenize", "-q"];
        args.extend(&other);
        args.extend(["-o", t, a, b]);
        let run = sieve().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{other:?}: {err}");
        assert!(
            err.contains("was written with another tokenizer or seed; use a new output directory"),
            "{other:?}: {err}"
        );
    }
    // The rerun finds every shard done, and says what the directory holds.
    let rerun = run_ok(&["tokenize", "-o", t, a, b]);
    let said = String::from_utf8_lossy(&rerun.stderr);
    assert!(
        said.contains("end of document 50256): 4 documents read, 1 empty, 1 unreadable"),
        "{said}"
    );
    let p_line = said
        .lines()
        .find(|l| l.trim_start().starts_with("p "))
        .unwrap();
    let words: Vec<&str> = p_line.split_whitespace().collect();
    assert_eq!(
        words,
        ["p", "2", "documents", "5", "tokens", "(2", "prefixes)"]
    );
}
