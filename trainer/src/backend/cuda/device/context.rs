//! Creating the backend on one GPU (checking every library it needs loads, compiling nothing:
//! the PTX is embedded), and what every backend method uses: kernel launches, allocation,
//! token uploads and the keeping of the first asynchronous error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Result};
use cudarc::cublaslt::result as lt;
use cudarc::cublaslt::sys as ltsys;
use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, DevicePtr, LaunchConfig, PushKernelArg,
};
use cudarc::nccl::sys as ncclsys;

use super::super::launch::Launch;
use super::buffer::{Arg, DType, DevBuf};
use crate::dist::ReduceOp;

/// cuBLASLt's handle and workspace.
pub(super) struct Blas {
    pub(super) handle: ltsys::cublasLtHandle_t,
    /// Owns the workspace; cuBLASLt gets `workspace_ptr`.
    pub(super) _workspace: CudaSlice<u8>,
    pub(super) workspace_ptr: u64,
    /// cuBLASLt's algorithm per matmul shape, data types and pointer alignment.
    pub(super) algos: Mutex<HashMap<String, ltsys::cublasLtMatmulAlgo_t>>,
}

/// 32 MiB, as cuBLASLt recommends for Hopper.
pub(super) const WORKSPACE_BYTES: usize = 32 << 20;

pub struct Cuda {
    pub(super) ctx: Arc<CudaContext>,
    pub(super) stream: Arc<CudaStream>,
    /// Where the data-parallel gradient buckets are all-reduced while backward goes on.
    pub(super) comm_stream: Arc<CudaStream>,
    pub(super) kernels: HashMap<&'static str, CudaFunction>,
    pub(super) blas: Blas,
    /// The first failure of an asynchronous call, reported by the next synchronize.
    pub(super) error: Mutex<Option<String>>,
    /// The communicators and their last collectives, for waits that must not hang.
    pub(super) watch: super::watch::SharedWatch,
    pub device_name: String,
    pub compute_capability: (i32, i32),
}

// SAFETY: the cuBLASLt handle is used from the rank's training thread only; the other fields
// are cudarc types that are Send + Sync.
unsafe impl Send for Cuda {}
unsafe impl Sync for Cuda {}

impl Drop for Cuda {
    fn drop(&mut self) {
        self.stream.synchronize().ok();
        // SAFETY: the handle is destroyed once, after the stream is idle.
        unsafe { lt::destroy_handle(self.blas.handle) }.ok();
    }
}

impl Cuda {
    /// The backend on GPU `ordinal`, after checking that every CUDA library it needs loads.
    pub fn new(ordinal: usize) -> Result<Cuda> {
        let missing = super::super::compile::missing_libraries()
            .into_iter()
            .filter(|m| !m.starts_with("libnvrtc") && !m.starts_with("libnccl"))
            .collect::<Vec<_>>();
        if !missing.is_empty() {
            bail!("--device cuda: cannot load {}", missing.join(", "));
        }
        let ctx = CudaContext::new(ordinal).map_err(|e| anyhow!("opening GPU {ordinal}: {e:?}"))?;
        // One stream, in issue order: cudarc's per-buffer events are not needed.
        // SAFETY: no buffer is shared between streams.
        unsafe { ctx.disable_event_tracking() };
        let compute_capability = ctx
            .compute_capability()
            .map_err(|e| anyhow!("reading the compute capability: {e:?}"))?;
        if compute_capability.0 < 8 {
            bail!(
                "GPU {ordinal} has compute capability {}.{}; the bf16 kernels need 8.0 (A100) or newer",
                compute_capability.0,
                compute_capability.1
            );
        }
        keep_freed_memory(&ctx)?;
        let device_name = ctx.name().unwrap_or_else(|_| "unknown GPU".into());
        let stream = ctx
            .new_stream()
            .map_err(|e| anyhow!("creating a stream: {e:?}"))?;
        let comm_stream = stream
            .fork()
            .map_err(|e| anyhow!("creating the communication stream: {e:?}"))?;
        let images = super::super::ptx::images_for(compute_capability);
        let mut kernels = HashMap::new();
        for (file, image) in images {
            let module = load_kernels(&ctx, file, image, compute_capability)?;
            for name in super::super::kernels::kernels_in(
                super::super::kernels::SOURCES
                    .iter()
                    .find(|(f, _)| *f == file)
                    .map(|(_, s)| *s)
                    .unwrap_or_default(),
            ) {
                let f = module
                    .load_function(name)
                    .map_err(|e| anyhow!("kernel {name} of {file}: {e:?}"))?;
                kernels.insert(name, f);
            }
        }
        let handle = lt::create_handle().map_err(|e| anyhow!("cublasLtCreate: {e:?}"))?;
        let workspace = stream
            .alloc_zeros::<u8>(WORKSPACE_BYTES)
            .map_err(|e| anyhow!("allocating the cuBLASLt workspace: {e:?}"))?;
        let workspace_ptr = workspace.device_ptr(&stream).0;
        Ok(Cuda {
            ctx,
            stream,
            comm_stream,
            kernels,
            blas: Blas {
                handle,
                _workspace: workspace,
                workspace_ptr,
                algos: Mutex::new(HashMap::new()),
            },
            error: Mutex::new(None),
            watch: super::watch::new_watch(),
            device_name,
            compute_capability,
        })
    }

    /// Keeps the first failure for the next synchronize.
    pub(super) fn fail(&self, what: &str, err: impl std::fmt::Debug) {
        let mut e = self.error.lock().unwrap_or_else(|p| p.into_inner());
        if e.is_none() {
            *e = Some(format!("{what}: {err:?}"));
        }
    }

    /// Free device memory in bytes (`cuMemGetInfo`), for the selftest's throughput shapes.
    pub fn free_memory(&self) -> Option<u64> {
        self.ctx.bind_to_thread().ok()?;
        cudarc::driver::result::mem_get_info()
            .ok()
            .map(|(free, _)| free as u64)
    }

    /// Whether a failure waits to be reported. Device work issued after one is skipped: its
    /// results are lost anyway, and a buffer whose allocation failed has no memory to touch.
    pub(super) fn failed(&self) -> bool {
        self.error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    pub(super) fn checked(&self) -> Result<()> {
        let e = self.error.lock().unwrap_or_else(|p| p.into_inner()).take();
        match e {
            Some(e) => bail!("CUDA: {e}"),
            None => Ok(()),
        }
    }

    pub(super) fn launch(&self, name: &str, l: Launch, args: &[Arg]) {
        if self.failed() {
            return;
        }
        let Some(f) = self.kernels.get(name) else {
            self.fail(name, "kernel not loaded");
            return;
        };
        let mut b = self.stream.launch_builder(f);
        for a in args {
            match a {
                Arg::Ptr(p) => b.arg(p),
                Arg::Int(i) => b.arg(i),
                Arg::Size(s) => b.arg(s),
                Arg::Float(x) => b.arg(x),
            };
        }
        let cfg = LaunchConfig {
            grid_dim: l.grid,
            block_dim: l.block,
            shared_mem_bytes: l.shared_bytes,
        };
        // SAFETY: the arguments match the kernel's parameters (each call site mirrors the
        // kernel's signature in kernels/*.cu), and every pointer is a live device buffer of
        // the size the launch covers.
        if let Err(e) = unsafe { b.launch(cfg) } {
            self.fail(name, e);
        }
    }

    /// A scratch buffer of `n` elements for the duration of one backend call.
    pub(super) fn scratch(&self, n: usize, dtype: DType) -> DevBuf {
        self.alloc(n, dtype)
    }

    /// A zeroed buffer of `n` elements. Out of memory is not a panic: the failure, with the
    /// size asked for and what was free, is kept for the next synchronize, and the buffer has
    /// no memory (device work is skipped from then on, see [`Cuda::failed`]).
    pub(super) fn alloc(&self, n: usize, dtype: DType) -> DevBuf {
        let bytes = (n * dtype.bytes()).max(1);
        let mem = match self.stream.alloc_zeros::<u8>(bytes) {
            Ok(mem) => mem,
            Err(e) => {
                let free = match cudarc::driver::result::mem_get_info() {
                    Ok((free, total)) => format!("{free} of {total} bytes free"),
                    Err(_) => "free memory unknown".into(),
                };
                self.fail(
                    "allocation",
                    format_args!(
                        "out of device memory allocating {bytes} bytes ({n} {dtype:?} \
                         elements; {free}): {e:?}"
                    ),
                );
                return DevBuf {
                    _mem: None,
                    ptr: 0,
                    len: n,
                    dtype: Some(dtype),
                };
            }
        };
        let ptr = mem.device_ptr(&self.stream).0;
        DevBuf {
            _mem: Some(mem),
            ptr,
            len: n,
            dtype: Some(dtype),
        }
    }

    pub(super) fn tokens(&self, ids: &[u32]) -> Option<CudaSlice<u32>> {
        match self.stream.clone_htod(ids) {
            Ok(s) => Some(s),
            Err(e) => {
                self.fail("uploading token ids", e);
                None
            }
        }
    }

    pub(super) fn nccl_op(op: ReduceOp) -> ncclsys::ncclRedOp_t {
        match op {
            ReduceOp::Sum => ncclsys::ncclRedOp_t::ncclSum,
            ReduceOp::Max => ncclsys::ncclRedOp_t::ncclMax,
        }
    }

    pub(super) fn stream_handle(&self) -> ncclsys::cudaStream_t {
        self.stream.cu_stream() as _
    }

    pub(super) fn copy_bytes(&self, dst: u64, src: u64, bytes: usize) {
        if self.failed() {
            return;
        }
        // SAFETY: both ranges are live device memory of `bytes` bytes.
        let r = unsafe {
            cudarc::driver::result::memcpy_dtod_async(dst, src, bytes, self.stream.cu_stream())
        };
        if let Err(e) = r {
            self.fail("cuMemcpyDtoDAsync", e);
        }
    }
}

/// Loads one kernel file's image. A cubin the driver refuses falls back to the PTX; PTX the
/// driver cannot compile is an error naming the driver it needs.
fn load_kernels(
    ctx: &std::sync::Arc<cudarc::driver::CudaContext>,
    file: &str,
    image: super::super::ptx::Image,
    capability: (i32, i32),
) -> Result<std::sync::Arc<cudarc::driver::CudaModule>> {
    use super::super::ptx::{for_capability, Image, OLDEST_DRIVER, PTX_ISA};
    if let Image::Cubin(bytes) = image {
        if let Ok(m) = ctx.load_module(cudarc::nvrtc::Ptx::from_binary(bytes.to_vec())) {
            return Ok(m);
        }
    }
    let ptx = for_capability(capability)
        .iter()
        .find(|(f, _)| *f == file)
        .map(|(_, p)| *p)
        .ok_or_else(|| anyhow!("no PTX for {file}"))?;
    ctx.load_module(cudarc::nvrtc::Ptx::from_src(ptx))
        .map_err(|e| {
            let tried = match image {
                Image::Cubin(_) => "the driver refused their machine code, then their PTX",
                Image::Ptx(_) => {
                    "no machine code is built for this GPU, and the driver refused their PTX"
                }
            };
            anyhow!(
                "loading the kernels of {file}: {tried} ({e:?}). Compute capability {}.{} runs \
             PTX ISA {PTX_ISA}, which needs NVIDIA driver {OLDEST_DRIVER} (CUDA 12.0) or newer: \
             `nvidia-smi` shows the driver's version",
                capability.0,
                capability.1
            )
        })
}

/// Sets the device's default memory pool (what the stream-ordered allocator draws from) to keep
/// freed memory. Its release threshold is 0 by default: every synchronize hands freed blocks
/// back to the driver, and the trainer synchronizes each step, so each step would allocate its
/// activations anew from the driver.
fn keep_freed_memory(ctx: &std::sync::Arc<cudarc::driver::CudaContext>) -> Result<()> {
    use cudarc::driver::sys;
    let mut pool = std::mem::MaybeUninit::<sys::CUmemoryPool>::uninit();
    let keep = u64::MAX;
    // SAFETY: the context is current (bound by CudaContext::new); `pool` is written by the
    // first call before the second reads it, and the attribute is a u64 as documented.
    unsafe {
        sys::cuDeviceGetDefaultMemPool(pool.as_mut_ptr(), ctx.cu_device())
            .result()
            .map_err(|e| anyhow!("reading the device's memory pool: {e:?}"))?;
        sys::cuMemPoolSetAttribute(
            pool.assume_init(),
            sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
            &keep as *const u64 as *mut std::ffi::c_void,
        )
        .result()
        .map_err(|e| anyhow!("setting the memory pool's release threshold: {e:?}"))?;
    }
    Ok(())
}
