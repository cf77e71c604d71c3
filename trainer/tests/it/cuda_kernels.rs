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
use sieve_trainer::backend::cuda::ptx::{BUILDS, CUBIN_BUILDS};

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
            let cubin = d.path().join(format!("{file}.sm{arch}.cubin"));
            let o = Command::new(&ptxas)
                .arg(format!("-arch=sm_{arch}"))
                .args(["-v", "--warn-on-spills", "--warning-as-error", "-o"])
                .arg(&cubin)
                .arg(&path)
                .output()
                .unwrap();
            let log = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success(), "ptxas sm_{arch} {file}:\n{log}");
            // The machine code the binary embeds is ptxas's of this PTX.
            let made = std::fs::read(&cubin).unwrap();
            if std::env::var_os("SIEVE_WRITE_PTX").is_some() {
                let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kernels/cubin");
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join(format!("{stem}.sm{arch}.cubin")), &made).unwrap();
            } else {
                let table = CUBIN_BUILDS.iter().find(|(a, _)| *a == arch).unwrap().1;
                let embedded = table.iter().find(|(f, _)| *f == file).unwrap().1;
                assert!(
                    embedded == made.as_slice(),
                    "kernels/cubin/{stem}.sm{arch}.cubin is not what ptxas makes of its PTX: run scripts/cuda-ptx.sh"
                );
            }
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

/// The oldest driver the README states is the one whose CUDA (12.0) knows the embedded PTX's
/// ISA: every PTX file declares ISA 8.0 (NVIDIA's PTX ISA table: 8.0 came with CUDA 12.0, whose
/// Linux driver is 525.60.13) and targets the architecture its name gives. Read from the files
/// and the README, not from sieve's constants.
#[test]
fn the_embedded_ptx_loads_on_the_oldest_driver_the_readme_states() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("../README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.contains("Oldest supported NVIDIA driver"))
        .expect("the README states the oldest supported driver");
    assert!(
        line.contains("525.60.13") && line.contains("CUDA 12.0"),
        "{line}"
    );
    let (cuda_12_0_isa, driver) = ((8, 0), "525.60.13");
    assert_eq!(sieve_trainer::backend::cuda::ptx::OLDEST_DRIVER, driver);
    let mut files = 0;
    for e in std::fs::read_dir(root.join("kernels/ptx")).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .unwrap_or_else(|| panic!("{name}: no {key}line"))
                .trim()
                .to_string()
        };
        let version = field(".version ");
        let (major, minor) = version.split_once('.').unwrap();
        let isa: (u32, u32) = (major.parse().unwrap(), minor.parse().unwrap());
        assert!(
            isa <= cuda_12_0_isa,
            "{name}: PTX ISA {version} is newer than CUDA 12.0's 8.0"
        );
        let arch = name.split('.').nth(1).unwrap().trim_start_matches("sm");
        assert_eq!(field(".target "), format!("sm_{arch}"), "{name}");
        files += 1;
    }
    assert_eq!(files, 12);
}

/// A GPU loads the machine code of its family (sm_80's on every 8.x, sm_90's on 9.0) and JIT
/// compiles the compute_90 PTX only where no cubin runs (9.x other than 9.0, 10.x, 12.x).
#[test]
fn each_gpu_generation_loads_its_cubins_or_the_newest_ptx() {
    use sieve_trainer::backend::cuda::ptx::{images_for, Image, CUBIN_SM80, CUBIN_SM90, SM90};
    let all = |cap, want: &dyn Fn(&str, Image) -> bool| {
        let images = images_for(cap);
        assert_eq!(images.len(), 6, "{cap:?}");
        assert!(images.iter().all(|&(f, i)| want(f, i)), "{cap:?}");
    };
    let cubin = |table: &'static [(&'static str, &'static [u8])]| {
        move |f: &str, i: Image| i == Image::Cubin(table.iter().find(|t| t.0 == f).unwrap().1)
    };
    let ptx = |f: &str, i: Image| i == Image::Ptx(SM90.iter().find(|t| t.0 == f).unwrap().1);
    for cap in [(8, 0), (8, 6), (8, 9)] {
        all(cap, &cubin(CUBIN_SM80));
    }
    all((9, 0), &cubin(CUBIN_SM90));
    for cap in [(10, 0), (12, 0)] {
        all(cap, &ptx);
    }
}
