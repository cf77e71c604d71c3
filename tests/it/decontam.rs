//! Decontamination end to end: the sample pages quoting task passages are cut, the passes
//! run as separate tasks equal the one-shot command, and output does not depend on threads.

use std::path::Path;

use crate::util::{assert_same_outputs, docs_of, repo, run_ok, sample_web, tree};

fn extracted(dir: &Path) -> String {
    let out = dir.join("extracted");
    run_ok(&[
        "extract",
        "-q",
        "--output",
        out.to_str().unwrap(),
        sample_web().to_str().unwrap(),
    ]);
    out.to_string_lossy().into_owned()
}

fn task_arg() -> String {
    format!(
        "sample-qa={}:context,question",
        repo().join("data-samples/tasks/sample-qa.jsonl").display()
    )
}

#[test]
fn pages_quoting_task_passages_are_cut_and_each_cut_is_reported() {
    let d = tempfile::tempdir().unwrap();
    let input = extracted(d.path());
    let mut outs = Vec::new();
    for threads in ["1", "2"] {
        let out = d.path().join(format!("out{threads}"));
        run_ok(&[
            "decontam",
            "-q",
            "-j",
            threads,
            "--task",
            &task_arg(),
            "--output",
            out.to_str().unwrap(),
            &input,
        ]);
        outs.push(out);
    }
    assert_same_outputs(&outs[0], &outs[1]);
    let out = &outs[0];
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("decontam-summary.json")).unwrap()).unwrap();
    assert_eq!(summary["documents_cut"], 4, "{summary}");
    assert_eq!(summary["matches_by_task"]["sample-qa"], 4, "{summary}");
    // The pieces carry their parent; no task passage is left anywhere.
    let tasks = std::fs::read_to_string(repo().join("data-samples/tasks/sample-qa.jsonl")).unwrap();
    let passages: Vec<String> = tasks
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["context"]
                .as_str()
                .unwrap()
                .to_lowercase()
        })
        .collect();
    let mut pieces = 0;
    for (name, _) in tree(out) {
        if name.ends_with(".parquet") && !name.contains('/') {
            for doc in docs_of(&out.join(&name)) {
                let lower = doc.text.to_lowercase();
                for p in &passages {
                    assert!(
                        !lower.contains(p.as_str()),
                        "{} still quotes a task",
                        doc.id
                    );
                }
                if doc.meta.contains_key("decontam_parent") {
                    pieces += 1;
                    assert!(doc.id.contains("/piece"), "{}", doc.id);
                    assert!(doc.text.chars().count() > 200);
                }
            }
        }
    }
    assert!(pieces >= 4, "{pieces}");
}

#[test]
fn passes_run_as_separate_tasks_equal_the_one_shot_command() {
    let d = tempfile::tempdir().unwrap();
    let input = extracted(d.path());
    let one = d.path().join("one");
    run_ok(&[
        "decontam",
        "-q",
        "--task",
        &task_arg(),
        "--output",
        one.to_str().unwrap(),
        &input,
    ]);
    let work = d.path().join("work");
    let w = work.to_str().unwrap();
    for task in ["1/2", "0/2"] {
        run_ok(&[
            "decontam",
            "count",
            "--work",
            w,
            "--task",
            &task_arg(),
            "--shard",
            task,
            &input,
        ]);
    }
    run_ok(&["decontam", "merge", "--work", w]);
    let split = d.path().join("split");
    for task in ["0/2", "1/2"] {
        run_ok(&[
            "decontam",
            "strip",
            "-q",
            "--work",
            w,
            "--shard",
            task,
            "--output",
            split.to_str().unwrap(),
            &input,
        ]);
    }
    let (a, b) = (tree(&one), tree(&split));
    for (name, bytes) in &a {
        if name.ends_with(".parquet") || name.starts_with("reports/") {
            assert!(b[name] == *bytes, "{name} differs");
        }
    }
}
