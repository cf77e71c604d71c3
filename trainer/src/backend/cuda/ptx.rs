//! The kernels as PTX, compiled ahead of time and embedded in the binary, so a GPU machine
//! needs only the driver to load them (no NVRTC, no nvcc). `kernels/ptx/` holds one file per
//! kernel source and architecture, made by NVRTC from `kernels/*.cu`;
//! `tests/it/cuda_kernels.rs` fails when they are not what the sources compile to, and
//! `scripts/cuda-ptx.sh` regenerates them.

macro_rules! ptx {
    ($arch:literal) => {
        &[
            (
                "adamw.cu",
                include_str!(concat!("../../../kernels/ptx/adamw.", $arch, ".ptx")),
            ),
            (
                "attention.cu",
                include_str!(concat!("../../../kernels/ptx/attention.", $arch, ".ptx")),
            ),
            (
                "cross_entropy.cu",
                include_str!(concat!(
                    "../../../kernels/ptx/cross_entropy.",
                    $arch,
                    ".ptx"
                )),
            ),
            (
                "elementwise.cu",
                include_str!(concat!("../../../kernels/ptx/elementwise.", $arch, ".ptx")),
            ),
            (
                "embedding.cu",
                include_str!(concat!("../../../kernels/ptx/embedding.", $arch, ".ptx")),
            ),
            (
                "layernorm.cu",
                include_str!(concat!("../../../kernels/ptx/layernorm.", $arch, ".ptx")),
            ),
        ]
    };
}

/// Per source file, its PTX for `compute_80` (A100; also what newer GPUs JIT from when no
/// closer build exists).
pub const SM80: &[(&str, &str)] = ptx!("sm80");
/// Per source file, its PTX for `compute_90` (H100).
pub const SM90: &[(&str, &str)] = ptx!("sm90");

/// The architectures the PTX is built for, with their tables.
pub const BUILDS: &[(u32, &[(&str, &str)])] = &[(80, SM80), (90, SM90)];

/// The PTX a GPU of compute capability `(major, minor)` loads: the newest build it can run.
pub fn for_capability((major, _minor): (i32, i32)) -> &'static [(&'static str, &'static str)] {
    if major >= 9 {
        SM90
    } else {
        SM80
    }
}
