//! Decontamination end to end: the sample pages quoting task passages are cut, the passes
//! run as separate tasks equal the one-shot command, and output does not depend on threads.

use std::path::Path;

use crate::util::{
    assert_same_outputs, assert_same_picked, docs_of, names_in, repo, run_ok,
    run_tasks_checking_shares, tree,
};

fn extracted(dir: &Path) -> String {
    let out = dir.join("extracted");
    crate::util::extract_sample_into(&out);
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
    let quiet_run = run_ok(&[
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
    // Each task counts and strips exactly its own share of the one-shot run's shards.
    let counted = work.join("counts/done");
    let units = names_in(&one.join("decontam-work/counts/done"));
    run_tasks_checking_shares(&work, &counted, &units, &["1/2", "0/2"], |task| {
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
    });
    // The merge says what it found, with the numbers of its report, unless told to be quiet.
    let said = String::from_utf8(run_ok(&["decontam", "merge", "--work", w]).stderr).unwrap();
    let report = crate::recipe::json_file(&work.join("merge.json"));
    let summary = format!(
        "sieve decontam: {} task n-grams, {} found in the corpus, {} in ≥ 10 documents",
        report["index_ngrams"], report["ngrams_found"], report["frequent"]
    );
    assert!(said.contains(&summary), "{said}\n{summary}");
    assert!(!String::from_utf8_lossy(&quiet_run.stderr).contains("task n-grams"));
    let split = d.path().join("split");
    let units = names_in(&one.join("done"));
    run_tasks_checking_shares(
        &split,
        &split.join("done"),
        &units,
        &["0/2", "1/2"],
        |task| {
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
        },
    );
    assert_same_picked(&tree(&one), &tree(&split), |name| {
        name.ends_with(".parquet") || name.starts_with("reports/")
    });
}

/// `sieve decontam -q` of `input` into `out`, with task `qa` read from the `context` field of
/// `tasks`.
fn decontam_by_context(tasks: &Path, out: &Path, input: &Path) -> std::process::Output {
    run_ok(&[
        "decontam",
        "-q",
        "--task",
        &format!("qa={}:context", tasks.display()),
        "-o",
        out.to_str().unwrap(),
        input.to_str().unwrap(),
    ])
}

/// Through the stage: a document quoting task text in more places than the split limit
/// allows is dropped as `too_many_splits`; one at the limit is split into its pieces.
#[test]
fn a_document_split_beyond_the_limit_is_dropped_and_one_at_the_limit_kept() {
    let d = tempfile::tempdir().unwrap();
    let passage = "the committee voted to approve the new harbour bridge after eleven months \
                   of public hearings and three independent safety reviews";
    let tasks = d.path().join("tasks.jsonl");
    std::fs::write(&tasks, format!("{{\"context\": \"{passage}\"}}\n")).unwrap();
    // Filler between the quotes: long enough that every piece survives the 200-character
    // context cut on each side and the 200-character minimum.
    let filler = |k: usize| {
        (0..200)
            .map(|w| format!("w{k}x{w}{}", if w % 8 == 7 { "." } else { "" }))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let doc = |quotes: usize| {
        let mut text = filler(0);
        for k in 1..=quotes {
            text += &format!(" {passage} {}", filler(k));
        }
        text
    };
    // 10 quotes leave 11 pieces (over the limit of 10); 9 leave 10 (at the limit).
    let lines = [("over", doc(10)), ("at", doc(9))]
        .iter()
        .map(|(id, text)| format!("{{\"id\": \"{id}\", \"text\": \"{text}\"}}"))
        .collect::<Vec<_>>()
        .join("\n");
    let corpus = d.path().join("pages.jsonl");
    std::fs::write(&corpus, lines).unwrap();
    let shards = d.path().join("shards");
    run_ok(&[
        "import",
        "-q",
        "--dataset",
        "p",
        "-o",
        shards.to_str().unwrap(),
        corpus.to_str().unwrap(),
    ]);
    let out = d.path().join("out");
    decontam_by_context(&tasks, &out, &shards);
    let s = crate::util::stats(&out);
    let stage = crate::util::read_stage(&s, "decontam");
    assert_eq!(stage["dropped"]["too_many_splits"], 1, "{s}");
    let kept = docs_of(&out.join("pages.parquet"));
    assert_eq!(kept.len(), 10, "the document at the limit in its 10 pieces");
    assert!(
        kept.iter()
            .all(|d| d.meta["decontam_parent"] == "p/pages.jsonl#2"),
        "{:?}",
        kept.iter().map(|d| &d.id).collect::<Vec<_>>()
    );
    assert!(kept.iter().all(|d| !d.text.contains("harbour bridge")));
}

/// A corpus with 25 lines that are not JSON: the counting pass names the first 20 (each with
/// its file and line) and goes on; the good documents are decontaminated as usual.
#[test]
fn the_counting_pass_names_the_first_twenty_bad_records_and_goes_on() {
    let d = tempfile::tempdir().unwrap();
    let tasks = d.path().join("tasks.jsonl");
    let passage = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike";
    std::fs::write(&tasks, format!("{{\"context\": \"{passage}\"}}\n")).unwrap();
    let mut lines: Vec<String> = (0..25).map(|i| format!("{{broken {i}")).collect();
    lines.push(
        r#"{"id": "a", "dataset": "p", "text": "a clean document without any task text."}"#.into(),
    );
    lines.push(format!(
        r#"{{"id": "b", "dataset": "p", "text": "{passage}"}}"#
    ));
    let corpus = d.path().join("pages.jsonl");
    std::fs::write(&corpus, lines.join("\n") + "\n").unwrap();
    let out = d.path().join("out");
    let o = decontam_by_context(&tasks, &out, &corpus);
    let stderr = String::from_utf8_lossy(&o.stderr);
    let named: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("sieve decontam count: "))
        .collect();
    assert_eq!(named.len(), 20, "{stderr}");
    assert!(
        named[0].contains("pages.jsonl") && named[0].contains("line 1 "),
        "{stderr}"
    );
    assert!(named[19].contains("line 20 "), "{stderr}");
    let kept = docs_of(&out.join("pages.parquet"));
    assert_eq!(
        kept.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["a"]
    );
    let s = crate::util::stats(&out);
    let read = crate::util::read_stage(&s, "read");
    assert_eq!(read["errors"]["bad_document"], 25, "{s}");
    // The document that was all task text is dropped as contaminated.
    let decontam = crate::util::read_stage(&s, "decontam");
    assert_eq!(decontam["dropped"]["contaminated"], 1, "{s}");
}

/// A spec run prints what decontam cut when it ends, and says nothing of it under `-q`.
#[test]
fn a_spec_run_prints_the_decontam_summary_unless_quiet() {
    let d = tempfile::tempdir().unwrap();
    let passage = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike";
    let tasks = d.path().join("tasks.jsonl");
    std::fs::write(&tasks, format!("{{\"text\": \"{passage}\"}}\n")).unwrap();
    let set = d.path().join("tasks.toml");
    std::fs::write(
        &set,
        format!("[[task]]\nname = \"qa\"\npaths = [{tasks:?}]\n"),
    )
    .unwrap();
    let corpus = d.path().join("docs.jsonl");
    let docs = [("a", "a document without task text."), ("b", passage)];
    let lines: Vec<String> = docs
        .iter()
        .map(|(id, text)| serde_json::json!({"id": id, "text": text}).to_string())
        .collect();
    std::fs::write(&corpus, lines.join("\n") + "\n").unwrap();
    for quiet in [false, true] {
        let out = d.path().join(format!("out-{quiet}"));
        let spec = d.path().join(format!("spec-{quiet}.toml"));
        std::fs::write(
            &spec,
            format!(
                "[[input]]\nkind = \"import\"\ndataset = \"web\"\npaths = [{corpus:?}]\n\
                 [output]\ndir = {out:?}\n[[stage]]\nname = \"decontam\"\ntasks = {set:?}\n"
            ),
        )
        .unwrap();
        let mut args = vec!["run"];
        if quiet {
            args.push("-q");
        }
        args.push(spec.to_str().unwrap());
        let err = String::from_utf8(run_ok(&args).stderr).unwrap();
        let said = err.contains("sieve decontam: 1 documents cut (0 kept as pieces");
        assert_eq!(said, !quiet, "quiet {quiet}: {err}");
    }
}
