//! Documented options at a value other than their default, each with an outcome that only a
//! correct implementation gives (the settings tests check only that flag and spec key agree).
//! docs/testing.md lists which test holds each option.

use std::collections::BTreeSet;

use crate::recipe::Way::Command;
use crate::recipe::{
    corpus, doc, documents, imported, json_file, letters, quoting, run_stage, NGRAM,
};
use crate::util::run_ok;

/// `--df-threshold 3`: an n-gram in 2 documents is still task text and cut; one in 3 is
/// common text and stays.
#[test]
fn decontam_df_threshold() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let rare = NGRAM.replace(' ', "r ") + "r";
    let common = NGRAM.replace(' ', "c ") + "c";
    let mut docs = Vec::new();
    for i in 0..2 {
        docs.push(doc(&format!("rare{i}"), quoting(10 + 2 * i, &rare)));
    }
    for i in 0..3 {
        docs.push(doc(&format!("common{i}"), quoting(50 + 2 * i, &common)));
    }
    let jsonl = corpus(dir, "docs.jsonl", &docs);
    let tasks = [doc("t0", rare.clone()), doc("t1", common.clone())];
    let task = corpus(dir, "task.jsonl", &tasks);
    let flag = format!("qa={}", task.display());
    let args = ["decontam", "--task", &flag, "--df-threshold", "3"];
    let out = run_stage(Command, dir, "decontam", &jsonl, &args, "");
    let texts: Vec<String> = documents(&out)
        .iter()
        .map(|d| d["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(texts.iter().filter(|t| t.contains(&rare)).count(), 0);
    assert_eq!(texts.iter().filter(|t| t.contains(&common)).count(), 3);
    let summary = json_file(&out.join("decontam-summary.json"));
    assert_eq!(summary["documents_cut"], 2, "{summary}");
}

/// `--alpha 9` (GPT-3's shape): every recorded draw is U^(−1/9) − 1.
#[test]
fn quality_alpha() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let docs: Vec<_> = (0..20)
        .map(|i| doc(&format!("q{i}"), format!("the report {}", letters(i, 30))))
        .collect();
    let jsonl = corpus(dir, "docs.jsonl", &docs);
    let model = crate::util::repo().join("models/quality/mtnlg-quality.ftz");
    let args = [
        "quality",
        "filter",
        "--model",
        model.to_str().unwrap(),
        "--alpha",
        "9",
        "--seed",
        "4",
    ];
    let out = run_stage(Command, dir, "quality", &jsonl, &args, "");
    let kept = documents(&out);
    let rejected = documents(&out.join("rejected"));
    assert_eq!(kept.len() + rejected.len(), 20);
    for doc in kept.iter().chain(&rejected) {
        let u = sieve::stages::quality::uniform_draw(4, doc["id"].as_str().unwrap());
        let draw = u.powf(-1.0 / 9.0) - 1.0;
        let recorded = doc["meta"]["quality_pareto_draw"].as_str().unwrap();
        assert_eq!(recorded, format!("{draw:.6}"), "{doc}");
        let score = doc["quality"].as_f64().unwrap();
        assert_eq!(kept.contains(doc), draw > 1.0 - score, "{doc}");
    }
}

/// `--megatron-general-cleaning`: runs of spaces become one, and a line break after a word
/// becomes a space (Megatron's `re.sub(r"  +|\b\n+ |\b\n+", " ", text)`); a line break after
/// punctuation stays.
#[test]
fn clean_megatron_general_cleaning() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let body = letters(1, 600);
    let text = format!("one  two\nthree.\nfour {body}");
    let jsonl = corpus(dir, "docs.jsonl", &[doc("g", text)]);
    let plain = run_stage(Command, dir, "plain", &jsonl, &["clean"], "");
    let args = ["clean", "--megatron-general-cleaning"];
    let megatron = run_stage(Command, dir, "megatron", &jsonl, &args, "");
    let text_of = |out| documents(out)[0]["text"].as_str().unwrap().to_string();
    assert_eq!(text_of(&megatron), format!("one two three.\nfour {body}"));
    // Without the option clean's own whitespace rule keeps the line breaks.
    assert_eq!(text_of(&plain), format!("one two\nthree.\nfour {body}"));
}

/// `--no-stream`: the per-dataset prefixes, `blend.txt` and the blending indices are written,
/// the blended token stream is not, and the manifest says so.
#[test]
fn blend_no_stream() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let docs: Vec<_> = (0..10)
        .map(|i| doc(&format!("d{i}"), letters(3 + i, 80)))
        .collect();
    let jsonl = corpus(dir, "docs.jsonl", &docs);
    let shards = imported(dir, &jsonl);
    let tokens = dir.join("tokens");
    let t = tokens.to_str().unwrap();
    run_ok(&["tokenize", "-q", "-o", t, shards.to_str().unwrap()]);
    let spec = dir.join("blend.toml");
    std::fs::write(
        &spec,
        format!(
            "target_tokens = 400\nsplit = \"90,10,0\"\nseq_length = 16\n\
             [[dataset]]\nname = \"web\"\npath = \"{t}/web\"\nweight = 1.0\n"
        ),
    )
    .unwrap();
    let s = spec.to_str().unwrap();
    let (with, without) = (dir.join("with"), dir.join("without"));
    run_ok(&["blend", "-q", "--spec", s, "-o", with.to_str().unwrap()]);
    let o = without.to_str().unwrap();
    run_ok(&["blend", "-q", "--spec", s, "--no-stream", "-o", o]);
    let files =
        |p: &std::path::Path| -> BTreeSet<String> { crate::util::tree(p).into_keys().collect() };
    let (all, some) = (files(&with), files(&without));
    let missing: BTreeSet<&String> = all.difference(&some).collect();
    let expected: BTreeSet<String> = ["train", "valid"]
        .iter()
        .flat_map(|s| ["bin", "idx"].map(|x| format!("stream/{s}_text_document.{x}")))
        .collect();
    assert_eq!(missing, expected.iter().collect(), "{some:?}");
    assert!(some.contains("blend.txt") && some.contains("stream/train_dataset_index.npy"));
    let manifest = json_file(&without.join("manifest.json"));
    for split in ["train", "valid"] {
        let entry = &manifest["streams"][split];
        assert!(entry["prefix"].is_null(), "{manifest}");
        assert_eq!(
            entry["samples"],
            json_file(&with.join("manifest.json"))["streams"][split]["samples"]
        );
    }
    // The same documents in the per-dataset prefix either way.
    let prefix = "datasets/web_text_document.bin";
    assert_eq!(
        crate::util::tree(&with)[prefix],
        crate::util::tree(&without)[prefix]
    );
}

/// `--ngram 10 --min-ngram 6 --context-chars 50 --min-piece-chars 60 --max-pieces 3`: a
/// 10-word quote and a 7-word task text are matched (neither is under the defaults), each cut
/// takes 50 characters a side out to the next stop, 61-character pieces survive, and a document
/// in 4 pieces is dropped while one in 3 is kept.
#[test]
fn decontam_ngram_lengths_context_pieces() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let ten: Vec<&str> = NGRAM.split(' ').take(10).collect();
    let ten = ten.join(" ");
    let seven = "sierra tango uniform victor whiskey xray yankee";
    // A unit: a 61-character piece ending in '.', 49 characters, the quote, 49 characters and
    // a '.'; the cut takes everything after the piece up to that '.'.
    let unit = |seed: u64| {
        format!(
            "{}.{} {ten} {}.",
            letters(seed, 60),
            letters(seed + 1, 49),
            letters(seed + 2, 49)
        )
    };
    let split_into = |pieces: u64, seed: u64| {
        let units: String = (0..pieces - 1).map(|i| unit(seed + 3 * i)).collect();
        units + &letters(seed + 99, 60) + "."
    };
    let quoted_seven = format!(
        "{}. {}. {seven}. {}. {}.",
        letters(1, 100),
        letters(2, 80),
        letters(3, 80),
        letters(4, 100)
    );
    let docs = vec![
        doc("three", split_into(3, 10)),
        doc("four", split_into(4, 40)),
        doc("seven", quoted_seven),
    ];
    let jsonl = corpus(dir, "docs.jsonl", &docs);
    let task = corpus(
        dir,
        "task.jsonl",
        &[doc("t13", NGRAM.to_string()), doc("t7", seven.to_string())],
    );
    let flag = format!("qa={}", task.display());
    let mut args = vec![
        "decontam",
        "--task",
        &flag,
        "--ngram",
        "10",
        "--min-ngram",
        "6",
    ];
    args.extend([
        "--context-chars",
        "50",
        "--min-piece-chars",
        "60",
        "--max-pieces",
        "3",
    ]);
    let out = run_stage(Command, dir, "decontam", &jsonl, &args, "");
    let mut pieces: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for d in documents(&out) {
        let text = d["text"].as_str().unwrap().to_string();
        pieces
            .entry(crate::recipe::source_id(&d))
            .or_default()
            .push(text);
    }
    let three = &pieces["three"];
    assert_eq!(three.len(), 3, "{three:?}");
    assert!(three.iter().all(|p| p.chars().count() == 61), "{three:?}");
    assert!(!pieces.contains_key("four"), "{pieces:?}");
    let (_, dropped) = crate::recipe::outcome(&out);
    assert_eq!(dropped["four"], "too_many_splits");
    // The 7-word task text and 50 characters each side out to the stops are gone.
    assert_eq!(
        pieces["seven"],
        vec![
            format!("{}.", letters(1, 100)),
            // A piece keeps the space that followed the cut's stop.
            format!(" {}.", letters(4, 100))
        ]
    );
}

/// `--threshold 0.802`: pairs at J = 401/500 are duplicates, at 400/500 no longer; `--seed`
/// changes the MinHash functions but not what verified dedup keeps.
#[test]
fn dedup_threshold_and_seed() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let mut docs = Vec::new();
    for (k, shared) in [(1u64, 400usize), (2, 401)] {
        let a = crate::recipe::distinct_letters(20 * k, 504);
        docs.push(doc(&format!("b{k}"), a[..shared + 4].to_string()));
        docs.push(doc(&format!("a{k}"), a));
    }
    let jsonl = corpus(dir, "docs.jsonl", &docs);
    let (mut kept_by_seed, mut signatures) = (Vec::new(), Vec::new());
    for seed in ["1", "2"] {
        let args = [
            "dedup",
            "--methods",
            "fuzzy",
            "--bands",
            "260",
            "--rows",
            "1",
        ];
        let mut args = args.to_vec();
        args.extend(["--threshold", "0.802", "--seed", seed]);
        let out = run_stage(Command, dir, &format!("dedup-{seed}"), &jsonl, &args, "");
        let (kept, _) = crate::recipe::outcome(&out);
        let config = json_file(&out.join("dedup-work/config.json"));
        assert_eq!(config["seed"].to_string(), seed);
        kept_by_seed.push(kept);
        signatures.push(crate::util::tree(&out.join("dedup-work/signatures")));
    }
    assert_ne!(
        signatures[0], signatures[1],
        "the seed changes the MinHash values"
    );
    // The first copy met represents its component.
    let expected: BTreeSet<String> = ["b1", "a1", "b2"].map(String::from).into();
    assert_eq!(kept_by_seed, vec![expected.clone(), expected]);
}

/// `--no-repair` leaves mojibake and `--no-whitespace` leaves runs of spaces, which clean
/// otherwise repairs ("cafÃ©" → "café") and collapses.
#[test]
fn clean_no_repair_and_no_whitespace() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let body = letters(5, 600);
    let text = format!("the cafÃ©  opens {body}");
    let jsonl = corpus(dir, "docs.jsonl", &[doc("m", text.clone())]);
    let text_of = |out: &std::path::Path| documents(out)[0]["text"].as_str().unwrap().to_string();
    let plain = run_stage(Command, dir, "plain", &jsonl, &["clean"], "");
    assert_eq!(text_of(&plain), format!("the café opens {body}"));
    let args = ["clean", "--no-repair"];
    let no_repair = run_stage(Command, dir, "no-repair", &jsonl, &args, "");
    assert_eq!(text_of(&no_repair), format!("the cafÃ© opens {body}"));
    let args = ["clean", "--no-whitespace"];
    let no_whitespace = run_stage(Command, dir, "no-ws", &jsonl, &args, "");
    assert_eq!(text_of(&no_whitespace), format!("the café  opens {body}"));
}

/// `--javascript-max-chars 100` (with the length rule off): a text mentioning JavaScript is
/// dropped under 100 characters and kept from 100 on, where the default would drop it up to 255.
#[test]
fn clean_javascript_max_chars() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let js = |n: usize| format!("javascript {}", letters(n as u64, n - 11));
    let docs = vec![doc("99", js(99)), doc("100", js(100)), doc("200", js(200))];
    let jsonl = corpus(dir, "docs.jsonl", &docs);
    let args = ["clean", "--min-chars", "0", "--javascript-max-chars", "100"];
    let out = run_stage(Command, dir, "clean", &jsonl, &args, "");
    let (kept, dropped) = crate::recipe::outcome(&out);
    assert_eq!(kept, ["100", "200"].map(String::from).into());
    assert_eq!(dropped["99"], "javascript");
}
