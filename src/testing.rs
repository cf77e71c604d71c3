//! What the test suites share about checks that cannot run on a machine.
//!
//! A test that needs something absent (`../shared/data`, `../shared/tools`, a Python module,
//! Slurm, Chromium, CUDA's compiler) calls [`skip`]. With `SIEVE_REQUIRE_SHARED` set (by
//! `scripts/test.sh` when `../shared` is beside the repository, and always by `.ci/run`) a
//! skip is a failure naming what is missing, so CI can never pass by skipping. Otherwise the
//! test returns with a message, and the skip is appended to `$SIEVE_SKIP_LOG` when set, which
//! `scripts/test.sh` counts and reports after the run.

use std::io::Write;

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
    eprintln!("skipping {test}: {missing} is missing");
    if let Some(log) = std::env::var_os("SIEVE_SKIP_LOG") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(f, "{test}: {missing}");
        }
    }
}
