//! Every CUDA kernel compiles with NVRTC for sm_80 (A100) and sm_90 (H100) to the PTX the
//! binary embeds (`kernels/ptx/`) and assembles with `ptxas` without a warning or a register
//! spill. Needs the `cuda` feature and CUDA 12's NVRTC
//! and ptxas, which need no GPU: `scripts/test.sh` installs them from PyPI
//! (`nvidia-cuda-nvrtc-cu12`, `nvidia-cuda-nvcc-cu12`, `nvidia-cuda-runtime-cu12` for the
//! headers) and sets `LD_LIBRARY_PATH`, `SIEVE_CUDA_INCLUDE` and `SIEVE_PTXAS`. Also: the
//! library probe and the NCCL id fail by naming what is missing.
#![cfg(feature = "cuda")]

use std::process::Command;

use sieve_trainer::backend::cuda::compile::{compile_all, nvrtc_present};
use sieve_trainer::backend::cuda::ptx::BUILDS;

/// PTX without its `//` comment lines (NVRTC's header names the exact compiler build).
fn without_comments(ptx: &str) -> Vec<&str> {
    ptx.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect()
}

#[test]
fn every_kernel_compiles_for_sm80_and_sm90_without_warnings_or_spills() {
    let (Ok(include), Ok(ptxas)) = (
        std::env::var("SIEVE_CUDA_INCLUDE"),
        std::env::var("SIEVE_PTXAS"),
    ) else {
        sieve_shards::testing::skip(
            "CUDA 12's headers and ptxas (SIEVE_CUDA_INCLUDE, SIEVE_PTXAS; scripts/test.sh sets them)",
        );
        return;
    };
    assert!(nvrtc_present(), "libnvrtc is not on LD_LIBRARY_PATH");
    let d = tempfile::tempdir().unwrap();
    for arch in [80, 90] {
        let compiled =
            compile_all(arch, std::slice::from_ref(&include)).unwrap_or_else(|e| panic!("{e:#}"));
        let embedded = BUILDS.iter().find(|(a, _)| *a == arch).unwrap().1;
        for (file, ptx) in compiled {
            assert!(ptx.contains(".entry"), "{file}: no kernel in the PTX");
            let stem = file.trim_end_matches(".cu");
            if std::env::var_os("SIEVE_WRITE_PTX").is_some() {
                let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kernels/ptx");
                std::fs::write(dir.join(format!("{stem}.sm{arch}.ptx")), &ptx).unwrap();
            } else {
                let (_, checked_in) = embedded
                    .iter()
                    .find(|(f, _)| *f == file)
                    .unwrap_or_else(|| panic!("{file} has no embedded PTX for sm_{arch}"));
                assert!(
                    without_comments(checked_in) == without_comments(&ptx),
                    "kernels/ptx/{stem}.sm{arch}.ptx is not what kernels/{file} compiles to: run scripts/cuda-ptx.sh"
                );
            }
            let path = d.path().join(format!("{file}.sm{arch}.ptx"));
            std::fs::write(&path, &ptx).unwrap();
            let o = Command::new(&ptxas)
                .arg(format!("-arch=sm_{arch}"))
                .args([
                    "-v",
                    "--warn-on-spills",
                    "--warning-as-error",
                    "-o",
                    "/dev/null",
                ])
                .arg(&path)
                .output()
                .unwrap();
            let log = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success(), "ptxas sm_{arch} {file}:\n{log}");
            for line in log.lines().filter(|l| l.contains("spill")) {
                assert!(
                    line.contains("0 bytes spill stores, 0 bytes spill loads"),
                    "{file} sm_{arch} spills registers: {line}"
                );
            }
        }
    }
}

/// Without a GPU the probe names what is missing, and asking NCCL for an id fails with the
/// library's name instead of a panic from the dynamic loader.
#[test]
fn missing_cuda_libraries_are_named_not_panicked_on() {
    use sieve_trainer::backend::cuda::compile::missing_libraries;
    use sieve_trainer::dist::nccl_id::nccl_unique_id;
    let missing = missing_libraries();
    assert_eq!(
        missing.iter().any(|m| m.starts_with("libnvrtc")),
        !nvrtc_present(),
        "{missing:?}"
    );
    if missing.iter().any(|m| m.starts_with("libnccl")) {
        let err = nccl_unique_id().unwrap_err().to_string();
        assert!(err.contains("libnccl"), "{err}");
    }
    if missing.iter().any(|m| m.starts_with("libcuda")) {
        eprintln!("no NVIDIA driver here: {missing:?}");
    }
}

/// Without a GPU, `selftest --device cuda` and `train --device cuda` stop with a message that
/// names what is missing (never a panic).
#[test]
fn device_cuda_without_a_gpu_names_what_is_missing() {
    use sieve_trainer::backend::cuda::compile::missing_libraries;
    if !missing_libraries().iter().any(|m| m.starts_with("libcuda")) {
        eprintln!("skipping: this machine has the NVIDIA driver");
        return;
    }
    let o = Command::new(env!("CARGO_BIN_EXE_sieve-train"))
        .args(["selftest", "--device", "cuda"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("libcuda"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
