//! Helpers shared by the benchmarks (included with `#[path]`, as bench targets are separate
//! crates).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// CPU time of the calling thread: benchmarks compare work done, not wall time on a shared box.
#[allow(dead_code)] // used by the in-process benches only
pub fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Runs a Python fastText peer script as `SCRIPT MODEL LINES` (`$SIEVE_PEER_PYTHON`, else
/// `python3`), with `lines` written one per line to a temporary file, and returns the JSON
/// line it prints; on failure says why (and what the Python needs) and returns `None`.
#[allow(dead_code)] // used by the fastText benches only; each bench is its own crate
pub fn run_fasttext_peer(
    script: &std::path::Path,
    model: &std::path::Path,
    lines: &[String],
) -> Option<serde_json::Value> {
    use std::io::Write;
    let file = tempfile::NamedTempFile::new().unwrap();
    {
        let mut f = std::io::BufWriter::new(file.as_file());
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
    }
    let python = std::env::var("SIEVE_PEER_PYTHON").unwrap_or_else(|_| "python3".into());
    match std::process::Command::new(&python)
        .arg(script)
        .arg(model)
        .arg(file.path())
        .output()
    {
        Ok(o) if o.status.success() => {
            Some(serde_json::from_slice(&o.stdout).expect("peer prints JSON"))
        }
        Ok(o) => {
            eprintln!(
                "peer failed (set SIEVE_PEER_PYTHON to a python with fasttext-wheel and numpy<2): {}",
                String::from_utf8_lossy(&o.stderr)
            );
            None
        }
        Err(e) => {
            eprintln!("cannot run {python}: {e}");
            None
        }
    }
}

/// The stages of pipelines/mtnlg-cc.toml (the paper's task list for decontamination) over one
/// WARC, written to `out`.
#[allow(dead_code)] // used by the whole-pipeline benches only
pub fn mtnlg_spec(warc: &Path, out: &Path, repo: &Path) -> String {
    format!(
        r#"
[[input]]
kind = "warc"
dataset = "cc"
paths = [{warc:?}]

[output]
dir = {out:?}

[[stage]]
name = "extract"

[[stage]]
name = "langid"
keep = ["en"]

[[stage]]
name = "clean"
min_chars = 512
javascript_max_chars = 256

[[stage]]
name = "dedup"
priority = ["cc"]
preset = "mtnlg"
threshold = 0.8

[[stage]]
name = "quality"
model = {model:?}
alpha = 3.0
seed = 1

[[stage]]
name = "decontam"
tasks = {tasks:?}

[[stage]]
name = "tokenize"
tokenizer = "gpt2"
"#,
        model = repo.join("models/quality/mtnlg-quality.ftz"),
        tasks = repo.join("pipelines/tasks/mtnlg.toml"),
    )
}

/// Runs a command to completion; returns its CPU time and peak RSS (KiB).
///
/// Linux carries a parent's peak RSS over `fork` + `exec` into the child's `ru_maxrss`, and
/// this process holds the corpus; so the command runs under GNU time, whose own child starts
/// from a small process.
#[allow(dead_code)] // used by the benches that run sieve as a process
pub fn measured(cmd: &mut Command) -> (Duration, u64) {
    let report = std::env::temp_dir().join(format!("sieve-bench-time-{}", std::process::id()));
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-o")
        .arg(&report)
        .args(["-f", "%U %S %M"])
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stderr(std::process::Stdio::null());
    let status = timed
        .status()
        .expect("/usr/bin/time runs (apt-get install time)");
    assert!(status.success(), "{cmd:?} failed");
    let text = std::fs::read_to_string(&report).unwrap();
    let f: Vec<f64> = text
        .split_whitespace()
        .rev()
        .take(3)
        .map(|x| x.parse().unwrap())
        .collect();
    (Duration::from_secs_f64(f[2] + f[1]), f[0] as u64)
}
