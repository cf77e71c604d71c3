//! Dedup end to end: priority-aware representatives whatever the input order and thread
//! count, the steps run as separate tasks equal to the one-shot command, and explanations.

use std::path::{Path, PathBuf};

use crate::util::{
    assert_same_outputs, assert_same_picked, docs_of, names_in, run_ok, run_tasks_checking_shares,
    tree,
};

/// A deterministic ~300-word English-like text.
pub(crate) fn long_text(seed: u64) -> String {
    const WORDS: &[&str] = &[
        "river", "market", "council", "winter", "library", "garden", "harbour", "school", "bridge",
        "station", "festival", "museum", "village", "forest", "mountain", "engine", "letter",
        "painter", "teacher", "doctor", "farmer", "season", "history", "science", "morning",
        "evening", "summer", "autumn", "road", "island", "castle", "tower",
    ];
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = String::new();
    for i in 0..300 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.push_str(WORDS[(state % WORDS.len() as u64) as usize]);
        out.push(if i % 12 == 11 { '.' } else { ' ' });
        if i % 12 == 11 {
            out.push(' ');
        }
    }
    out
}

/// Imports `docs` (url, text) as dataset `dataset` into `out/<file>.parquet`.
fn import(dir: &Path, file: &str, dataset: &str, docs: &[(String, String)]) -> PathBuf {
    let src = dir.join(format!("src-{file}.jsonl"));
    let lines: Vec<String> = docs
        .iter()
        .map(|(url, text)| serde_json::json!({"url": url, "text": text}).to_string())
        .collect();
    std::fs::write(&src, lines.join("\n") + "\n").unwrap();
    let out = dir.join("shards");
    let renamed = dir.join(format!("{file}.jsonl"));
    std::fs::rename(&src, &renamed).unwrap();
    run_ok(&[
        "import",
        "-q",
        "--dataset",
        dataset,
        "--output",
        out.to_str().unwrap(),
        renamed.to_str().unwrap(),
    ]);
    out
}

/// Three datasets each holding a copy of one text (exact in two, one word changed in the
/// third), plus unique filler; `names` gives the shard file of each dataset, which decides
/// the order in which the copies are met.
fn three_copies(dir: &Path, names: [&str; 3]) -> PathBuf {
    let shared = long_text(7);
    let near = shared.replacen("river", "canal", 1);
    let mut out = PathBuf::new();
    for (k, (dataset, name)) in ["web", "books", "wiki"].iter().zip(names).enumerate() {
        let copy = if *dataset == "web" {
            near.clone()
        } else {
            shared.clone()
        };
        let mut docs = vec![
            (
                format!("https://{dataset}.example/a"),
                long_text(100 + k as u64),
            ),
            (format!("https://{dataset}.example/shared"), copy),
            (
                format!("https://{dataset}.example/b"),
                long_text(200 + k as u64),
            ),
        ];
        if k == 1 {
            docs.reverse();
        }
        out = import(dir, name, dataset, &docs);
    }
    out
}

fn dedup(input: &Path, out: &Path, threads: &str, priority: &str) {
    run_ok(&[
        "dedup",
        "-q",
        "-j",
        threads,
        "--priority",
        priority,
        "--write-rejected",
        "--output",
        out.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
}

pub(crate) fn all_docs(dir: &Path) -> Vec<sieve::doc::Document> {
    let mut docs = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    for f in files {
        docs.extend(docs_of(&f));
    }
    docs
}

#[test]
fn the_highest_priority_copy_is_kept_whatever_the_order_and_threads() {
    let shared = long_text(7);
    for names in [["a", "b", "c"], ["c", "a", "b"], ["b", "c", "a"]] {
        let d = tempfile::tempdir().unwrap();
        let input = three_copies(d.path(), names);
        for threads in ["1", "2"] {
            let out = d.path().join(format!("out-{threads}"));
            dedup(&input, &out, threads, "books,wiki,web");
            let kept = all_docs(&out);
            assert_eq!(kept.len(), 7, "{names:?}: 9 documents, 2 copies removed");
            let copies: Vec<_> = kept
                .iter()
                .filter(|d| d.url.as_deref().unwrap().ends_with("/shared"))
                .collect();
            assert_eq!(copies.len(), 1, "{names:?}");
            assert_eq!(copies[0].dataset, "books", "{names:?} -j{threads}");
            assert_eq!(copies[0].text, shared);
            let rejected = all_docs(&out.join("rejected"));
            assert_eq!(rejected.len(), 2);
            for r in &rejected {
                assert_eq!(r.meta["dedup_representative"], copies[0].id);
                assert_eq!(r.meta["dedup_component_size"], "3");
                let want = if r.dataset == "web" {
                    "near_duplicate"
                } else {
                    "exact_duplicate"
                };
                assert_eq!(r.meta["drop_reason"], want, "{}", r.id);
            }
        }
        assert_same_outputs(&d.path().join("out-1"), &d.path().join("out-2"));
    }
}

/// The default shingles (MT-NLG's character 5-grams of the normalised text: lowercase, each
/// run of whitespace one space, trimmed) as strings, written apart from sieve's hashed
/// shingler.
fn char_shingles(text: &str) -> std::collections::BTreeSet<String> {
    let normalised = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let chars: Vec<char> = normalised.chars().collect();
    chars.windows(5).map(|w| w.iter().collect()).collect()
}

pub(crate) fn true_jaccard(a: &str, b: &str) -> f64 {
    let (a, b) = (char_shingles(a), char_shingles(b));
    a.intersection(&b).count() as f64 / a.union(&b).count() as f64
}

/// `dedup explain` on each removed copy names the kept copy as its representative, and each
/// of its edges carries the pair's true Jaccard similarity.
#[test]
fn explain_names_the_representative_and_each_edges_true_jaccard() {
    let d = tempfile::tempdir().unwrap();
    let input = three_copies(d.path(), ["a", "b", "c"]);
    let out = d.path().join("out");
    dedup(&input, &out, "1", "books,wiki,web");
    let kept = all_docs(&out);
    let rejected = all_docs(&out.join("rejected"));
    let text_of = |id: &str| -> String {
        kept.iter()
            .chain(&rejected)
            .find(|d| d.id == id)
            .unwrap_or_else(|| panic!("no document {id}"))
            .text
            .clone()
    };
    let representative = kept
        .iter()
        .find(|d| d.url.as_deref().unwrap().ends_with("/shared"))
        .unwrap();
    let work = out.join("dedup-work");
    assert_eq!(rejected.len(), 2);
    for r in &rejected {
        let o = run_ok(&["dedup", "explain", "--work", work.to_str().unwrap(), &r.id]);
        let x: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(x["removed"], true, "{x}");
        assert_eq!(x["representative"], representative.id.as_str(), "{x}");
        assert_eq!(x["component_size"], 3, "{x}");
        let edges = x["edges"].as_array().unwrap();
        assert!(!edges.is_empty(), "{x}");
        for e in edges {
            let other = e["id"].as_str().unwrap();
            let want = true_jaccard(&r.text, &text_of(other));
            let got = e["jaccard"].as_f64().unwrap();
            assert!(
                (got - want).abs() < 1e-4,
                "{} – {other}: {got} vs {want}",
                r.id
            );
            assert!(want >= 0.8, "an edge below the threshold: {want}");
        }
    }
}

#[test]
fn without_a_priority_list_the_first_copy_met_is_kept() {
    let d = tempfile::tempdir().unwrap();
    let input = three_copies(d.path(), ["b", "c", "a"]);
    let out = d.path().join("out");
    dedup(&input, &out, "2", "");
    let kept = all_docs(&out);
    let copy = kept
        .iter()
        .find(|d| d.url.as_deref().unwrap().ends_with("/shared"))
        .unwrap();
    // Shard `a` (wiki) sorts first.
    assert_eq!(copy.dataset, "wiki");
}

/// A dataset the priority list does not name ranks below every dataset it names; among the
/// unnamed ones the first copy met wins, as without a list (a list naming none of them).
#[test]
fn datasets_the_priority_list_does_not_name_rank_below_it() {
    let d = tempfile::tempdir().unwrap();
    let input = three_copies(d.path(), ["b", "c", "a"]);
    for (priority, want) in [("web", "web"), ("books", "books"), ("mars,venus", "wiki")] {
        let out = d.path().join(format!("out-{priority}"));
        dedup(&input, &out, "1", priority);
        let kept = all_docs(&out);
        let copies: Vec<_> = kept
            .iter()
            .filter(|d| d.url.as_deref().unwrap().ends_with("/shared"))
            .collect();
        assert_eq!(copies.len(), 1, "{priority}");
        assert_eq!(copies[0].dataset, want, "--priority {priority}");
    }
}

#[test]
fn steps_run_as_separate_tasks_equal_the_one_shot_command() {
    let d = tempfile::tempdir().unwrap();
    let extracted = d.path().join("extracted");
    crate::util::extract_sample_into(&extracted);
    let one_shot = d.path().join("one");
    run_ok(&[
        "dedup",
        "-q",
        "--output",
        one_shot.to_str().unwrap(),
        "--ranges",
        "2",
        extracted.to_str().unwrap(),
    ]);
    let work = d.path().join("work");
    let (w, x) = (work.to_str().unwrap(), extracted.to_str().unwrap());
    // Each map and reduce task finishes exactly its own share of the one-shot run's units.
    let units = |step: &str| names_in(&one_shot.join("dedup-work").join(step).join("done"));
    let step_tasks = |step: &str, tasks: &[&str], run: &mut dyn FnMut(&str)| {
        let done = work.join(step).join("done");
        run_tasks_checking_shares(&work, &done, &units(step), tasks, run)
    };
    step_tasks("signatures", &["1/2", "0/2"], &mut |task| {
        run_ok(&[
            "dedup",
            "signatures",
            "--work",
            w,
            "--ranges",
            "2",
            "--shard",
            task,
            x,
        ]);
    });
    step_tasks("lsh", &["0/2", "1/2"], &mut |task| {
        run_ok(&["dedup", "lsh", "--work", w, "--shard", task]);
    });
    step_tasks("edges", &["2/3", "0/3", "1/3"], &mut |task| {
        run_ok(&["dedup", "edges", "-j", "1", "--work", w, "--shard", task]);
    });
    run_ok(&["dedup", "components", "--work", w]);
    let stepwise = d.path().join("steps");
    run_tasks_checking_shares(
        &stepwise,
        &stepwise.join("done"),
        &names_in(&one_shot.join("done")),
        &["1/2", "0/2"],
        |task| {
            run_ok(&[
                "dedup",
                "filter",
                "-q",
                "--work",
                w,
                "--shard",
                task,
                "--output",
                stepwise.to_str().unwrap(),
                x,
            ]);
        },
    );
    assert_same_picked(&tree(&one_shot), &tree(&stepwise), |name| {
        name.ends_with(".parquet") || name == "stats.json"
    });
    // The same work files on both sides (a file missing on either side fails), byte for
    // byte; task markers name their task split, so only their names are compared.
    let (wa, wb) = (tree(&one_shot.join("dedup-work")), tree(&work));
    assert_same_picked(&wa, &wb, |name| !name.contains("done/"));
    // The sample's planted exact and near copies are found.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.join("components/report.json")).unwrap())
            .unwrap();
    assert!(
        report["removed_by_kind"]["exact"].as_u64().unwrap() >= 10,
        "{report}"
    );
    assert!(
        report["removed_by_kind"]["fuzzy"].as_u64().unwrap() >= 3,
        "{report}"
    );
    // And each removal can be explained.
    let rejected_id = {
        let removed = std::fs::read_to_string(work.join("components/components.jsonl")).unwrap();
        let first: serde_json::Value =
            serde_json::from_str(removed.lines().next().unwrap()).unwrap();
        first["members"][0].as_str().unwrap().to_string()
    };
    let o = run_ok(&["dedup", "explain", "--work", w, &rejected_id]);
    let x: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(x["removed"], true);
    assert!(!x["edges"].as_array().unwrap().is_empty(), "{x}");
}

#[test]
fn a_work_directory_refuses_other_settings() {
    let d = tempfile::tempdir().unwrap();
    let input = three_copies(d.path(), ["a", "b", "c"]);
    let w = d.path().join("w");
    let (w, x) = (w.to_str().unwrap(), input.to_str().unwrap());
    run_ok(&["dedup", "signatures", "--work", w, x]);
    let o = crate::util::run_expect(
        &["dedup", "signatures", "--work", w, "--threshold", "0.7", x],
        1,
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("other settings"));
    // lsh before every signatures task has finished is refused with the reason.
    let w2 = d.path().join("w2");
    run_ok(&[
        "dedup",
        "signatures",
        "--work",
        w2.to_str().unwrap(),
        "--shard",
        "0/3",
        x,
    ]);
    let o = crate::util::run_expect(&["dedup", "lsh", "--work", w2.to_str().unwrap()], 1);
    assert!(String::from_utf8_lossy(&o.stderr).contains("not finished"));
}

#[test]
fn the_labelled_set_meets_the_recall_and_precision_targets() {
    let Some(data) = crate::util::shared_data() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let json = d.path().join("scores.json");
    run_ok(&[
        "eval",
        "dedup",
        "--families",
        "300",
        "--data",
        data.to_str().unwrap(),
        "--scratch",
        d.path().join("scratch").to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    let scores: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let s = &scores[0];
    assert!(s["recall_at_least_0_9"].as_f64().unwrap() >= 0.99, "{s}");
    assert!(s["removed_justified"].as_f64().unwrap() >= 0.99, "{s}");
    assert_eq!(s["long_texts_merged"], 0, "{s}");
    assert!(s["removed"].as_u64().unwrap() > 300, "{s}");
}

/// Runs `sieve dedup` over `input` with `extra` options; returns the kept documents and the
/// work directory's recorded settings.
fn dedup_with(
    input: &Path,
    out: &Path,
    extra: &[&str],
) -> (Vec<sieve::doc::Document>, serde_json::Value) {
    let mut args = vec![
        "dedup",
        "-q",
        "--priority",
        "books,wiki,web",
        "--output",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.push(input.to_str().unwrap());
    run_ok(&args);
    let config =
        serde_json::from_slice(&std::fs::read(out.join("dedup-work/config.json")).unwrap())
            .unwrap();
    (all_docs(out), config)
}

fn shared_copies(kept: &[sieve::doc::Document]) -> usize {
    kept.iter()
        .filter(|d| d.url.as_deref().unwrap().ends_with("/shared"))
        .count()
}

/// `--preset fineweb` records its LSH layout and word shingles and still finds the copies;
/// `--methods` limits the relations (exact alone keeps the edited copy, fuzzy alone finds
/// all three); `--verify estimate` finds the edited copy from the signatures alone; and
/// `url` merges documents that share a URL whatever their text.
#[test]
fn presets_methods_and_verification_change_what_is_found() {
    let d = tempfile::tempdir().unwrap();
    let input = three_copies(d.path(), ["a", "b", "c"]);

    let (kept, config) = dedup_with(&input, &d.path().join("fineweb"), &["--preset", "fineweb"]);
    let text = config.to_string();
    assert!(text.contains("word:5"), "{config}");
    assert_eq!(
        (config["bands"].as_u64(), config["rows"].as_u64()),
        (Some(14), Some(8)),
        "{config}"
    );
    assert_eq!(shared_copies(&kept), 1);

    let (kept, _) = dedup_with(&input, &d.path().join("exact"), &["--methods", "exact"]);
    assert_eq!(shared_copies(&kept), 2, "exact alone keeps the edited copy");
    let (kept, _) = dedup_with(&input, &d.path().join("fuzzy"), &["--methods", "fuzzy"]);
    assert_eq!(shared_copies(&kept), 1, "fuzzy alone finds all three");

    let (kept, config) = dedup_with(
        &input,
        &d.path().join("estimate"),
        &["--verify", "estimate"],
    );
    assert!(config.to_string().contains("estimate"), "{config}");
    assert_eq!(shared_copies(&kept), 1);

    // Two different texts at one URL: one document with `url` among the methods, two without.
    std::fs::create_dir_all(d.path().join("urls")).unwrap();
    let same_url = import(
        &d.path().join("urls"),
        "u",
        "web",
        &[
            ("https://x.example/page".into(), long_text(1)),
            ("https://x.example/page".into(), long_text(2)),
        ],
    );
    let (kept, _) = dedup_with(&same_url, &d.path().join("url"), &["--methods", "url"]);
    assert_eq!(kept.len(), 1);
    let (kept, _) = dedup_with(
        &same_url,
        &d.path().join("no-url"),
        &["--methods", "exact,fuzzy"],
    );
    assert_eq!(kept.len(), 2);
}
