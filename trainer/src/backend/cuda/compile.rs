//! With the `cuda` feature: which CUDA libraries this machine has (they are dlopened, so the
//! binary starts without them), and compiling the kernel sources to PTX with NVRTC, failing on
//! any error or warning.

use std::ffi::CString;

use anyhow::{bail, Context, Result};

use super::kernels::{COMMON_HEADER, SOURCES};

/// The CUDA libraries the backend needs, by the name a user would install, that cannot be
/// loaded here.
pub fn missing_libraries() -> Vec<&'static str> {
    let mut missing = Vec::new();
    // SAFETY: each probe only tries to dlopen the library's candidate names.
    unsafe {
        if !cudarc::driver::sys::is_culib_present() {
            missing.push("libcuda (the NVIDIA driver)");
        }
        if !cudarc::nvrtc::sys::is_culib_present() {
            missing.push("libnvrtc (CUDA 12 NVRTC)");
        }
        if !cudarc::cublaslt::sys::is_culib_present() {
            missing.push("libcublasLt (CUDA 12 cuBLAS)");
        }
        if !cudarc::nccl::sys::is_culib_present() {
            missing.push("libnccl (NCCL 2)");
        }
    }
    missing
}

/// NVRTC is what kernel compilation needs (no GPU, no driver).
pub fn nvrtc_present() -> bool {
    // SAFETY: only tries to dlopen libnvrtc.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

fn c_text(chars: &[std::ffi::c_char]) -> String {
    let bytes: Vec<u8> = chars
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Compiles one kernel source to PTX for `compute_<arch>` (e.g. 80). `include_dirs` must
/// hold `cuda_bf16.h` and its companions (the CUDA runtime headers); `common.cuh` is
/// supplied from the embedded copy. Any warning in NVRTC's log is an error.
pub fn compile_ptx(file: &str, source: &str, arch: u32, include_dirs: &[String]) -> Result<String> {
    use cudarc::nvrtc::{result, sys};
    if !nvrtc_present() {
        bail!("cannot compile CUDA kernels: libnvrtc (CUDA 12 NVRTC) is not installed");
    }
    let src = CString::new(source)?;
    let name = CString::new(file)?;
    let header = CString::new(COMMON_HEADER.1)?;
    let header_name = CString::new(COMMON_HEADER.0)?;
    let mut prog = std::mem::MaybeUninit::uninit();
    let headers = [header.as_ptr()];
    let header_names = [header_name.as_ptr()];
    // SAFETY: every pointer outlives the program, destroyed below.
    let prog = unsafe {
        sys::nvrtcCreateProgram(
            prog.as_mut_ptr(),
            src.as_ptr(),
            name.as_ptr(),
            1,
            headers.as_ptr(),
            header_names.as_ptr(),
        )
        .result()
        .with_context(|| format!("{file}: cannot create the NVRTC program"))?;
        prog.assume_init()
    };
    let mut options = vec![
        format!("--gpu-architecture=compute_{arch}"),
        "--std=c++17".to_string(),
        "--device-as-default-execution-space".to_string(),
    ];
    options.extend(include_dirs.iter().map(|d| format!("--include-path={d}")));
    // SAFETY: `prog` is live until destroy_program.
    let compiled = unsafe { result::compile_program(prog, &options) };
    let log = unsafe { result::get_program_log(prog) }
        .map(|l| c_text(&l))
        .unwrap_or_default();
    let ptx = unsafe { result::get_ptx(prog) }.map(|p| c_text(&p));
    unsafe { result::destroy_program(prog) }.ok();
    if compiled.is_err() || !log.trim().is_empty() {
        bail!("{file} for compute_{arch}:\n{}", log.trim());
    }
    let ptx = ptx.with_context(|| format!("{file}: no PTX"))?;
    Ok(at_isa(&ptx, super::ptx::PTX_ISA))
}

/// The PTX with its `.version` line set to `isa`. NVRTC writes its own toolkit's ISA (8.7 for
/// 12.8), which drivers older than R570 refuse to load; the kernels use nothing newer than
/// CUDA 12.0's ISA, and ptxas checks that (it rejects an instruction the declared ISA lacks).
pub fn at_isa(ptx: &str, isa: &str) -> String {
    ptx.lines()
        .map(|l| match l.starts_with(".version ") {
            true => format!(".version {isa}"),
            false => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Every kernel source compiled for `compute_<arch>`: (file, PTX).
pub fn compile_all(arch: u32, include_dirs: &[String]) -> Result<Vec<(&'static str, String)>> {
    SOURCES
        .iter()
        .map(|(file, src)| Ok((*file, compile_ptx(file, src, arch, include_dirs)?)))
        .collect()
}
