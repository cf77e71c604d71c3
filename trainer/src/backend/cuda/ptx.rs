//! The kernels compiled ahead of time and embedded in the binary, so a GPU machine needs only
//! the driver to load them (no NVRTC, no nvcc). `kernels/ptx/` holds one PTX file per kernel
//! source and architecture, made by NVRTC from `kernels/*.cu` and declared at CUDA 12.0's PTX
//! ISA; `kernels/cubin/` the machine code ptxas makes of each for sm_80 and sm_90.
//! `tests/it/cuda_kernels.rs` fails when they are not what the sources compile to, and
//! `scripts/cuda-ptx.sh` regenerates them.
//!
//! A GPU of compute capability 8.x loads the sm_80 cubins and 9.0 the sm_90 ones: machine code,
//! which any CUDA 12 driver runs (minor-version compatibility), so no PTX compiler is involved.
//! Newer GPUs JIT-compile the compute_90 PTX, which needs a driver that knows its ISA: 8.0,
//! that of CUDA 12.0, whose drivers are R525 (525.60.13) and newer, the oldest supported.

/// The PTX ISA the embedded PTX declares: CUDA 12.0's.
pub const PTX_ISA: &str = "8.0";
/// The oldest driver that loads it (CUDA 12.0's; the README says the same, and a test holds
/// the two together).
pub const OLDEST_DRIVER: &str = "525.60.13";

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

macro_rules! cubins {
    ($arch:literal) => {
        &[
            (
                "adamw.cu",
                include_bytes!(concat!("../../../kernels/cubin/adamw.", $arch, ".cubin")),
            ),
            (
                "attention.cu",
                include_bytes!(concat!(
                    "../../../kernels/cubin/attention.",
                    $arch,
                    ".cubin"
                )),
            ),
            (
                "cross_entropy.cu",
                include_bytes!(concat!(
                    "../../../kernels/cubin/cross_entropy.",
                    $arch,
                    ".cubin"
                )),
            ),
            (
                "elementwise.cu",
                include_bytes!(concat!(
                    "../../../kernels/cubin/elementwise.",
                    $arch,
                    ".cubin"
                )),
            ),
            (
                "embedding.cu",
                include_bytes!(concat!(
                    "../../../kernels/cubin/embedding.",
                    $arch,
                    ".cubin"
                )),
            ),
            (
                "layernorm.cu",
                include_bytes!(concat!(
                    "../../../kernels/cubin/layernorm.",
                    $arch,
                    ".cubin"
                )),
            ),
        ]
    };
}

/// Per source file, ptxas's sm_80 machine code of its PTX.
pub const CUBIN_SM80: &[(&str, &[u8])] = cubins!("sm80");
/// Per source file, ptxas's sm_90 machine code of its PTX.
pub const CUBIN_SM90: &[(&str, &[u8])] = cubins!("sm90");
/// One architecture's machine code: per source file, its cubin.
pub type Cubins = &'static [(&'static str, &'static [u8])];
/// The architectures the cubins are built for, with their tables.
pub const CUBIN_BUILDS: &[(u32, Cubins)] = &[(80, CUBIN_SM80), (90, CUBIN_SM90)];

/// What a GPU loads for one kernel file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Image {
    /// Machine code for its architecture.
    Cubin(&'static [u8]),
    /// PTX for the driver to compile (a GPU no cubin is built for).
    Ptx(&'static str),
}

/// The kernels a GPU of compute capability `(major, minor)` loads, per source file: the cubins
/// of its family (sm_80's run on every 8.x, sm_90's on 9.0 only), else the compute_90 PTX.
pub fn images_for(capability: (i32, i32)) -> Vec<(&'static str, Image)> {
    let cubins = match capability {
        (8, _) => Some(CUBIN_SM80),
        (9, 0) => Some(CUBIN_SM90),
        _ => None,
    };
    match cubins {
        Some(table) => table.iter().map(|&(f, b)| (f, Image::Cubin(b))).collect(),
        None => for_capability(capability)
            .iter()
            .map(|&(f, p)| (f, Image::Ptx(p)))
            .collect(),
    }
}

/// The PTX a GPU of compute capability `(major, minor)` loads: the newest build it can run.
pub fn for_capability((major, _minor): (i32, i32)) -> &'static [(&'static str, &'static str)] {
    if major >= 9 {
        SM90
    } else {
        SM80
    }
}
