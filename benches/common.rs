//! Helpers shared by the benchmarks (included with `#[path]`, as bench targets are separate
//! crates).

use std::time::Duration;

/// CPU time of the calling thread: benchmarks compare work done, not wall time on a shared box.
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
