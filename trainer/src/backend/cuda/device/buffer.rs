//! Device buffers and their views, and the arguments of a kernel launch.

use std::marker::PhantomData;
use std::ops::Range;

use cudarc::cublaslt::sys as ltsys;
use cudarc::driver::CudaSlice;
use cudarc::nccl::sys as ncclsys;

use crate::backend::Role;

/// How a buffer is stored on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    Bf16,
}

impl DType {
    pub fn of(role: Role) -> DType {
        match role {
            Role::Weights | Role::Activation => DType::Bf16,
            Role::Master | Role::Grad | Role::Stat => DType::F32,
        }
    }

    pub fn bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::Bf16 => 2,
        }
    }

    pub(super) fn cuda(self) -> ltsys::cudaDataType {
        match self {
            DType::F32 => ltsys::cudaDataType::CUDA_R_32F,
            DType::Bf16 => ltsys::cudaDataType::CUDA_R_16BF,
        }
    }

    pub(super) fn nccl(self) -> ncclsys::ncclDataType_t {
        match self {
            DType::F32 => ncclsys::ncclDataType_t::ncclFloat32,
            DType::Bf16 => ncclsys::ncclDataType_t::ncclBfloat16,
        }
    }
}

/// An owned device buffer: `len` elements of `dtype`.
#[derive(Default)]
pub struct DevBuf {
    /// Owns the allocation (freed, stream-ordered, on drop); kernels use `ptr`.
    pub(super) _mem: Option<CudaSlice<u8>>,
    pub(super) ptr: u64,
    pub(super) len: usize,
    pub(super) dtype: Option<DType>,
}

/// A range of a device buffer, read by a kernel.
#[derive(Debug, Clone, Copy)]
pub struct DevRef<'a> {
    pub(super) ptr: u64,
    pub(super) len: usize,
    pub(super) dtype: DType,
    pub(super) _buf: PhantomData<&'a DevBuf>,
}

/// A range of a device buffer, written by a kernel.
#[derive(Debug)]
pub struct DevMut<'a> {
    pub(super) ptr: u64,
    pub(super) len: usize,
    pub(super) dtype: DType,
    pub(super) _buf: PhantomData<&'a mut DevBuf>,
}

impl DevBuf {
    pub(super) fn at(&self, range: &Range<usize>) -> (u64, DType) {
        assert!(
            range.start <= range.end && range.end <= self.len,
            "view {range:?} of {} elements",
            self.len
        );
        let dtype = self.dtype.unwrap_or(DType::F32);
        (self.ptr + (range.start * dtype.bytes()) as u64, dtype)
    }
}

/// A kernel argument (every kernel takes device pointers, ints, sizes and floats).
pub(super) enum Arg {
    Ptr(u64),
    Int(i32),
    Size(u64),
    Float(f32),
}

pub(super) fn int(n: usize) -> Arg {
    Arg::Int(i32::try_from(n).expect("a kernel dimension exceeds i32"))
}

pub(super) fn clone_arg(a: &Arg) -> Arg {
    match a {
        Arg::Ptr(p) => Arg::Ptr(*p),
        Arg::Int(i) => Arg::Int(*i),
        Arg::Size(s) => Arg::Size(*s),
        Arg::Float(f) => Arg::Float(*f),
    }
}
