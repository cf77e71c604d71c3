//! The CUDA backend. The parts that need no GPU and no CUDA library are built always, so
//! that they are tested on every machine: the kernel sources and their CPU twins
//! ([`kernels`]), the launch shapes ([`launch`]), the cuBLASLt GEMM descriptors ([`gemm`]) and
//! the embedding gradient's row grouping ([`by_token`]).
//! With the `cuda` feature come the device backend itself ([`Cuda`], in `device/`: buffers,
//! context and launches, cuBLASLt, attention, NCCL groups), the NVRTC compile check
//! ([`compile`]) and the embedded PTX ([`ptx`]).

pub mod by_token;
#[cfg(feature = "cuda")]
pub mod compile;
#[cfg(feature = "cuda")]
mod device;
pub mod gemm;
pub mod kernels;
pub mod launch;
#[cfg(feature = "cuda")]
pub mod ptx;

#[cfg(feature = "cuda")]
pub use device::*;
