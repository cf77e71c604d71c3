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
    let model = crate::util::shipped_quality_model();
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
    let tokens = crate::recipe::tokenized(dir, "docs", &docs);
    let t = tokens.to_str().unwrap();
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
    crate::tokenize_blend::blend(&spec, &with);
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

/// `--shingle word:5`: a copy with a typo in every tenth word keeps about 87 % of its character
/// 5-grams (a duplicate by default) but only about a third of its word 5-grams. 260 bands of one
/// row make both pairs candidates, so the shingles alone decide.
#[test]
fn dedup_shingle() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let words: Vec<String> = (0..120).map(|i| letters(300 + i, 6)).collect();
    let typos: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i % 10 == 5 {
                format!(
                    "{}{}{}",
                    &w[..3],
                    if &w[3..4] == "q" { "z" } else { "q" },
                    &w[4..]
                )
            } else {
                w.clone()
            }
        })
        .collect();
    let docs = vec![doc("first", words.join(" ")), doc("typos", typos.join(" "))];
    let jsonl = corpus(dir, "docs.jsonl", &docs);
    let kept = |tag: &str, extra: &[&str]| {
        let mut args = vec![
            "dedup",
            "--methods",
            "fuzzy",
            "--bands",
            "260",
            "--rows",
            "1",
        ];
        args.extend_from_slice(extra);
        crate::recipe::outcome(&run_stage(Command, dir, tag, &jsonl, &args, "")).0
    };
    assert_eq!(kept("chars", &[]), ["first".to_string()].into());
    let both: BTreeSet<String> = ["first", "typos"].map(String::from).into();
    assert_eq!(kept("words", &["--shingle", "word:5"]), both);
}

/// `--split paragraph`, `--min-unit-chars 5`, `--min-doc-chars 50`: a paragraph goes only when
/// all of it repeats; a 9-character unit is matched at 5 (never at the default 20); a document
/// left with 50 or more characters stays (under the default 200 it would go).
#[test]
fn paragraph_dedup_split_and_lengths() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let shared = "The alpha line that repeats in both documents";
    let page =
        |own: &str, seed: u64| format!("{shared}\n{own}\n\nHi there!\n\n{}", letters(seed, 80));
    let docs = vec![
        doc("a", page("A second line of its own here", 1)),
        doc("b", page("B second line of its own there", 2)),
    ];
    let jsonl = corpus(dir, "docs.jsonl", &docs);
    let run = |tag: &str, extra: &[&str]| {
        let mut args = vec!["paragraph-dedup"];
        args.extend_from_slice(extra);
        let out = run_stage(Command, dir, tag, &jsonl, &args, "");
        let texts: std::collections::BTreeMap<String, String> = documents(&out)
            .iter()
            .map(|d| {
                (
                    crate::recipe::source_id(d),
                    d["text"].as_str().unwrap().into(),
                )
            })
            .collect();
        (texts, crate::recipe::outcome(&out).1)
    };
    let lengths = ["--min-unit-chars", "5", "--min-doc-chars", "50"];
    let (by_paragraph, _) = run(
        "paragraph",
        &[&["--split", "paragraph"][..], &lengths].concat(),
    );
    assert_eq!(by_paragraph["a"], docs[0].1);
    assert!(by_paragraph["b"].contains(shared) && !by_paragraph["b"].contains("Hi there"));
    let (by_line, _) = run("line", &lengths);
    assert!(!by_line["b"].contains(shared) && !by_line["b"].contains("Hi there"));
    assert!(by_line["b"].contains("B second line"));
    // The defaults: "Hi there!" is too short to match, and b is left under 200 characters.
    let (defaults, dropped) = run("defaults", &[]);
    assert_eq!(defaults.keys().collect::<Vec<_>>(), ["a"]);
    assert_eq!(dropped["b"], "duplicate_paragraphs");
}

/// `--keep-empty`: a page with no text is written with empty text instead of dropped as
/// `no_text`.
#[test]
fn extract_keep_empty() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let page = serde_json::json!({
        "id": "p/1", "dataset": "p", "text": "<html><body><script>x = 1;</script></body></html>",
        "meta": {"content_type": "text/html", "http_status": "200"}
    });
    let shard = dir.join("pages.jsonl");
    std::fs::write(&shard, format!("{page}\n")).unwrap();
    let (plain, keep) = (dir.join("plain"), dir.join("keep"));
    let common = [
        "extract",
        "-q",
        "--format",
        "jsonl",
        "--write-rejected",
        "-o",
    ];
    run_ok(
        &[
            &common[..],
            &[plain.to_str().unwrap(), shard.to_str().unwrap()],
        ]
        .concat(),
    );
    let rejected = documents(&plain.join("rejected"));
    assert_eq!(rejected[0]["meta"]["drop_reason"], "no_text");
    assert!(documents(&plain).is_empty());
    let mut args = common.to_vec();
    args.insert(1, "--keep-empty");
    run_ok(
        &[
            &args[..],
            &[keep.to_str().unwrap(), shard.to_str().unwrap()],
        ]
        .concat(),
    );
    let kept = documents(&keep);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["text"], "");
}

/// `--quiet`: the same run prints its progress and summary to stderr without it, and nothing
/// with it.
#[test]
fn quiet() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let jsonl = corpus(dir, "docs.jsonl", &[doc("a", letters(1, 600))]);
    let shards = imported(dir, &jsonl);
    let s = shards.to_str().unwrap();
    let loud = crate::util::sieve()
        .args(["clean", "-o", dir.join("loud").to_str().unwrap(), s])
        .output()
        .unwrap();
    let quiet = crate::util::sieve()
        .args(["clean", "-q", "-o", dir.join("quiet").to_str().unwrap(), s])
        .output()
        .unwrap();
    assert!(loud.status.success() && quiet.status.success());
    assert!(!loud.stderr.is_empty());
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "");
}

/// `sieve words --lines` adds each line's sentence count (`str.splitlines`, as C4 counts).
#[test]
fn words_lines() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("w.jsonl");
    std::fs::write(&input, "{\"text\":\"One. Two.\\nThree four five.\"}\n").unwrap();
    let line = |extra: &[&str]| {
        let mut args = vec!["words"];
        args.extend_from_slice(extra);
        args.push(input.to_str().unwrap());
        let out = run_ok(&args);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    assert!(line(&[]).get("line_sentences").is_none());
    let with = line(&["--lines"]);
    assert_eq!(with["line_sentences"], serde_json::json!([2, 1]));
    assert_eq!(with["sentences"], 3);
}

/// `sieve inspect --limit 1` shows one sample document of a shard (3 by default).
#[test]
fn inspect_limit() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let docs: Vec<_> = (0..5)
        .map(|i| doc(&format!("d{i}"), letters(i, 40)))
        .collect();
    let shards = imported(dir, &corpus(dir, "docs.jsonl", &docs));
    let shard = shards.join("docs.jsonl");
    let samples = |extra: &[&str]| {
        let mut args = vec!["inspect", "--json"];
        args.extend_from_slice(extra);
        args.push(shard.to_str().unwrap());
        let v: serde_json::Value = serde_json::from_slice(&run_ok(&args).stdout).unwrap();
        v["samples"].as_array().unwrap().len()
    };
    assert_eq!((samples(&[]), samples(&["--limit", "1"])), (3, 1));
}

/// `sieve slurm submit --dry-run` with every resource flag: each script asks for the partition,
/// time and memory given (a step's own `[slurm.steps.X]` memory still wins), runs the binary
/// named by `--sieve`, and each map step is spread over `--tasks-per-step` tasks, at most
/// `--array-parallelism` at once. No Slurm is needed to print them.
#[test]
fn slurm_submit_resources() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let spec = crate::util::repo().join("pipelines/sample.toml");
    let flags = "--partition p1 --time 2:00:00 --mem 3G --sieve /opt/bin/sieve";
    let mut args = vec!["slurm", "submit", "--dry-run", "-o", out.to_str().unwrap()];
    args.extend(flags.split(' '));
    args.extend(["--tasks-per-step", "2", "--array-parallelism", "3"]);
    args.push(spec.to_str().unwrap());
    let o = crate::util::sieve()
        .env("SLURM_CONF", "/nonexistent")
        .args(&args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    let scripts = crate::slurm::sbatch_scripts(&text);
    assert!(scripts.len() > 8, "{text}");
    for &(step, s) in &scripts {
        assert!(s.contains("#SBATCH --partition=p1\n"), "{step}");
        assert!(s.contains("#SBATCH --time=2:00:00\n"), "{step}");
        let mem = if step == "dedup-edges" { "1G" } else { "3G" };
        assert!(s.contains(&format!("#SBATCH --mem={mem}\n")), "{step}");
        assert!(s.contains("\n'/opt/bin/sieve' run "), "{step}");
        assert!(s.lines().next().unwrap().contains("%3 "), "{step}");
        if ["pass-1", "dedup-signatures", "tokenize"].contains(&step) {
            assert!(s.contains("--array=0-1%3"), "{step}");
            assert!(s.contains("--shard $task/2 "), "{step}");
        }
    }
}

/// `--words whitespace`: "can't" is one word to `str.split()` and two to spaCy ("ca", "n't"),
/// so 60 whitespace words fall under `--min-doc-words 70` while spaCy's 100 pass.
#[test]
fn gopher_quality_words() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let mut words = vec!["the".to_string(), "and".to_string()];
    words.extend(std::iter::repeat_n("can't".to_string(), 40));
    words.extend((0..18).map(|i| letters(i, 5)));
    let jsonl = corpus(dir, "docs.jsonl", &[doc("g", words.join(" "))]);
    let run = |tag: &str, splitter: &str| {
        let args = [
            "gopher-quality",
            "--min-doc-words",
            "70",
            "--min-avg-word-length",
            "0",
            "--words",
            splitter,
        ];
        crate::recipe::outcome(&run_stage(Command, dir, tag, &jsonl, &args, ""))
    };
    assert_eq!(run("spacy", "spacy").0, ["g".to_string()].into());
    assert_eq!(run("whitespace", "whitespace").1["g"], "gopher_short_doc");
}

/// The documents of a `.bin` of GPT-2 ids, split at the end-of-document token.
fn documents_in_bin(path: &std::path::Path) -> Vec<Vec<u16>> {
    let bytes = std::fs::read(path).unwrap();
    let ids: Vec<u16> = bytes
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    ids.split_inclusive(|&t| t == 50256)
        .map(<[u16]>::to_vec)
        .collect()
}

/// `tokenize --seed 7` writes the same documents in another order than the default seed;
/// `sample --seed 5` draws other sequences than the default, and the same ones every time.
#[test]
fn tokenize_and_sample_seeds() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let docs: Vec<_> = (0..30)
        .map(|i| doc(&format!("d{i}"), letters(40 + i, 30)))
        .collect();
    let shards = imported(dir, &corpus(dir, "docs.jsonl", &docs));
    let (a, b) = (dir.join("seed-default"), dir.join("seed-7"));
    crate::tokenize_blend::tokenize(&shards, &a, &[]);
    crate::tokenize_blend::tokenize(&shards, &b, &["--seed", "7"]);
    let (in_a, in_b) = (
        documents_in_bin(&a.join("web/docs.bin")),
        documents_in_bin(&b.join("web/docs.bin")),
    );
    assert_eq!(in_a.len(), 30);
    // Each shard's record names the input it came from.
    let record = json_file(&a.join("records/docs.json"));
    assert_eq!(record["stem"], "docs");
    assert!(
        record["input"].as_str().unwrap().ends_with("docs.jsonl"),
        "{record}"
    );
    assert_eq!(record["parts"]["web"]["documents"], 30);
    assert_ne!(in_a, in_b, "the seed orders the documents");
    let sorted = |mut v: Vec<Vec<u16>>| {
        v.sort();
        v
    };
    assert_eq!(sorted(in_a), sorted(in_b));

    let spec = dir.join("blend.toml");
    std::fs::write(
        &spec,
        format!(
            "target_tokens = 2000\nsplit = \"100,0,0\"\nseq_length = 16\n\
             [[dataset]]\nname = \"web\"\npath = \"{}/web\"\nweight = 1.0\n",
            a.display()
        ),
    )
    .unwrap();
    let blend = dir.join("blend");
    crate::tokenize_blend::blend(&spec, &blend);
    let bl = blend.to_str().unwrap();
    let sample = |extra: &[&str]| {
        let mut args = vec!["sample", "--shards", bl, "-n", "4"];
        args.extend_from_slice(extra);
        String::from_utf8(run_ok(&args).stdout).unwrap()
    };
    let (default, five) = (sample(&[]), sample(&["--seed", "5"]));
    assert_eq!(five.matches("=== ").count(), 4);
    assert_ne!(default, five);
    assert_eq!(five, sample(&["--seed", "5"]));
}

/// `sieve quality train --text-field body --dim 8 --epoch 3`: the model learns from the `body`
/// field (with the default `text` there is nothing to learn from) and its fastText header
/// (magic, version, dim, ws, epoch, as fastText writes it) holds the dimension and epochs asked
/// for; `--lr 0.000001` leaves it unable to tell the classes apart (held-out accuracy 0.5
/// against 1.0).
#[test]
fn quality_train_field_epochs_and_rate() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let write = |name: &str, text: &dyn Fn(usize) -> String| {
        let lines: String = (0..300)
            .map(|i| serde_json::json!({ "body": text(i) }).to_string() + "\n")
            .collect();
        let path = dir.join(name);
        std::fs::write(&path, lines).unwrap();
        path
    };
    let pos = write("pos.jsonl", &|i| {
        format!("the committee published a careful report on the river valley {i}")
    });
    let neg = write("neg.jsonl", &|i| {
        format!("click here buy now cheap deals free download best price {i}")
    });
    let train = |model: &str, extra: &[&str]| {
        let out = dir.join(model);
        let mut args = vec!["quality", "train", "--positive", pos.to_str().unwrap()];
        args.extend([
            "--negative",
            neg.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ]);
        args.extend_from_slice(extra);
        let run = crate::util::sieve().args(&args).output().unwrap();
        (out, run)
    };
    let (_, default_field) = train("none.bin", &[]);
    assert!(!default_field.status.success());
    let field = ["--text-field", "body", "--dim", "8"];
    let (model, run) = train("m.bin", &[&field[..], &["--epoch", "3"]].concat());
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let header = std::fs::read(&model).unwrap();
    let int = |k: usize| i32::from_le_bytes(header[4 * k..4 * k + 4].try_into().unwrap());
    assert_eq!(
        (int(0) as u32, int(1), int(2), int(4)),
        (0x2F4F16BA, 12, 8, 3)
    );
    let accuracy = |model: &std::path::Path| {
        let metrics = json_file(&model.with_extension("bin.metrics.json"));
        metrics["metrics"]["accuracy"].as_f64().unwrap()
    };
    assert_eq!(accuracy(&model), 1.0);
    let (slow, run) = train("slow.bin", &[&field[..], &["--lr", "0.000001"]].concat());
    assert!(run.status.success());
    assert_eq!(accuracy(&slow), 0.5);
}

/// `sieve eval extract --benchmark readability --worst 2 --dump F`, then `--explain` of the worst
/// page: one benchmark is scored, the two pages listed as worst are the two lowest F1s in the
/// dump (one line per page), and the explanation ends with that page's scores as listed.
#[test]
fn eval_extract_benchmark_worst_dump_explain() {
    let Some(data) = crate::util::shared_data() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let dump = d.path().join("dump.jsonl");
    let data = data.to_str().unwrap();
    let common = [
        "eval",
        "extract",
        "--data",
        data,
        "--benchmark",
        "readability",
    ];
    let out = run_ok(
        &[
            &common[..],
            &["--worst", "2", "--dump", dump.to_str().unwrap()],
        ]
        .concat(),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(rows.len(), 2, "a header and one benchmark: {text}");
    assert!(rows[1].starts_with("readability "), "{text}");
    let worst: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("worst: "))
        .map(|l| {
            let id = l.split_whitespace().next().unwrap().to_string();
            (id, l.rsplit("F1 ").next().unwrap().trim().to_string())
        })
        .collect();
    let mut pages = crate::recipe::records_of(&dump);
    assert_eq!(pages.len(), 116);
    pages.sort_by(|a, b| a["f1"].as_f64().partial_cmp(&b["f1"].as_f64()).unwrap());
    let lowest: Vec<(String, String)> = pages[..2]
        .iter()
        .map(|p| {
            let f1 = p["f1"].as_f64().unwrap();
            (p["id"].as_str().unwrap().to_string(), format!("{f1:.3}"))
        })
        .collect();
    assert_eq!(worst, lowest);
    let (id, f1) = &worst[1];
    let explained = run_ok(&[&common[..], &["--explain", id]].concat());
    let explained = String::from_utf8_lossy(&explained.stdout).into_owned();
    let last = explained.lines().last().unwrap();
    assert!(last.starts_with(&format!("page {id}: ")) && last.ends_with(&format!("F1 {f1}")));
}

/// `sieve eval dedup`: `--compare-shingles` scores one configuration per shingling, the dedup
/// settings (`--preset`, `--shingle`, `--bands`, `--rows`, `--threshold`, `--verify`, `--methods`,
/// `--seed`, `--ranges`, `--max-bucket-comparisons`) make the configuration scored, `--set-seed`
/// draws another labelled set (other documents in the scratch shards), and the options of a
/// production run are refused.
#[test]
fn eval_dedup_options() {
    let Some(data) = crate::util::shared_data() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let run = |tag: &str, extra: &[&str]| {
        let json = d.path().join(format!("{tag}.json"));
        let scratch = d.path().join(tag);
        let mut args = vec!["eval", "dedup", "--families", "100", "--data"];
        args.extend([data.to_str().unwrap(), "--json", json.to_str().unwrap()]);
        args.extend(["--scratch", scratch.to_str().unwrap()]);
        args.extend_from_slice(extra);
        let printed = String::from_utf8(run_ok(&args).stdout).unwrap();
        let rows: Vec<serde_json::Value> = serde_json::from_value(json_file(&json)).unwrap();
        let configs: Vec<String> = rows
            .iter()
            .map(|r| r["config"].as_str().unwrap().to_string())
            .collect();
        let char5 = scratch.join("char-5/shards");
        let shards = char5.exists().then(|| crate::util::tree(&char5));
        (configs, shards, rows, printed)
    };
    let (plain, plain_set, plain_rows, _) = run("plain", &[]);
    assert_eq!(plain, ["char:5 20x13 verify=Exact t=0.8"]);
    let (two, other_set, _, _) = run(
        "two",
        &["--compare-shingles", "char:5,word:5", "--set-seed", "2"],
    );
    assert_eq!(
        two,
        [
            "char:5 20x13 verify=Exact t=0.8",
            "word:5 20x13 verify=Exact t=0.8"
        ]
    );
    assert_ne!(plain_set, other_set, "another seed, another labelled set");
    let args = [
        "--preset",
        "fineweb",
        "--shingle",
        "char:7",
        "--bands",
        "9",
        "--rows",
        "4",
    ];
    let (tuned, ..) = run(
        "tuned",
        &[&args[..], &["--threshold", "0.7", "--verify", "estimate"]].concat(),
    );
    // The preset's 14x8 and word 5-grams give way to the flags.
    assert_eq!(tuned, ["char:7 9x4 verify=Estimate t=0.7"]);

    // dedup's other settings are the ones scored. Exact duplicates alone: no pair under a
    // true Jaccard of 1 shares a component, where MinHash found some.
    let flags = "--methods exact --seed 7 --ranges 3 --max-bucket-comparisons 5";
    let (_, _, rows, printed) = run("exact", &flags.split(' ').collect::<Vec<_>>());
    let settings = &rows[0]["settings"];
    let exact_only = serde_json::json!({"exact": true, "url": false, "fuzzy": false});
    assert_eq!(settings["methods"], exact_only, "{settings}");
    assert_eq!(settings["seed"], 7);
    assert_eq!(settings["ranges"], 3);
    assert_eq!(settings["max_bucket_comparisons"], 5);
    let line =
        "methods exact, MinHash seed 7, 3 key ranges per band, at most 5 comparisons per bucket";
    assert!(printed.contains(line), "{printed}");
    let near_found = |rows: &[serde_json::Value]| -> u64 {
        let bands = rows[0]["recall_bands"].as_array().unwrap();
        let near = bands.iter().filter(|b| b[1].as_f64().unwrap() < 0.999);
        near.map(|b| b[3].as_u64().unwrap()).sum()
    };
    assert_eq!(near_found(&rows), 0, "{}", rows[0]);
    assert!(near_found(&plain_rows) > 0, "{}", plain_rows[0]);

    // A priority list, earlier indexes and an index to write belong to a production run.
    for flag in ["--priority=web", "--against=idx", "--write-index=idx"] {
        let o = crate::util::run_expect(&["eval", "dedup", flag], 1);
        let err = String::from_utf8_lossy(&o.stderr);
        let name = flag.split('=').next().unwrap();
        assert!(err.contains(&format!("{name} does not apply")), "{err}");
    }
}

/// `sieve report RUN --spec SPEC`: the card states the quality rule the spec set (Pareto with
/// α = 9) and its keep probability per score bin, (2 − s)^−9 at the bin's middle; without the
/// spec the run's records do not say which rule was used.
#[test]
fn report_spec() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let docs: Vec<_> = (0..40)
        .map(|i| doc(&format!("r{i}"), format!("the report {}", letters(i, 40))))
        .collect();
    let jsonl = corpus(dir, "docs.jsonl", &docs);
    let model = crate::util::shipped_quality_model();
    let keys = format!("name = \"quality\"\nmodel = {model:?}\nalpha = 9.0");
    let run = run_stage(crate::recipe::Way::Spec, dir, "quality", &jsonl, &[], &keys);
    let spec = dir.join("quality.toml");
    let card = |tag: &str, extra: &[&str]| {
        let out = dir.join(tag);
        let mut args = vec!["report", run.to_str().unwrap(), "-o", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        run_ok(&args);
        std::fs::read_to_string(out.join("README.md")).unwrap()
    };
    let without = card("plain", &[]);
    assert!(!without.contains("Pareto(α"), "{without}");
    let with = card("with-spec", &["--spec", spec.to_str().unwrap()]);
    assert!(with.contains("Pareto(α = 9)"), "{with}");
    assert!(with.contains("Pareto keep probability"), "{with}");
    // The lowest bin, 0.00–0.05, at its middle 0.025.
    let lowest = format!("{:.1}%", 100.0 * (2.0f64 - 0.025).powf(-9.0));
    let row = with
        .lines()
        .find(|l| l.starts_with("| 0.00 – 0.05"))
        .unwrap_or_else(|| panic!("no lowest bin: {with}"));
    assert!(
        row.trim_end().ends_with(&format!("| {lowest} |")),
        "{row} vs {lowest}"
    );
}

/// `--words whitespace` for gopher-repetition: ten "can't" before 60 distinct words. By
/// `str.split()` words the top 2-gram "can't can't" covers 9 × 11 of the text's characters,
/// over Gopher's 0.2 (computed here); spaCy's "ca n't" bigrams stay under it, and the
/// document goes for its 4-grams instead.
#[test]
fn gopher_repetition_words() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let mut words = vec!["can't".to_string(); 10];
    words.extend((0..60).map(|i| letters(500 + i, 6)));
    let text = words.join(" ");
    // Gopher's top 2-gram share with whitespace words: the most frequent 2-gram's length
    // (words joined by a space) times its count, over the text's length.
    let mut counts: std::collections::HashMap<String, usize> = Default::default();
    for w in words.windows(2) {
        *counts.entry(w.join(" ")).or_default() += 1;
    }
    let (top, n) = counts.iter().max_by_key(|(g, n)| (**n, g.len())).unwrap();
    let share = (top.len() * n) as f64 / text.len() as f64;
    assert!(share > 0.2, "{share}");
    let jsonl = corpus(dir, "docs.jsonl", &[doc("r", text)]);
    let reason = |tag: &str, splitter: &str| {
        let args = ["gopher-repetition", "--words", splitter];
        crate::recipe::outcome(&run_stage(Command, dir, tag, &jsonl, &args, "")).1["r"].clone()
    };
    assert_eq!(reason("whitespace", "whitespace"), "top_2_gram");
    assert_eq!(reason("spacy", "spacy"), "top_4_gram");
}

/// `--words whitespace` for fineweb-quality: 20 lines of "<30 letters> can't can't." have 19
/// line breaks over 60 `str.split()` words (0.317, over FineWeb's 0.3: `list_ratio`) but over
/// 120 spaCy words (0.158).
#[test]
fn fineweb_quality_words() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let lines: Vec<String> = (0..20)
        .map(|i| format!("{} can't can't.", letters(700 + i, 30)))
        .collect();
    let text = lines.join("\n");
    let ratio = text.matches('\n').count() as f64 / text.split_whitespace().count() as f64;
    assert!(ratio > 0.3, "{ratio}");
    let jsonl = corpus(dir, "docs.jsonl", &[doc("f", text)]);
    let run = |tag: &str, splitter: &str| {
        let args = ["fineweb-quality", "--words", splitter];
        crate::recipe::outcome(&run_stage(Command, dir, tag, &jsonl, &args, ""))
    };
    assert_eq!(run("whitespace", "whitespace").1["f"], "list_ratio");
    assert_eq!(run("spacy", "spacy").0, ["f".to_string()].into());
}

/// `--max-bucket-comparisons 1`: twelve triples A, B, C (A first) where B and C match each
/// other (J ≈ 0.98) and A matches neither (J ≈ 0.54). With one band of one row a triple either
/// shares one bucket, where A is compared with B and C (two comparisons, both rejected) and the
/// cap then stops the bucket before B meets C, or B and C meet in a bucket of their own. So the
/// cap keeps exactly one C more per capped bucket, and it changes nothing else.
#[test]
fn dedup_max_bucket_comparisons() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let mut docs = Vec::new();
    for t in 0..12u64 {
        let x = crate::recipe::distinct_letters(1000 + 10 * t, 74); // 70 shingles shared
        let z = letters(2000 + t, 30);
        let y = letters(3000 + t, 30);
        docs.push(doc(&format!("a{t}"), format!("{x}{z}")));
        docs.push(doc(&format!("b{t}"), format!("{x}{y}")));
        docs.push(doc(&format!("c{t}"), format!("{x}{}", &y[..28])));
    }
    let jsonl = corpus(dir, "docs.jsonl", &docs);
    let run = |tag: &str, extra: &[&str]| {
        let mut args = vec!["dedup", "--methods", "fuzzy", "--bands", "1", "--rows", "1"];
        args.extend_from_slice(extra);
        let out = run_stage(Command, dir, tag, &jsonl, &args, "");
        let (kept, _) = crate::recipe::outcome(&out);
        let stats = json_file(&out.join("dedup-work/edges/stats/b00-r0000.json"));
        (kept, stats["capped_buckets"].as_u64().unwrap())
    };
    let (uncapped, none) = run("uncapped", &[]);
    let (capped, n) = run("capped", &["--max-bucket-comparisons", "1"]);
    assert_eq!(none, 0);
    assert!(n > 0, "no triple shared its bucket: pick other texts");
    // Every A and B stays either way; the cap only spares Cs, one per capped bucket.
    assert!(uncapped.is_subset(&capped));
    let spared: Vec<&String> = capped.difference(&uncapped).collect();
    assert_eq!(spared.len() as u64, n, "{spared:?}");
    assert!(spared.iter().all(|id| id.starts_with('c')));
}
