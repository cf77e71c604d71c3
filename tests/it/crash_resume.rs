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
