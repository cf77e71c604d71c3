//! The CUDA backend's kernels (`trainer/kernels/*.cu`), embedded as source, and which CPU
//! backend function each one is the twin of.
//!
//! The sources are compiled with NVRTC (ahead of time in CI for sm_80 and sm_90, and checked
//! with `ptxas` for warnings and register spills: `tests/it/cuda_kernels.rs`). GEMMs are not
//! kernels of ours: `matmul_forward`/`matmul_backward` and the four products inside attention
//! go to cuBLASLt, which is why their twins name it.

/// The shared header every kernel source includes.
pub const COMMON_HEADER: (&str, &str) = ("common.cuh", include_str!("../../../kernels/common.cuh"));

/// Every kernel source file, by name.
pub const SOURCES: &[(&str, &str)] = &[
    ("adamw.cu", include_str!("../../../kernels/adamw.cu")),
    (
        "attention.cu",
        include_str!("../../../kernels/attention.cu"),
    ),
    (
        "cross_entropy.cu",
        include_str!("../../../kernels/cross_entropy.cu"),
    ),
    (
        "elementwise.cu",
        include_str!("../../../kernels/elementwise.cu"),
    ),
    (
        "embedding.cu",
        include_str!("../../../kernels/embedding.cu"),
    ),
    (
        "layernorm.cu",
        include_str!("../../../kernels/layernorm.cu"),
    ),
];

/// How a CPU backend function is done on the GPU (kernel names are unique across files).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Twin {
    /// These kernels, in call order.
    Kernels(&'static [&'static str]),
    /// cuBLASLt matmuls, with these kernels of ours around them.
    CublasLt(&'static [&'static str]),
    /// A CUDA driver call (allocation, copies, memset; casts between storage precisions
    /// go through the named kernels).
    Driver(&'static str, &'static [&'static str]),
    /// An NCCL call (collectives run on device buffers).
    Nccl(&'static str),
}

impl Twin {
    pub fn kernels(&self) -> &'static [&'static str] {
        match self {
            Twin::Kernels(k) | Twin::CublasLt(k) | Twin::Driver(_, k) => k,
            Twin::Nccl(_) => &[],
        }
    }
}

/// Each `Backend` function (and the optimizer's and the trainer's per-element loops) with its
/// CUDA twin.
pub const TWINS: &[(&str, Twin)] = &[
    (
        "zeros",
        Twin::Driver("cuMemAllocAsync + cuMemsetD8Async", &[]),
    ),
    ("buf_len", Twin::Driver("(host bookkeeping)", &[])),
    ("view", Twin::Driver("(pointer offset)", &[])),
    ("view_mut", Twin::Driver("(pointer offset)", &[])),
    ("view_mut2", Twin::Driver("(pointer offsets)", &[])),
    (
        "upload",
        Twin::Driver("cuMemcpyHtoDAsync", &["cast_to_bf16"]),
    ),
    (
        "download",
        Twin::Driver("cuMemcpyDtoHAsync", &["cast_to_f32"]),
    ),
    ("fill_zero", Twin::Driver("cuMemsetD8Async", &[])),
    (
        "copy",
        Twin::Driver("cuMemcpyDtoDAsync", &["cast_to_bf16", "cast_to_f32"]),
    ),
    ("synchronize", Twin::Driver("cuStreamSynchronize", &[])),
    (
        "single_group",
        Twin::Nccl("(none: a group of one needs no communicator)"),
    ),
    ("group_rank", Twin::Nccl("ncclCommUserRank")),
    ("group_size", Twin::Nccl("ncclCommCount")),
    ("all_reduce", Twin::Nccl("ncclAllReduce")),
    (
        "all_reduce_overlapped",
        Twin::Nccl(
            "ncclAllReduce on the communication stream, after an event of the compute stream",
        ),
    ),
    ("wait_overlapped", Twin::Driver("cuStreamWaitEvent", &[])),
    ("reduce_scatter", Twin::Nccl("ncclReduceScatter")),
    ("all_gather", Twin::Nccl("ncclAllGather")),
    ("send", Twin::Nccl("ncclSend")),
    ("recv", Twin::Nccl("ncclRecv")),
    ("p2p_group_start", Twin::Nccl("ncclGroupStart")),
    ("p2p_group_end", Twin::Nccl("ncclGroupEnd")),
    ("embed_tokens", Twin::Kernels(&["embed_tokens"])),
    (
        "embed_tokens_backward",
        Twin::Kernels(&["embed_tokens_backward"]),
    ),
    ("add_positions", Twin::Kernels(&["add_positions"])),
    (
        "add_positions_backward",
        Twin::Kernels(&["add_positions_backward"]),
    ),
    ("layernorm_forward", Twin::Kernels(&["layernorm_forward"])),
    (
        "layernorm_backward",
        Twin::Kernels(&["layernorm_backward", "reduce_partials"]),
    ),
    ("matmul_forward", Twin::CublasLt(&[])),
    (
        "matmul_backward",
        Twin::CublasLt(&["column_sums", "reduce_partials"]),
    ),
    ("bias_add", Twin::Kernels(&["bias_add"])),
    (
        "bias_backward",
        Twin::Kernels(&["column_sums", "reduce_partials"]),
    ),
    (
        "attention_forward",
        Twin::CublasLt(&[
            "attention_permute",
            "softmax_causal_forward",
            "attention_unpermute",
        ]),
    ),
    (
        "attention_backward",
        Twin::CublasLt(&[
            "attention_unpermute_backward",
            "softmax_causal_backward",
            "attention_permute_backward",
        ]),
    ),
    ("gelu_forward", Twin::Kernels(&["gelu_forward"])),
    ("gelu_backward", Twin::Kernels(&["gelu_backward"])),
    ("residual_forward", Twin::Kernels(&["residual_forward"])),
    ("accumulate", Twin::Kernels(&["accumulate"])),
    ("row_max", Twin::Kernels(&["row_max"])),
    ("row_sum_exp", Twin::Kernels(&["row_sum_exp"])),
    ("target_logit", Twin::Kernels(&["target_logit"])),
    (
        "cross_entropy_backward",
        Twin::Kernels(&["cross_entropy_backward"]),
    ),
    ("cross_entropy_loss", Twin::Kernels(&["cross_entropy_loss"])),
    (
        "round_bf16",
        Twin::Kernels(&["cast_to_bf16", "cast_to_f32"]),
    ),
    ("scale", Twin::Kernels(&["scale"])),
    ("adamw_step", Twin::Kernels(&["adamw_step"])),
    (
        "sum_squares",
        Twin::Kernels(&["grad_norm_partial", "grad_norm_finish"]),
    ),
];

/// The file that defines a kernel.
pub fn file_of(kernel: &str) -> Option<&'static str> {
    SOURCES
        .iter()
        .find(|(_, src)| kernels_in(src).contains(&kernel))
        .map(|(f, _)| *f)
}

/// The `extern "C" __global__` function names a source defines.
pub fn kernels_in(source: &str) -> Vec<&str> {
    source
        .split("extern \"C\" __global__ void ")
        .skip(1)
        .filter_map(|rest| rest.split('(').next())
        .map(str::trim)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of the `Backend` trait's functions, read from its source.
    fn backend_functions() -> Vec<String> {
        let src = include_str!("../mod.rs");
        let body = &src[src.find("pub trait Backend").unwrap()..];
        body.split("fn ")
            .skip(1)
            .filter_map(|rest| rest.split(['(', '<']).next())
            .map(|n| n.trim().to_string())
            .collect()
    }

    #[test]
    fn every_cpu_backend_function_has_a_cuda_twin() {
        let twins: Vec<&str> = TWINS.iter().map(|(f, _)| *f).collect();
        let functions = backend_functions();
        assert!(functions.len() >= 20, "{functions:?}");
        for f in &functions {
            assert!(
                twins.contains(&f.as_str()),
                "Backend::{f} has no CUDA twin in TWINS"
            );
        }
    }

    #[test]
    fn every_twin_names_kernels_that_exist() {
        for (function, twin) in TWINS {
            if let Twin::Kernels(k) = twin {
                assert!(!k.is_empty(), "{function}: a twin without kernels");
            }
            for k in twin.kernels() {
                assert!(
                    file_of(k).is_some(),
                    "{function}: no source defines kernel {k}"
                );
            }
        }
        // Kernel names are unique across files (the twins name kernels without files).
        let mut all: Vec<&str> = SOURCES.iter().flat_map(|(_, s)| kernels_in(s)).collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n, "a kernel name defined twice");
    }

    #[test]
    fn every_kernel_file_is_embedded_and_every_kernel_is_someones_twin() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kernels");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".cu"))
            .collect();
        on_disk.sort();
        let embedded: Vec<&str> = SOURCES.iter().map(|(f, _)| *f).collect();
        assert_eq!(on_disk, embedded, "kernels/*.cu and SOURCES differ");
        let used: Vec<&str> = TWINS
            .iter()
            .flat_map(|(_, t)| t.kernels().iter().copied())
            .collect();
        for (file, src) in SOURCES {
            for k in kernels_in(src) {
                assert!(used.contains(&k), "{file}: kernel {k} is nobody's twin");
            }
        }
    }
}
