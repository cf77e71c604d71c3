//! What the test suites share about checks that cannot run on a machine.
//!
//! A test that needs something absent (`../shared/data`, `../shared/tools`, a Python module,
//! Slurm, Chromium, CUDA's compiler) calls [`skip`]. With `SIEVE_REQUIRE_SHARED` set (by
//! `scripts/test.sh` when `../shared` is beside the repository, and always by `.ci/run`) a
//! skip is a failure naming what is missing, so CI can never pass by skipping. Otherwise the
//! test returns after saying so on the terminal, and when the test binary exits it prints how
//! many checks it skipped, so a plain `cargo test` shows the count. The skip is also appended
//! to `$SIEVE_SKIP_LOG` when set, which `scripts/test.sh` totals over every test binary.

use std::io::Write;
use std::sync::Mutex;

/// The skips of this process, printed by [`report_skips_at_exit`].
static SKIPPED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Declares that the calling test cannot run here because `missing` is absent: panics under
/// `SIEVE_REQUIRE_SHARED`, else prints and records the skip (the caller then returns).
pub fn skip(missing: &str) {
    if std::env::var_os("SIEVE_REQUIRE_SHARED").is_some_and(|v| !v.is_empty() && v != "0") {
        panic!("SIEVE_REQUIRE_SHARED is set, but this check needs what is missing: {missing}");
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    // Written to the stderr handle rather than with `eprintln!`: the test harness captures
    // the macros' output of passing tests, and a skip must not be hidden among the `ok`s.
    let _ = writeln!(std::io::stderr(), "skipping {test}: {missing} is missing");
    let line = format!("{test}: {missing}");
    if let Some(log) = std::env::var_os("SIEVE_SKIP_LOG") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(f, "{line}");
        }
    }
    let mut skipped = SKIPPED.lock().unwrap_or_else(|e| e.into_inner());
    if skipped.is_empty() {
        // SAFETY: registers a plain `extern "C"` function with no arguments; `atexit` only
        // fails when its table is full, and then the count is merely not printed.
        unsafe {
            libc::atexit(report_skips_at_exit);
        }
    }
    skipped.push(line);
}

/// Prints, as the test binary exits (after the harness's own summary), how many checks this
/// binary skipped and why.
extern "C" fn report_skips_at_exit() {
    let skipped = SKIPPED.lock().unwrap_or_else(|e| e.into_inner());
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "{} check(s) skipped in this test binary (set SIEVE_REQUIRE_SHARED=1 to fail instead):",
        skipped.len()
    );
    for line in skipped.iter() {
        let _ = writeln!(err, "  {line}");
    }
}
