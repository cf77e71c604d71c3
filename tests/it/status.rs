//! `sieve status DIR` on local runs: a finished run (every step's tasks done, as `--plan`
//! counts them), a run in progress and then killed with SIGKILL (the step it was on, its tasks
//! done as the markers on disk count them, the command that resumes it), and a run in which an
//! input could not be read (named with its error, exit code 2). The Slurm side is checked in
//! `slurm.rs`.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::{repo, run_expect, run_ok, run_sample, sample_web, sieve};

/// `sieve status DIR`: (exit code, stdout).
fn status(dir: &Path) -> (i32, String) {
    let o: Output = sieve().arg("status").arg(dir).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

/// The step table: step → (tasks, done, state).
fn rows(text: &str) -> Vec<(String, usize, usize, String)> {
    text.lines()
        .skip_while(|l| !l.starts_with("step "))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3..].join(" "),
            )
        })
        .collect()
}

/// Markers in a directory (temporaries, which start with a dot, are not markers).
fn markers(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .count()
    })
}

#[test]
fn status_of_a_finished_run_lists_every_step_of_the_plan_done() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("sample");
    run_sample(&out, &[]);
    let spec = repo().join("pipelines/sample.toml");
    let plan = run_ok(&[
        "run",
        "--plan",
        "-o",
        out.to_str().unwrap(),
        spec.to_str().unwrap(),
    ]);
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let (code, text) = status(&out);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("\nfinished in "), "{text}");
    assert!(text.contains(&spec.display().to_string()), "{text}");
    let got = rows(&text);
    let steps = plan.as_array().unwrap();
    assert_eq!(got.len(), steps.len(), "{text}");
    for (row, step) in got.iter().zip(steps) {
        let tasks = step["tasks"].as_u64().unwrap() as usize;
        assert_eq!(
            (row.0.as_str(), row.1, row.2, row.3.as_str()),
            (step["name"].as_str().unwrap(), tasks, tasks, "done"),
            "{text}"
        );
    }
    // Independently of the ledger: the first pass's markers are one per input shard.
    assert_eq!(got[0].2, markers(&out.join("work/before-dedup/done")));
    assert!(!text.contains("failed"), "{text}");
}

#[test]
fn status_of_a_killed_run_says_where_it_stopped_and_how_to_go_on() {
    let d = tempfile::tempdir().unwrap();
    let inputs = d.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    let copies = 24;
    for i in 0..copies {
        let src = sample_web().join(format!("sample-web-0000{}.warc.gz", i % 2));
        std::fs::copy(src, inputs.join(format!("part-{i:03}.warc.gz"))).unwrap();
    }
    let out = d.path().join("out");
    let spec = d.path().join("spec.toml");
    std::fs::write(
        &spec,
        format!(
            "[[input]]\nkind = \"warc\"\ndataset = \"web\"\npaths = [{:?}]\n\n\
             [output]\ndir = {:?}\n\n\
             [[stage]]\nname = \"extract\"\n\n[[stage]]\nname = \"clean\"\n\n\
             [[stage]]\nname = \"dedup\"\npriority = [\"web\"]\n",
            inputs.display().to_string(),
            out.display().to_string()
        ),
    )
    .unwrap();
    let mut child = sieve()
        .args(["run", "-q", "-j", "1"])
        .arg(&spec)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pass = out.join("work/before-dedup/done");
    let start = Instant::now();
    while markers(&pass) < 2 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run finished before it was looked at"
        );
        assert!(start.elapsed() < Duration::from_secs(300), "no progress");
        std::thread::sleep(Duration::from_millis(5));
    }

    // In progress: the step it is on, with the markers written so far.
    let (code, text) = status(&out);
    let done_then = markers(&pass);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("running for ") && text.contains("now on step pass-1"),
        "{text}"
    );
    let r = rows(&text);
    assert_eq!((r[0].0.as_str(), r[0].1), ("pass-1", copies), "{text}");
    assert_eq!(r[0].3, "running", "{text}");
    assert!(r[0].2 >= 2 && r[0].2 <= done_then, "{text}");
    for later in &r[1..] {
        assert_eq!((later.2, later.3.as_str()), (0, "pending"), "{text}");
    }

    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let done_at_kill = markers(&pass);
    assert!(done_at_kill < copies, "the run was not interrupted");

    // Killed: stopped on pass-1, with exactly the markers on disk, and the way to go on.
    let (code, text) = status(&out);
    assert_eq!(code, 0, "nothing failed:\n{text}");
    assert!(
        text.contains(&format!(
            "stopped: process {} ended during step pass-1",
            child.id()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("re-run `sieve run {}", spec.display())),
        "{text}"
    );
    let r = rows(&text);
    assert_eq!(
        (r[0].1, r[0].2, r[0].3.as_str()),
        (copies, done_at_kill, "stopped"),
        "{text}"
    );
    assert!(r[1..].iter().all(|s| s.3 == "pending"), "{text}");

    // Re-run to the end: finished, every step done.
    run_ok(&["run", "-q", "-j", "2", spec.to_str().unwrap()]);
    let (code, text) = status(&out);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("\nfinished in "), "{text}");
    assert!(
        rows(&text).iter().all(|s| s.2 == s.1 && s.3 == "done"),
        "{text}"
    );
}

#[test]
fn status_names_an_input_that_could_not_be_read_and_exits_2() {
    let d = tempfile::tempdir().unwrap();
    let good = repo().join("data-samples/corpora/books.jsonl");
    let parquet = d.path().join("parquet");
    run_ok(&[
        "import",
        "-q",
        "--dataset",
        "b",
        "-o",
        parquet.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    let whole = std::fs::read(parquet.join("books.parquet")).unwrap();
    let cut = d.path().join("cut.parquet");
    std::fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
    let out = d.path().join("out");
    let spec = d.path().join("spec.toml");
    std::fs::write(
        &spec,
        format!(
            "[[input]]\nkind = \"shards\"\ndataset = \"b\"\npaths = [{:?}, {:?}]\n\n\
             [output]\ndir = {:?}\n\n[[stage]]\nname = \"clean\"\n",
            parquet.join("books.parquet").display().to_string(),
            cut.display().to_string(),
            out.display().to_string()
        ),
    )
    .unwrap();
    run_expect(&["run", "-q", spec.to_str().unwrap()], 2);
    let (code, text) = status(&out);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("ended after "), "{text}");
    let r = rows(&text);
    assert_eq!(
        (r[0].0.as_str(), r[0].1, r[0].2, r[0].3.as_str()),
        ("pass-1", 2, 1, "some inputs failed"),
        "{text}"
    );
    let failed: Vec<&str> = text.lines().filter(|l| l.starts_with("failed: ")).collect();
    assert_eq!(failed.len(), 1, "{text}");
    assert!(
        failed[0].starts_with("failed: pass-1: ")
            && failed[0].contains("cut.parquet")
            && failed[0].contains("Parquet"),
        "{text}"
    );

    // A stage command's output directory: shards done and the input that failed.
    let stage = d.path().join("stage");
    run_expect(
        &[
            "clean",
            "-q",
            "-o",
            stage.to_str().unwrap(),
            parquet.join("books.parquet").to_str().unwrap(),
            cut.to_str().unwrap(),
        ],
        2,
    );
    let (code, text) = status(&stage);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("output of a stage command: 1 shard done, 1 failed"),
        "{text}"
    );
    // Not a run directory at all: said so, exit code 1.
    let (code, _) = status(d.path());
    assert_eq!(code, 1);
}
