//! The MT-NLG recipe, pinned. First the paper's constants as the settings a run actually uses,
//! on both ways of asking for a stage: its command with no flags, and a pipeline spec that
//! names the stage and nothing else. Then every threshold rule at its boundary: exactly on it,
//! one step inside and one step outside.
//!
//! Every expected value is written here from the paper (arXiv 2201.11990), Megatron-LM's
//! `tools/openwebtext` scripts (`cleanup_dataset.py`, `find_duplicates.py`,
//! `filter_ngrams.py`) and `megatron/core/datasets`, as summarised in
//! `../shared/reference/anchors-curation.md` and `shards.md`; none is read from sieve's own
//! constants. A default written apart on one path, or a comparison turned from `<` to `<=`,
//! fails here.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use crate::util::run_ok;

/// The two ways of asking for a stage.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Way {
    /// `sieve <stage> -o OUT IN` with no setting flags.
    Command,
    /// `sieve run SPEC` with `[[stage]] name = "<stage>"` and only the keys it requires.
    Spec,
}
use Way::{Command, Spec};

/// A JSONL corpus of `(name, text)` documents; the name comes back as `meta.source_id`.
pub(crate) fn corpus(dir: &Path, file: &str, docs: &[(String, String)]) -> PathBuf {
    let path = dir.join(file);
    let lines: Vec<String> = docs
        .iter()
        .map(|(id, text)| serde_json::json!({"id": id, "text": text}).to_string())
        .collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// `sieve import` of a corpus into JSONL shards of dataset `web`.
pub(crate) fn imported(dir: &Path, jsonl: &Path) -> PathBuf {
    let out = dir.join(format!(
        "{}-shards",
        jsonl.file_stem().unwrap().to_str().unwrap()
    ));
    let (o, i) = (out.to_str().unwrap(), jsonl.to_str().unwrap());
    run_ok(&[
        "import",
        "-q",
        "--dataset",
        "web",
        "--format",
        "jsonl",
        "-o",
        o,
        i,
    ]);
    out
}

/// Documents written as `NAME.jsonl`, imported as dataset `web` and tokenized with the
/// defaults into `NAME-tokens` (whose `web` prefix a blend spec names).
pub(crate) fn tokenized(dir: &Path, name: &str, docs: &[(String, String)]) -> PathBuf {
    let shards = imported(dir, &corpus(dir, &format!("{name}.jsonl"), docs));
    let tokens = dir.join(format!("{name}-tokens"));
    crate::tokenize_blend::tokenize(&shards, &tokens, &[]);
    tokens
}

/// Runs one stage on `jsonl` by `path`: the command (`command` is its name and the flags it
/// requires) or a spec importing the corpus with `[[stage]]` = `stage_keys`. Returns the
/// output directory; dropped documents are written under `OUT/rejected/`.
pub(crate) fn run_stage(
    path: Way,
    dir: &Path,
    tag: &str,
    jsonl: &Path,
    command: &[&str],
    stage_keys: &str,
) -> PathBuf {
    let out = dir.join(format!("{tag}-{path:?}"));
    let o = out.to_str().unwrap();
    match path {
        Command => {
            let shards = imported(dir, jsonl);
            let mut args: Vec<&str> = command.to_vec();
            args.extend(["-q", "-o", o]);
            // tokenize writes token files, not documents.
            if command[0] != "tokenize" {
                args.extend(["--format", "jsonl", "--write-rejected"]);
            }
            args.push(shards.to_str().unwrap());
            run_ok(&args);
        }
        Spec => {
            let spec = dir.join(format!("{tag}.toml"));
            std::fs::write(
                &spec,
                format!(
                    "[[input]]\nkind = \"import\"\ndataset = \"web\"\npaths = [{:?}]\n\
                     [output]\ndir = {o:?}\nformat = \"jsonl\"\nwrite_rejected = true\n\
                     [[stage]]\n{stage_keys}\n",
                    jsonl.to_str().unwrap()
                ),
            )
            .unwrap();
            run_ok(&["run", "-q", spec.to_str().unwrap()]);
        }
    }
    out
}

/// A JSON lines file's records.
pub(crate) fn records_of(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The JSONL documents directly in `dir` (kept) or under `dir/rejected` (dropped).
pub(crate) fn documents(dir: &Path) -> Vec<serde_json::Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|x| x == "jsonl"));
    files.sort();
    files.iter().flat_map(|f| records_of(f)).collect()
}

pub(crate) fn source_id(doc: &serde_json::Value) -> String {
    doc["meta"]["source_id"].as_str().unwrap().to_string()
}

/// The source ids kept, and the dropped ones with their reasons.
pub(crate) fn outcome(out: &Path) -> (BTreeSet<String>, BTreeMap<String, String>) {
    let kept = documents(out).iter().map(source_id).collect();
    let dropped = documents(&out.join("rejected"))
        .iter()
        .map(|d| {
            let reason = d["meta"]["drop_reason"].as_str().unwrap_or("").to_string();
            (source_id(d), reason)
        })
        .collect();
    (kept, dropped)
}

pub(crate) fn json_file(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{path:?}: {e}")))
        .unwrap()
}

/// `n` characters of `c`.
fn run_of(c: char, n: usize) -> String {
    std::iter::repeat_n(c, n).collect()
}

pub(crate) fn doc(name: &str, text: String) -> (String, String) {
    (name.to_string(), text)
}

/// `n` lowercase letters whose character 5-grams are all different: the first of the
/// generator's strings from `seed` on that has none repeated.
pub(crate) fn distinct_letters(seed: u64, n: usize) -> String {
    (seed..)
        .map(|s| letters(s, n))
        .find(|t| char_5grams(t).len() == n - 4)
        .unwrap()
}

/// A word of lowercase letters from a fixed generator (xorshift), different for each `seed`.
pub(crate) fn letters(seed: u64, n: usize) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (b'a' + (x % 26) as u8) as char
        })
        .collect()
}

/// The character 5-grams of a text, computed here (every window, as `find_duplicates.py`
/// means to take them).
fn char_5grams(text: &str) -> HashSet<&str> {
    (0..=text.len().saturating_sub(5))
        .map(|i| &text[i..i + 5])
        .collect()
}

/// The recipe's constants, on both paths: dedup's MinHash layout, threshold and shingles;
/// decontamination's n-grams, frequency, context, piece length and piece count; the Pareto
/// α; clean's lengths; GPT-2's end-of-document id.
#[test]
fn the_papers_constants_are_in_effect_with_no_flags_and_in_a_spec_naming_only_the_stage() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // Clean: 511 characters are too few (`len(text) < 512`), 512 are enough.
    let docs = vec![
        doc("c511", format!("{}.", run_of('x', 510))),
        doc("c512", format!("{}.", letters(1, 511))),
        doc("c600", format!("{}.", letters(2, 599))),
    ];
    let jsonl = corpus(dir, "docs.jsonl", &docs);
    let task = corpus(dir, "qa.jsonl", &[doc("q", letters(3, 80))]);
    std::fs::write(
        dir.join("tasks.toml"),
        format!(
            "[[task]]\nname = \"qa\"\npaths = [{:?}]\n",
            task.to_str().unwrap()
        ),
    )
    .unwrap();
    let model = crate::util::shipped_quality_model();
    let task_flag = format!("qa={}", task.display());
    for path in [Command, Spec] {
        // clean: the paper's 512 characters.
        let out = run_stage(path, dir, "clean", &jsonl, &["clean"], "name = \"clean\"");
        let (kept, dropped) = outcome(&out);
        assert_eq!(
            kept,
            BTreeSet::from(["c512".into(), "c600".into()]),
            "{path:?}"
        );
        assert_eq!(dropped["c511"], "too_short", "{path:?}");

        // dedup: 20 bands × 13 rows = 260 hashes, J ≥ 0.8 checked on the shingle sets,
        // character 5-grams (find_duplicates.py's char_ngram=5), exact, URL and fuzzy.
        let out = run_stage(path, dir, "dedup", &jsonl, &["dedup"], "name = \"dedup\"");
        let config = match path {
            Command => json_file(&out.join("dedup-work/config.json")),
            Spec => json_file(&out.join("work/dedup/config.json")),
        };
        let (bands, rows) = (config["bands"].as_u64(), config["rows"].as_u64());
        assert_eq!((bands, rows), (Some(20), Some(13)), "{path:?}: {config}");
        assert_eq!(config["threshold"].as_f64(), Some(0.8), "{path:?}");
        assert_eq!(config["verify"], "exact", "{path:?}");
        assert_eq!(config["shingling"], "char:5", "{path:?}");
        for method in ["exact", "url", "fuzzy"] {
            assert_eq!(config["methods"][method], true, "{path:?}: {method}");
        }

        // decontam: 13-grams (down to 8 for short task texts), cut when seen in fewer than
        // 10 documents, 200 characters each side, pieces over 200 characters, at most 10.
        let out = run_stage(
            path,
            dir,
            "decontam",
            &jsonl,
            &["decontam", "--task", &task_flag],
            &format!("name = \"decontam\"\ntasks = {:?}", dir.join("tasks.toml")),
        );
        let config = match path {
            Command => json_file(&out.join("decontam-work/config.json")),
            Spec => json_file(&out.join("work/decontam/config.json")),
        };
        assert_eq!(config["max_ngram"], 13, "{path:?}: {config}");
        assert_eq!(config["min_ngram"], 8, "{path:?}");
        assert_eq!(config["df_threshold"], 10, "{path:?}");
        assert_eq!(config["rules"]["context_chars"], 200, "{path:?}");
        assert_eq!(config["rules"]["min_piece_chars"], 200, "{path:?}");
        assert_eq!(config["rules"]["max_pieces"], 10, "{path:?}");

        // quality: each draw is numpy's Pareto(α = 3), U^(−1/3) − 1, from the document's
        // uniform draw, and a document is kept iff its draw exceeds 1 − score.
        let out = run_stage(
            path,
            dir,
            "quality",
            &jsonl,
            &["quality", "filter", "--model", model.to_str().unwrap()],
            &format!("name = \"quality\"\nmodel = {model:?}"),
        );
        let seed = sieve::stages::quality::QualityOptions::default().seed;
        let kept = documents(&out);
        let rejected = documents(&out.join("rejected"));
        let all: Vec<_> = kept.iter().chain(&rejected).collect();
        assert_eq!(all.len(), 3, "{path:?}");
        for doc in all {
            let u = sieve::stages::quality::uniform_draw(seed, doc["id"].as_str().unwrap());
            let draw = u.powf(-1.0 / 3.0) - 1.0;
            assert_eq!(
                doc["meta"]["quality_pareto_draw"].as_str().unwrap(),
                format!("{draw:.6}"),
                "{path:?}: {doc}"
            );
            let score = doc["quality"].as_f64().unwrap();
            assert_eq!(kept.contains(doc), draw > 1.0 - score, "{path:?}: {doc}");
        }

        // tokenize: GPT-2's end-of-document token, 50256, after every document.
        let out = run_stage(
            path,
            dir,
            "tokenize",
            &jsonl,
            &["tokenize"],
            "name = \"tokenize\"",
        );
        let tokens = match path {
            Command => out.clone(),
            Spec => out.join("tokens"),
        };
        let manifest = json_file(&tokens.join("tokenize.json"));
        assert_eq!(manifest["tokenizer"]["name"], "gpt2", "{path:?}");
        assert_eq!(manifest["tokenizer"]["eod_id"], 50256, "{path:?}");
        let bin = std::fs::read(tokens.join("web/docs.bin")).unwrap();
        let ids: Vec<u16> = bin
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(ids.last(), Some(&50256), "{path:?}");
        assert_eq!(ids.iter().filter(|&&t| t == 50256).count(), 3, "{path:?}");
    }
}

/// Megatron's split: each prefix of n documents is cut at `int(round(edge · n))`, Python's
/// round (half to even), in every way of asking for a blend.
#[test]
fn the_split_rounds_half_to_even_as_megatron_does() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // 25 documents at 98 %: 24.5 → 24 (half to even; half up would give 25). 60: 58.8 → 59
    // (truncation would give 58).
    let mut prefixes = Vec::new();
    for (name, n) in [("a", 25), ("b", 60)] {
        let docs: Vec<_> = (0..n)
            .map(|i| doc(&format!("{name}{i}"), letters(100 + i, 40)))
            .collect();
        prefixes.push((name, tokenized(dir, name, &docs)));
    }
    let spec = dir.join("blend.toml");
    let mut text = "target_tokens = 2000\nsplit = \"98,2,0\"\nseq_length = 16\n".to_string();
    for (name, tokens) in &prefixes {
        text += &format!(
            "[[dataset]]\nname = {name:?}\npath = {:?}\nweight = 1.0\n",
            tokens.join("web").to_str().unwrap()
        );
    }
    std::fs::write(&spec, text).unwrap();
    let by_command = dir.join("blend-command");
    crate::tokenize_blend::blend(&spec, &by_command);
    // A pipeline's blend follows its tokenize (whose tokens this blend spec does not use).
    let by_spec = run_stage(
        Spec,
        dir,
        "pipeline",
        &dir.join("a.jsonl"),
        &[],
        &format!("name = \"tokenize\"\n[[stage]]\nname = \"blend\"\nspec = {spec:?}"),
    );
    for manifest in [
        by_command.join("manifest.json"),
        by_spec.join("blend/manifest.json"),
    ] {
        let m = json_file(&manifest);
        let datasets = m["datasets"].as_array().unwrap();
        let split = |name: &str, split: &str| {
            let d = datasets.iter().find(|d| d["name"] == name).unwrap();
            d["splits"][split]["documents"].as_u64()
        };
        assert_eq!(split("a", "train"), Some(24), "{manifest:?}: {m}");
        assert_eq!(split("a", "valid"), Some(1), "{manifest:?}");
        assert_eq!(split("b", "train"), Some(59), "{manifest:?}");
        assert_eq!(split("b", "valid"), Some(1), "{manifest:?}");
    }
}

/// `len(text) < 512` drops, and `"javascript" in text.lower() and len(text) < 256` drops
/// (cleanup_dataset.py), at, under and over each length.
#[test]
fn clean_lengths_at_their_boundaries() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let js = |n: usize| format!("JavaScript {}", letters(n as u64, n - 11));
    let docs = vec![
        doc("511", letters(1, 511)),
        doc("512", letters(2, 512)),
        doc("513", letters(3, 513)),
        doc("js255", js(255)),
        doc("js256", js(256)),
        doc("js257", js(257)),
    ];
    let jsonl = corpus(dir, "docs.jsonl", &docs);
    let out = run_stage(Command, dir, "clean", &jsonl, &["clean"], "");
    let (kept, dropped) = outcome(&out);
    assert_eq!(kept, BTreeSet::from(["512".into(), "513".into()]));
    assert_eq!(dropped["511"], "too_short");
    // Without the length rule, the "javascript" rule alone.
    let out = run_stage(
        Command,
        dir,
        "clean-js",
        &jsonl,
        &["clean", "--min-chars", "0"],
        "",
    );
    let (kept, dropped) = outcome(&out);
    assert!(kept.is_superset(&BTreeSet::from(["js256".into(), "js257".into()])));
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert_eq!(dropped["js255"], "javascript");
}

/// Fuzzy duplicates at J ≥ 0.8 exactly: three pairs whose character 5-gram sets have Jaccard
/// 400/500 (= 0.8), 399/500 and 401/500. With 260 bands of one row every pair with
/// J ≈ 0.8 is a candidate (missed with probability 0.2^260), so the verification alone decides.
#[test]
fn jaccard_threshold_at_its_boundary() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let mut docs = Vec::new();
    for (k, shared) in [(1u64, 400usize), (2, 399), (3, 401)] {
        // B is a prefix of A: B's 5-grams are a subset of A's 500.
        let a = distinct_letters(10 * k, 504);
        let b = a[..shared + 4].to_string();
        let (sa, sb) = (char_5grams(&a), char_5grams(&b));
        assert_eq!((sa.len(), sb.len()), (500, shared));
        assert_eq!(sa.intersection(&sb).count(), shared);
        docs.push(doc(&format!("a{k}"), a));
        docs.push(doc(&format!("b{k}"), b));
    }
    let jsonl = corpus(dir, "docs.jsonl", &docs);
    let out = run_stage(
        Command,
        dir,
        "dedup",
        &jsonl,
        &[
            "dedup",
            "--methods",
            "fuzzy",
            "--bands",
            "260",
            "--rows",
            "1",
        ],
        "",
    );
    let (kept, dropped) = outcome(&out);
    // The first copy met (A) represents its component.
    assert_eq!(
        kept,
        ["a1", "a2", "a3", "b2"].map(String::from).into(),
        "{dropped:?}"
    );
    assert!(dropped.contains_key("b1") && dropped.contains_key("b3"));
    let report = json_file(&out.join("dedup-work/components/report.json"));
    assert_eq!(
        (report["documents"].as_u64(), report["shards"].as_u64()),
        (Some(6), Some(1))
    );
    assert_eq!(
        (report["components"].as_u64(), report["removed"].as_u64()),
        (Some(2), Some(2))
    );
}

pub(crate) const NGRAM: &str =
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike";

/// A document quoting `ngram` between two 300-character runs, so a cut leaves two pieces.
pub(crate) fn quoting(seed: u64, ngram: &str) -> String {
    format!(
        "{}. {ngram}. {}.",
        letters(seed, 300),
        letters(seed + 1, 300)
    )
}

/// `filter_ngrams.py` cuts a task n-gram only while fewer than 10 documents contain it: one in
/// 9 documents is cut from each, one in 10 or 11 documents is common text and stays.
#[test]
fn decontamination_frequency_at_its_boundary() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let ngrams: Vec<String> = (0..3)
        .map(|k| {
            NGRAM
                .split(' ')
                .map(|w| format!("{w}{k}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let mut docs = Vec::new();
    for (k, copies) in [(0usize, 9u64), (1, 10), (2, 11)] {
        for i in 0..copies {
            let seed = 1000 * (k as u64 + 1) + 2 * i;
            docs.push(doc(&format!("f{copies}-{i}"), quoting(seed, &ngrams[k])));
        }
    }
    let jsonl = corpus(dir, "docs.jsonl", &docs);
    let tasks: Vec<_> = ngrams
        .iter()
        .enumerate()
        .map(|(k, t)| doc(&format!("t{k}"), t.clone()))
        .collect();
    let task = corpus(dir, "task.jsonl", &tasks);
    let task_flag = format!("qa={}", task.display());
    let set = dir.join("tasks.toml");
    std::fs::write(
        &set,
        format!("[[task]]\nname = \"qa\"\npaths = [{task:?}]\n"),
    )
    .unwrap();
    for way in [Command, Spec] {
        let out = run_stage(
            way,
            dir,
            "decontam",
            &jsonl,
            &["decontam", "--task", &task_flag],
            &format!("name = \"decontam\"\ntasks = {set:?}"),
        );
        let summary = json_file(&out.join("decontam-summary.json"));
        assert_eq!(summary["documents_cut"], 9, "{way:?}: {summary}");
        let texts: Vec<(String, String)> = documents(&out)
            .iter()
            .map(|d| (source_id(d), d["text"].as_str().unwrap().to_string()))
            .collect();
        for (k, copies) in [(0usize, 9u64), (1, 10), (2, 11)] {
            let quoting = texts
                .iter()
                .filter(|(id, t)| id.starts_with(&format!("f{copies}-")) && t.contains(&ngrams[k]))
                .count();
            let expected = if copies < 10 { 0 } else { copies as usize };
            assert_eq!(quoting, expected, "{way:?}: n-gram in {copies} documents");
        }
    }
}

/// A document cut into more than 10 pieces is dropped (`len(free) > 10`): 9 and 10 pieces
/// are written, 11 are not.
#[test]
fn decontamination_pieces_at_their_boundary() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // Each unit: a 211-character piece ending in '.', then 199 characters, the n-gram, and
    // 199 characters to a '.': the cut takes 200 characters each side out to the '.'s, and
    // the piece before it survives. A final piece closes the document.
    let piece = |seed: u64| format!("{}.", letters(seed, 210));
    let text = |cuts: u64, seed: u64| {
        let mut t = String::new();
        for i in 0..cuts {
            t += &piece(seed + 3 * i);
            t += &format!(
                "{} {NGRAM} {}.",
                letters(seed + 3 * i + 1, 199),
                letters(seed + 3 * i + 2, 199)
            );
        }
        t + &piece(seed + 3 * cuts)
    };
    let docs = vec![
        doc("p9", text(8, 100)),
        doc("p10", text(9, 200)),
        doc("p11", text(10, 300)),
    ];
    let jsonl = corpus(dir, "docs.jsonl", &docs);
    let task = corpus(dir, "task.jsonl", &[doc("t", NGRAM.to_string())]);
    let task_flag = format!("qa={}", task.display());
    let out = run_stage(
        Command,
        dir,
        "decontam",
        &jsonl,
        &["decontam", "--task", &task_flag],
        "",
    );
    let mut pieces: BTreeMap<String, usize> = BTreeMap::new();
    for d in documents(&out) {
        assert_eq!(d["text"].as_str().unwrap().chars().count(), 211, "{d}");
        *pieces.entry(source_id(&d)).or_default() += 1;
    }
    assert_eq!(pieces, [("p9".into(), 9), ("p10".into(), 10)].into());
    let (_, dropped) = outcome(&out);
    assert_eq!(dropped["p11"], "too_many_splits");
}

/// A dataset may be repeated up to its `max_epochs`, exactly: a split drawn exactly once
/// passes a cap of 1, fails a cap one step under 1, passes one over.
#[test]
fn blend_epoch_cap_at_its_boundary() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let docs: Vec<_> = (0..20)
        .map(|i| doc(&format!("d{i}"), letters(7 + i, 60)))
        .collect();
    let tokens = tokenized(dir, "docs", &docs);
    let t = tokens.to_str().unwrap();
    let total = json_file(&tokens.join("tokenize.json"))["datasets"]["web"]["tokens"]
        .as_u64()
        .unwrap();
    // One sample of every token: the train split (all of it) is drawn exactly once.
    // `sieve blend` with a cap; its output directory and exit code.
    let blend = |cap: f64| {
        let spec = dir.join("blend.toml");
        std::fs::write(
            &spec,
            format!(
                "target_tokens = {total}\nsplit = \"100,0,0\"\nseq_length = {total}\n\
                 [[dataset]]\nname = \"web\"\npath = {t:?}\nweight = 1.0\nmax_epochs = {cap:?}\n"
            ),
        )
        .unwrap();
        let out = dir.join(format!("blend-{cap}"));
        let (s, o) = (spec.to_str().unwrap(), out.to_str().unwrap());
        let run = crate::util::sieve()
            .args(["blend", "-q", "--spec", s, "-o", o])
            .output()
            .unwrap();
        (out, run)
    };
    for cap in [1.0, f64::from_bits(1.0f64.to_bits() + 1)] {
        let (out, run) = blend(cap);
        assert!(run.status.success(), "{cap}: {run:?}");
        let m = json_file(&out.join("manifest.json"));
        let epochs = m["datasets"][0]["splits"]["train"]["epochs"].as_f64();
        assert_eq!(epochs, Some(1.0), "{m}");
    }
    let (_, failed) = blend(f64::from_bits(1.0f64.to_bits() - 1));
    assert_eq!(failed.status.code(), Some(1));
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(err.contains("max_epochs"), "{err}");
}
