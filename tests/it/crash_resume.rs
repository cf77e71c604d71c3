//! A run killed with SIGKILL part-way, then re-run, produces exactly the output of a run that
//! was never interrupted: markers are written only after outputs, temporaries are replaced.

use std::time::{Duration, Instant};

use crate::util::{assert_same_tree, run_ok, sample_web, sieve};

const COPIES: usize = 60;

#[test]
fn sigkill_then_rerun_equals_an_uninterrupted_run() {
    let d = tempfile::tempdir().unwrap();
    let inputs = d.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    for i in 0..COPIES {
        let src = sample_web().join(format!("sample-web-0000{}.warc.gz", i % 2));
        std::fs::copy(src, inputs.join(format!("part-{i:03}.warc.gz"))).unwrap();
    }
    let killed = d.path().join("killed");
    let mut child = sieve()
        .args([
            "warc",
            "-q",
            "-j",
            "1",
            "--output",
            killed.to_str().unwrap(),
            inputs.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let done_dir = killed.join("done");
    let start = Instant::now();
    let markers_at_kill = loop {
        let n = std::fs::read_dir(&done_dir).map(|d| d.count()).unwrap_or(0);
        if n >= 2 {
            child.kill().unwrap(); // SIGKILL on Unix
            break n;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "sieve finished before it could be killed"
        );
        assert!(start.elapsed() < Duration::from_secs(120), "no progress");
        std::thread::sleep(Duration::from_millis(1));
    };
    child.wait().unwrap();
    let after_kill = std::fs::read_dir(&done_dir).unwrap().count();
    assert!(
        after_kill < COPIES,
        "the run was not interrupted ({markers_at_kill} markers at kill)"
    );

    run_ok(&[
        "warc",
        "-q",
        "-j",
        "2",
        "--output",
        killed.to_str().unwrap(),
        inputs.to_str().unwrap(),
    ]);
    let clean = d.path().join("clean");
    run_ok(&[
        "warc",
        "-q",
        "-j",
        "1",
        "--output",
        clean.to_str().unwrap(),
        inputs.to_str().unwrap(),
    ]);
    assert_same_tree(&killed, &clean);
}

/// The sample pipeline killed at `trials` seeded random moments (anywhere from reading WARCs
/// through dedup's reduce and decontamination to tokenize and blend), each run then re-run to
/// the end: every final output equals an undisturbed run's, byte for byte.
fn kill_the_sample_pipeline_at_random(trials: u64, seed: u64) {
    let d = tempfile::tempdir().unwrap();
    let spec = crate::util::repo().join("pipelines/sample.toml");
    let spec = spec.to_str().unwrap();
    let reference = d.path().join("reference");
    let start = Instant::now();
    run_ok(&[
        "run",
        "-q",
        "-j",
        "2",
        "-o",
        reference.to_str().unwrap(),
        spec,
    ]);
    let full = start.elapsed();
    let mut rng = sieve::rng::SplitMix(seed);
    let mut phases = std::collections::BTreeMap::<&str, usize>::new();
    for trial in 0..trials {
        let out = d.path().join(format!("killed-{trial}"));
        let mut child = sieve()
            .args(["run", "-q", "-j", "2", "-o", out.to_str().unwrap(), spec])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Every fifth trial kills at a moment anywhere in an undisturbed run's span; the others
        // wait for a step to begin (dedup, decontam, tokenize, blend) and kill soon after, so
        // every kind of step is interrupted, not only the longest.
        let targets = ["", "work/dedup", "work/decontam", "tokens", "blend"];
        let target = targets[trial as usize % targets.len()];
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        if target.is_empty() {
            std::thread::sleep(full.mul_f64(u));
        } else {
            let started = Instant::now();
            while !out.join(target).exists()
                && child.try_wait().unwrap().is_none()
                && started.elapsed() < Duration::from_secs(120)
            {
                std::thread::sleep(Duration::from_micros(200));
            }
            std::thread::sleep(Duration::from_secs_f64(0.02 * u));
        }
        let finished = child.try_wait().unwrap().is_some();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Where the run was: the furthest step whose outputs had begun.
        let phase = if finished {
            "finished"
        } else if out.join("blend").exists() {
            "blend"
        } else if out.join("tokens").exists() {
            "tokenize"
        } else if out.join("work/decontam").exists() {
            "decontam"
        } else if out.join("work/before-decontam").exists() {
            "second pass"
        } else if out.join("work/dedup").exists() {
            "dedup"
        } else {
            "first pass"
        };
        *phases.entry(phase).or_default() += 1;
        run_ok(&["run", "-q", "-j", "2", "-o", out.to_str().unwrap(), spec]);
        crate::util::assert_same_outputs(&out, &reference);
        std::fs::remove_dir_all(&out).unwrap();
    }
    eprintln!(
        "killed {trials} runs of the sample pipeline (undisturbed: {full:?}); where: {phases:?}"
    );
    assert!(
        phases.keys().filter(|&&p| p != "finished").count() >= 4,
        "the kills did not spread over the pipeline: {phases:?}"
    );
}

#[test]
fn the_sample_pipeline_killed_at_random_then_rerun_equals_an_undisturbed_run() {
    kill_the_sample_pipeline_at_random(20, 0x5eed);
}

/// More trials: `cargo test -- --ignored crash_soak`.
#[test]
#[ignore]
fn crash_soak_the_sample_pipeline() {
    kill_the_sample_pipeline_at_random(300, 0xc0ffee);
}
