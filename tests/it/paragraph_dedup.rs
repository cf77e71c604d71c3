//! Paragraph dedup end to end: which copy of a repeated line stays (`keep`), lines over
//! `max_copies` removed everywhere, short lines never matched, documents left too short
//! dropped with their reason, and the same bytes whatever the task split.

use std::path::{Path, PathBuf};

use crate::dedup::{all_docs, long_text};
use crate::util::{assert_same_picked, run_ok, tree};

const COOKIE: &str = "We use cookies to give you the best experience on our website.";
const FOOTER: &str = "Copyright Example Media Group, all rights reserved worldwide.";
const QUOTE: &str = "The river was higher this spring than anyone could remember.";

/// Documents over three files: every one has the footer (150 copies: over `max_copies`) and a
/// short "Share" line; every fifth the cookie line; three quote the same sentence; two are
/// only boilerplate and a short text.
fn corpus(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    let mut n = 0;
    for f in 0..3 {
        let mut lines = Vec::new();
        for _ in 0..50 {
            let mut text = vec![long_text(1000 + n)];
            if n % 5 == 0 {
                text.insert(0, COOKIE.to_string());
            }
            if n == 7 || n == 60 || n == 130 {
                text.push(QUOTE.to_string());
            }
            if n == 20 || n == 21 {
                text = vec![COOKIE.into(), "Too short to keep alone.".into()];
            }
            text.push("Share".into());
            text.push(FOOTER.into());
            let id = format!("d{n:03}");
            lines.push(serde_json::json!({"id": id, "text": text.join("\n")}).to_string());
            n += 1;
        }
        std::fs::write(src.join(format!("part-{f}.jsonl")), lines.join("\n") + "\n").unwrap();
    }
    let shards = dir.join("shards");
    run_ok(&[
        "import",
        "-q",
        "--dataset",
        "web",
        "--output",
        shards.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    shards
}

fn by_source_id(dir: &Path) -> std::collections::BTreeMap<String, sieve::doc::Document> {
    all_docs(dir)
        .into_iter()
        .map(|d| (d.meta["source_id"].clone(), d))
        .collect()
}

#[test]
fn repeated_lines_go_and_the_first_copy_stays() {
    let d = tempfile::tempdir().unwrap();
    let shards = corpus(d.path());
    let out = d.path().join("first");
    run_ok(&[
        "paragraph-dedup",
        "-q",
        "--write-rejected",
        "--output",
        out.to_str().unwrap(),
        shards.to_str().unwrap(),
    ]);
    let kept = by_source_id(&out);
    let rejected = by_source_id(&out.join("rejected"));
    // The cookie line's first copy (d000, first shard, first document) stays; the others go.
    assert!(kept["d000"].text.starts_with(COOKIE));
    for id in ["d005", "d010", "d145"] {
        assert!(!kept[id].text.contains(COOKIE), "{id}");
        assert_eq!(
            kept[id].text,
            long_text(1000 + id[1..].parse::<u64>().unwrap()) + "\nShare",
            "{id}"
        );
    }
    // The quote stays in d007 only.
    assert!(kept["d007"].text.contains(QUOTE));
    assert!(!kept["d060"].text.contains(QUOTE) && !kept["d130"].text.contains(QUOTE));
    // The footer is on 150 documents, over max_copies (100): gone everywhere, d000 too.
    assert!(kept.values().all(|d| !d.text.contains(FOOTER)));
    // "Share" is shorter than min_unit_chars: never matched, on every document.
    assert!(kept.values().all(|d| d.text.ends_with("Share")));
    // d020 and d021 lose their cookie line (and d021 its copy of d020's sentence): each is
    // left under min_doc_chars (200) and dropped.
    for id in ["d020", "d021"] {
        assert_eq!(
            rejected[id].meta["drop_reason"], "duplicate_paragraphs",
            "{id}"
        );
    }
    assert_eq!(rejected["d020"].text, "Too short to keep alone.\nShare");
    assert_eq!(rejected["d021"].text, "Share");
    assert_eq!(kept.len() + rejected.len(), 150);
    assert_eq!(kept["d005"].meta["paragraphs_removed"], "2");

    // The report: the footer first (150 copies on 150 documents), with its text.
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("paragraph-dedup-work/report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["top"][0]["text"], FOOTER, "{report}");
    assert_eq!(report["top"][0]["copies"], 150);
    assert_eq!(report["top"][1]["text"], COOKIE);
    assert_eq!(report["top"][1]["copies"], 31);
    assert_eq!(report["units_over_max"], 1);
    // Removed: 150 footers, 30 cookie lines, 2 quotes, and "Too short to keep alone." once.
    assert_eq!(report["removed_units"], 183, "{report}");
    let removed_bytes = 150 * FOOTER.len() + 30 * COOKIE.len() + 2 * QUOTE.len() + 24;
    assert_eq!(report["removed_bytes"], removed_bytes as u64);

    // keep = none: no copy of a repeated line stays.
    let none = d.path().join("none");
    run_ok(&[
        "paragraph-dedup",
        "-q",
        "--keep",
        "none",
        "--output",
        none.to_str().unwrap(),
        shards.to_str().unwrap(),
    ]);
    let kept = by_source_id(&none);
    assert!(kept
        .values()
        .all(|d| !d.text.contains(COOKIE) && !d.text.contains(QUOTE)));
    // With max_copies off, keep = first leaves the footer on its first document.
    let unlimited = d.path().join("unlimited");
    run_ok(&[
        "paragraph-dedup",
        "-q",
        "--max-copies",
        "0",
        "--output",
        unlimited.to_str().unwrap(),
        shards.to_str().unwrap(),
    ]);
    let kept = by_source_id(&unlimited);
    let with_footer: Vec<&String> = kept
        .iter()
        .filter(|(_, d)| d.text.contains(FOOTER))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(with_footer, ["d000"]);
}

#[test]
fn the_steps_as_tasks_give_the_bytes_of_one_run() {
    let d = tempfile::tempdir().unwrap();
    let shards = corpus(d.path());
    let spec = d.path().join("spec.toml");
    std::fs::write(
        &spec,
        format!(
            "[[input]]\nkind = \"shards\"\ndataset = \"web\"\npaths = [{:?}]\n\n[output]\ndir = \"out\"\n\n\
             [[stage]]\nname = \"paragraph-dedup\"\npartitions = 3\n",
            shards.to_str().unwrap()
        ),
    )
    .unwrap();
    let one = d.path().join("one");
    run_ok(&[
        "run",
        "-q",
        "-j",
        "2",
        "-o",
        one.to_str().unwrap(),
        spec.to_str().unwrap(),
    ]);
    let steps = d.path().join("steps");
    let o = steps.to_str().unwrap();
    let s = spec.to_str().unwrap();
    let plan: serde_json::Value =
        serde_json::from_slice(&run_ok(&["run", "-o", o, s, "--plan"]).stdout).unwrap();
    for step in plan.as_array().unwrap() {
        let name = step["name"].as_str().unwrap();
        let tasks = step["tasks"].as_u64().unwrap();
        // Map and reduce steps as tasks in a scrambled order; single steps once.
        let order: Vec<u64> = (0..tasks).rev().collect();
        for t in order {
            let shard = format!("{t}/{tasks}");
            run_ok(&[
                "run", "-q", "-j", "1", "-o", o, s, "--step", name, "--shard", &shard,
            ]);
        }
    }
    assert_same_picked(&tree(&one), &tree(&steps), |name| {
        name.ends_with(".parquet") || name.ends_with("report.json") || name == "stats.json"
    });
}
