//! Shared by the trainer's integration tests: the sample pipeline's blend (built once per test
//! binary), the Python with numpy, and the shared tools directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sieve_trainer::model::{GptConfig, Precision, Recompute};
use sieve_trainer::optim::{AdamConfig, BatchSchedule, LrSchedule};
use sieve_trainer::train::TrainConfig;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The `sieve` binary of this build. The trainer does not link the pipeline, so its tests make
/// their blend by running the binary, which `cargo test --workspace` builds beside this test
/// binary (`target/<profile>/sieve`).
pub fn sieve_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = profile_dir.join("sieve");
    assert!(
        bin.is_file(),
        "{} is missing: the trainer's tests make their blend with the sieve binary; run them \
         with `cargo test --workspace` (or `cargo build -p sieve` first)",
        bin.display()
    );
    bin
}

/// `OUT/blend` of `sieve run pipelines/sample.toml`, run once into a temporary directory.
pub fn sample_blend() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = tempfile::tempdir().unwrap().keep();
        let o = Command::new(sieve_binary())
            .args(["run", "-q", "-j", "2", "-o"])
            .arg(&out)
            .arg(workspace().join("pipelines/sample.toml"))
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "the sample pipeline failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        out.join("blend")
    })
    .clone()
}

/// `../shared/tools` beside the repository, or None (with a message) when absent.
pub fn shared_tools() -> Option<PathBuf> {
    let p = workspace().parent().unwrap().join("shared/tools");
    if p.join("megatron_ref.py").exists() {
        Some(p)
    } else {
        sieve_shards::testing::skip(&format!(
            "{} (the shared tools beside the repository)",
            p.display()
        ));
        None
    }
}

/// A Python with `modules`: `$SIEVE_TEST_PYTHON` (scripts/test.sh's venv; a missing module
/// fails the test) or `python3` if it has them, else None.
pub fn python_with(modules: &[&str]) -> Option<String> {
    let explicit = std::env::var("SIEVE_TEST_PYTHON").ok();
    let python = explicit.clone().unwrap_or_else(|| "python3".into());
    let script: String = modules.iter().map(|m| format!("import {m}\n")).collect();
    let ok = Command::new(&python)
        .args(["-c", &script])
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    assert!(
        explicit.is_none(),
        "SIEVE_TEST_PYTHON={python} lacks one of {modules:?}"
    );
    sieve_shards::testing::skip(&format!(
        "a Python with {modules:?} ({python} lacks one; set SIEVE_TEST_PYTHON)"
    ));
    None
}

/// Runs `python script args…` and returns stdout, failing the test on a non-zero exit.
pub fn run_python(python: &str, script: &str, args: &[&str]) -> String {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The `sieve-train` binary, started in a scratch directory: a run without `--save` saves to
/// `./checkpoints`, which must never land in the repository (tests pass `--no-save` unless they
/// save; this is the guard).
pub fn sieve_train() -> Command {
    static SCRATCH: OnceLock<PathBuf> = OnceLock::new();
    let scratch = SCRATCH.get_or_init(|| tempfile::tempdir().unwrap().keep());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sieve-train"));
    cmd.current_dir(scratch);
    cmd
}

/// `--no-save` unless `args` name a `--save` directory.
pub fn no_save_unless_saving<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut out = args.to_vec();
    if !args.contains(&"--save") {
        out.push("--no-save");
    }
    out
}

/// `sieve-train ARGS`, which must succeed (else the test fails with the arguments and the
/// stderr); its output.
pub fn sieve_train_ok<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> std::process::Output {
    let out = sieve_train().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "sieve-train {:?} failed:\n{}",
        args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `sieve-train export` of checkpoint `save` into `out`, which must succeed.
pub fn export(save: &Path, out: &Path) {
    sieve_train_ok(&[
        "export".as_ref(),
        "--checkpoint".as_ref(),
        save.as_os_str(),
        "--output".as_ref(),
        out.as_os_str(),
    ]);
}

/// A one-rank run of `model` on 16-token sequences, as the equivalence tests train it: AdamW
/// (β 0.9/0.95, ε 1e-8, weight decay 0.1), clipping at 1, init std 0.02, seed 1234, full
/// precision, no evaluation, no parallelism. Callers change the rest with `..`.
pub fn train_config(
    model: GptConfig,
    micro_batch: usize,
    batch: BatchSchedule,
    lr: LrSchedule,
    train_iters: u64,
) -> TrainConfig {
    TrainConfig {
        model,
        seq: 16,
        micro_batch,
        batch,
        lr,
        adam: AdamConfig {
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            weight_decay: 0.1,
        },
        clip_grad: 1.0,
        init_std: 0.02,
        seed: 1234,
        train_iters,
        eval_interval: 0,
        eval_iters: 0,
        precision: Precision::Full,
        tp: 1,
        pp: 1,
        dp: 1,
        zero1: false,
        bucket_elements: None,
        recompute: Recompute::None,
        sequence_parallel: false,
        virtual_stages: 1,
    }
}
