//! `sieve-train selftest --device cpu` runs end to end: every kernel check, the training
//! steps, and the throughput lines, and says PASSED.

use std::process::Command;

#[test]
fn cpu_selftest_passes_and_reports_throughput() {
    let o = Command::new(env!("CARGO_BIN_EXE_sieve-train"))
        .args(["selftest", "--device", "cpu"])
        .args([
            "--throughput",
            "tiny:2x128,small:1x256",
            "--peak-flops",
            "1e11",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.trim_end().ends_with("PASSED"), "{out}");
    for f in [
        "attention_backward",
        "matmul_backward",
        "adamw_step",
        "cross_entropy_backward",
    ] {
        assert!(out.contains(f), "{f} missing:\n{out}");
    }
    assert!(
        out.contains("training steps vs the host reference optimizer: ok"),
        "{out}"
    );
    for run in ["tiny: batch 2 × 128 tokens", "small: batch 1 × 256 tokens"] {
        assert!(out.contains(run), "{run} missing:\n{out}");
    }
    assert!(out.contains("MFU"), "{out}");
}

#[test]
fn a_malformed_throughput_run_is_named() {
    let o = Command::new(env!("CARGO_BIN_EXE_sieve-train"))
        .args(["selftest", "--device", "cpu", "--throughput", "tiny:2by128"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("\"tiny:2by128\"") && err.contains("PRESET:BATCHxSEQ"),
        "{err}"
    );
}
