//! The CUDA backend: the [`Backend`] trait on one GPU. Weights and activations live in bf16,
//! master weights, gradients, optimizer moments and per-row statistics in fp32 (the storage
//! precision follows each buffer's [`Role`]); every sum accumulates in fp32. The kernels are
//! the twins of the CPU backend's functions (`kernels/*.cu`, loaded from the PTX embedded by
//! [`super::ptx`]), the GEMMs go to cuBLASLt with the descriptors of
//! [`super::gemm`], launches use [`super::launch`], and the collectives are NCCL
//! calls on [`NcclGroup`]s. Everything runs on one stream, in the order the model issues it.
//!
//! Kernel methods return nothing (as on the CPU): a failed launch is kept and reported by the
//! next [`Backend::synchronize`] or collective, which the trainer calls every step.

use std::collections::HashMap;
use std::ffi::c_void;
use std::marker::PhantomData;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Context, Result};
use cudarc::cublaslt::{result as lt, sys as ltsys};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, DevicePtr, LaunchConfig, PushKernelArg,
};
use cudarc::nccl::{result as nccl, sys as ncclsys};
use half::bf16;

use super::gemm::{self, Epilogue, Gemm, Op};
use super::launch::{self, Launch};
use crate::backend::{Backend, Role};
use crate::dist::ReduceOp;
use crate::optim::AdamStep;

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

    fn cuda(self) -> ltsys::cudaDataType {
        match self {
            DType::F32 => ltsys::cudaDataType::CUDA_R_32F,
            DType::Bf16 => ltsys::cudaDataType::CUDA_R_16BF,
        }
    }

    fn nccl(self) -> ncclsys::ncclDataType_t {
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
    _mem: Option<CudaSlice<u8>>,
    ptr: u64,
    len: usize,
    dtype: Option<DType>,
}

/// A range of a device buffer, read by a kernel.
#[derive(Debug, Clone, Copy)]
pub struct DevRef<'a> {
    ptr: u64,
    len: usize,
    dtype: DType,
    _buf: PhantomData<&'a DevBuf>,
}

/// A range of a device buffer, written by a kernel.
#[derive(Debug)]
pub struct DevMut<'a> {
    ptr: u64,
    len: usize,
    dtype: DType,
    _buf: PhantomData<&'a mut DevBuf>,
}

impl DevBuf {
    fn at(&self, range: &Range<usize>) -> (u64, DType) {
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
enum Arg {
    Ptr(u64),
    Int(i32),
    Size(u64),
    Float(f32),
}

fn int(n: usize) -> Arg {
    Arg::Int(i32::try_from(n).expect("a kernel dimension exceeds i32"))
}

/// One process group: an NCCL communicator, or nothing for a group of one (whose collectives
/// are copies), so a single GPU needs no NCCL.
pub struct NcclGroup {
    comm: Option<ncclsys::ncclComm_t>,
    rank: usize,
    size: usize,
}

// SAFETY: an NCCL communicator may be used from any thread, one call at a time; the backend
// issues its calls from the rank's one training thread.
unsafe impl Send for NcclGroup {}
unsafe impl Sync for NcclGroup {}

impl NcclGroup {
    pub fn solo() -> NcclGroup {
        NcclGroup {
            comm: None,
            rank: 0,
            size: 1,
        }
    }

    /// Joins the group whose unique id every member received (see
    /// [`crate::dist::nccl_id::share_unique_id`]). Blocks until every member has joined.
    pub fn join(cuda: &Cuda, id: &[u8; 128], rank: usize, size: usize) -> Result<NcclGroup> {
        if size == 1 {
            return Ok(NcclGroup::solo());
        }
        cuda.ctx
            .bind_to_thread()
            .map_err(|e| anyhow!("binding the CUDA context: {e:?}"))?;
        let mut internal = [0 as std::ffi::c_char; 128];
        for (i, &b) in internal.iter_mut().zip(id.iter()) {
            *i = b as std::ffi::c_char;
        }
        let uid = ncclsys::ncclUniqueId { internal };
        let mut comm = std::mem::MaybeUninit::uninit();
        // SAFETY: comm is written by ncclCommInitRank on success.
        let comm = unsafe {
            nccl::comm_init_rank(comm.as_mut_ptr(), size as i32, uid, rank as i32)
                .map_err(|e| anyhow!("ncclCommInitRank (rank {rank} of {size}): {e:?}"))?;
            comm.assume_init()
        };
        Ok(NcclGroup {
            comm: Some(comm),
            rank,
            size,
        })
    }
}

impl Drop for NcclGroup {
    fn drop(&mut self) {
        if let Some(c) = self.comm.take() {
            // SAFETY: the communicator is destroyed once, here.
            unsafe { nccl::comm_destroy(c) }.ok();
        }
    }
}

/// cuBLASLt's handle and workspace.
struct Blas {
    handle: ltsys::cublasLtHandle_t,
    /// Owns the workspace; cuBLASLt gets `workspace_ptr`.
    _workspace: CudaSlice<u8>,
    workspace_ptr: u64,
}

/// 32 MiB, as cuBLASLt recommends for Hopper.
const WORKSPACE_BYTES: usize = 32 << 20;

pub struct Cuda {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    /// Where the data-parallel gradient buckets are all-reduced while backward goes on.
    comm_stream: Arc<CudaStream>,
    kernels: HashMap<&'static str, CudaFunction>,
    blas: Blas,
    /// The first failure of an asynchronous call, reported by the next synchronize.
    error: Mutex<Option<String>>,
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
        let missing = super::compile::missing_libraries()
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
        let device_name = ctx.name().unwrap_or_else(|_| "unknown GPU".into());
        let stream = ctx
            .new_stream()
            .map_err(|e| anyhow!("creating a stream: {e:?}"))?;
        let comm_stream = stream
            .fork()
            .map_err(|e| anyhow!("creating the communication stream: {e:?}"))?;
        let ptx = super::ptx::for_capability(compute_capability);
        let mut kernels = HashMap::new();
        for (file, text) in ptx {
            let module = ctx
                .load_module(cudarc::nvrtc::Ptx::from_src(*text))
                .map_err(|e| anyhow!("loading the kernels of {file}: {e:?}"))?;
            for name in super::kernels::kernels_in(
                super::kernels::SOURCES
                    .iter()
                    .find(|(f, _)| f == file)
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
            },
            error: Mutex::new(None),
            device_name,
            compute_capability,
        })
    }

    /// Keeps the first failure for the next synchronize.
    fn fail(&self, what: &str, err: impl std::fmt::Debug) {
        let mut e = self.error.lock().unwrap_or_else(|p| p.into_inner());
        if e.is_none() {
            *e = Some(format!("{what}: {err:?}"));
        }
    }

    fn checked(&self) -> Result<()> {
        let e = self.error.lock().unwrap_or_else(|p| p.into_inner()).take();
        match e {
            Some(e) => bail!("CUDA: {e}"),
            None => Ok(()),
        }
    }

    fn launch(&self, name: &str, l: Launch, args: &[Arg]) {
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
    fn scratch(&self, n: usize, dtype: DType) -> DevBuf {
        self.alloc(n, dtype)
    }

    fn alloc(&self, n: usize, dtype: DType) -> DevBuf {
        let bytes = (n * dtype.bytes()).max(1);
        let mem = self
            .stream
            .alloc_zeros::<u8>(bytes)
            .unwrap_or_else(|e| panic!("CUDA out of memory allocating {bytes} bytes: {e:?}"));
        let ptr = mem.device_ptr(&self.stream).0;
        DevBuf {
            _mem: Some(mem),
            ptr,
            len: n,
            dtype: Some(dtype),
        }
    }

    fn tokens(&self, ids: &[u32]) -> Option<CudaSlice<u32>> {
        match self.stream.clone_htod(ids) {
            Ok(s) => Some(s),
            Err(e) => {
                self.fail("uploading token ids", e);
                None
            }
        }
    }

    /// One cuBLASLt matmul `d = alpha · op(a) · op(b) + beta · d (+ bias)` as `g` states it.
    fn gemm(
        &self,
        g: &Gemm,
        alpha: f32,
        a: (u64, DType),
        b: (u64, DType),
        d: (u64, DType),
        bias: Option<u64>,
    ) {
        if let Err(e) = self.try_gemm(g, alpha, a, b, d, bias) {
            self.fail("cublasLtMatmul", e);
        }
    }

    fn try_gemm(
        &self,
        g: &Gemm,
        alpha: f32,
        a: (u64, DType),
        b: (u64, DType),
        d: (u64, DType),
        bias: Option<u64>,
    ) -> std::result::Result<(), cudarc::cublaslt::result::CublasError> {
        use ltsys::cublasLtMatmulDescAttributes_t as Desc;
        use ltsys::cublasLtMatrixLayoutAttribute_t as Lay;
        // cublasOperation_t: CUBLAS_OP_N = 0, CUBLAS_OP_T = 1.
        let op = |o: Op| -> i32 {
            match o {
                Op::N => 0,
                Op::T => 1,
            }
        };
        let desc = lt::create_matmul_desc(
            ltsys::cublasComputeType_t::CUBLAS_COMPUTE_32F,
            ltsys::cudaDataType::CUDA_R_32F,
        )?;
        let layout = |dtype: DType, rows: usize, cols: usize, ld: usize, stride: usize| {
            let l = lt::create_matrix_layout(dtype.cuda(), rows as u64, cols as u64, ld as i64)?;
            if g.batch > 1 {
                let count = g.batch as i32;
                let stride = stride as i64;
                // SAFETY: the attribute values are the sizes cuBLASLt documents.
                unsafe {
                    lt::set_matrix_layout_attribute(
                        l,
                        Lay::CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT,
                        &count as *const i32 as *const c_void,
                        4,
                    )?;
                    lt::set_matrix_layout_attribute(
                        l,
                        Lay::CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                        &stride as *const i64 as *const c_void,
                        8,
                    )?;
                }
            }
            Ok::<_, cudarc::cublaslt::result::CublasError>(l)
        };
        // Stored shapes (column-major): op(A) is m × k, op(B) is k × n, D is m × n.
        let (ar, ac) = match g.transa {
            Op::N => (g.m, g.k),
            Op::T => (g.k, g.m),
        };
        let (br, bc) = match g.transb {
            Op::N => (g.k, g.n),
            Op::T => (g.n, g.k),
        };
        let la = layout(a.1, ar, ac, g.lda, g.stride_a)?;
        let lb = layout(b.1, br, bc, g.ldb, g.stride_b)?;
        let ld = layout(d.1, g.m, g.n, g.ldc, g.stride_c)?;
        let result = (|| {
            let (ta, tb) = (op(g.transa), op(g.transb));
            // SAFETY: attribute buffers are the types cuBLASLt documents for them.
            unsafe {
                lt::set_matmul_desc_attribute(
                    desc,
                    Desc::CUBLASLT_MATMUL_DESC_TRANSA,
                    &ta as *const _ as *const c_void,
                    std::mem::size_of_val(&ta),
                )?;
                lt::set_matmul_desc_attribute(
                    desc,
                    Desc::CUBLASLT_MATMUL_DESC_TRANSB,
                    &tb as *const _ as *const c_void,
                    std::mem::size_of_val(&tb),
                )?;
                if g.epilogue == Epilogue::Bias {
                    let epi = ltsys::cublasLtEpilogue_t::CUBLASLT_EPILOGUE_BIAS;
                    let ptr = bias.unwrap_or(0);
                    lt::set_matmul_desc_attribute(
                        desc,
                        Desc::CUBLASLT_MATMUL_DESC_EPILOGUE,
                        &epi as *const _ as *const c_void,
                        std::mem::size_of_val(&epi),
                    )?;
                    lt::set_matmul_desc_attribute(
                        desc,
                        Desc::CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                        &ptr as *const u64 as *const c_void,
                        8,
                    )?;
                }
            }
            let pref = lt::create_matmul_pref()?;
            let ws = WORKSPACE_BYTES as u64;
            // SAFETY: as above; the preference is destroyed below.
            let heuristic = unsafe {
                lt::set_matmul_pref_attribute(
                    pref,
                    ltsys::cublasLtMatmulPreferenceAttributes_t::CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                    &ws as *const u64 as *const c_void,
                    8,
                )?;
                let h = lt::get_matmul_algo_heuristic(self.blas.handle, desc, la, lb, ld, ld, pref);
                lt::destroy_matmul_pref(pref)?;
                h?
            };
            let beta = g.beta;
            // SAFETY: every pointer is a live device buffer of the layout's size, the
            // workspace is WORKSPACE_BYTES long, and D doubles as C (beta accumulates).
            unsafe {
                lt::matmul(
                    self.blas.handle,
                    desc,
                    &alpha as *const f32 as *const c_void,
                    &beta as *const f32 as *const c_void,
                    a.0 as *const c_void,
                    la,
                    b.0 as *const c_void,
                    lb,
                    d.0 as *const c_void,
                    ld,
                    d.0 as *mut c_void,
                    ld,
                    &heuristic.algo,
                    self.blas.workspace_ptr as *mut c_void,
                    WORKSPACE_BYTES,
                    self.stream.cu_stream() as _,
                )
            }
        })();
        // SAFETY: each descriptor is destroyed once; cuBLASLt copied what it needs at enqueue.
        unsafe {
            lt::destroy_matrix_layout(la).ok();
            lt::destroy_matrix_layout(lb).ok();
            lt::destroy_matrix_layout(ld).ok();
            lt::destroy_matmul_desc(desc).ok();
        }
        result
    }

    /// Column sums of the `[rows, width]` bf16 matrix at `x` added into the fp32 `out`
    /// (bias gradients): fixed chunks of rows, then the chunks in order.
    fn column_sums_into(&self, out: u64, x: u64, rows: usize, width: usize) {
        let chunks = rows.div_ceil(launch::ROWS_PER_CHUNK);
        let partial = self.scratch(chunks * width, DType::F32);
        self.launch(
            "column_sums",
            launch::column_sums(rows, width),
            &[Arg::Ptr(partial.ptr), Arg::Ptr(x), int(rows), int(width)],
        );
        self.launch(
            "reduce_partials",
            launch::flat(width),
            &[
                Arg::Ptr(out),
                Arg::Ptr(partial.ptr),
                int(chunks),
                int(width),
            ],
        );
    }

    fn nccl_op(op: ReduceOp) -> ncclsys::ncclRedOp_t {
        match op {
            ReduceOp::Sum => ncclsys::ncclRedOp_t::ncclSum,
            ReduceOp::Max => ncclsys::ncclRedOp_t::ncclMax,
        }
    }

    fn stream_handle(&self) -> ncclsys::cudaStream_t {
        self.stream.cu_stream() as _
    }

    fn copy_bytes(&self, dst: u64, src: u64, bytes: usize) {
        // SAFETY: both ranges are live device memory of `bytes` bytes.
        let r = unsafe {
            cudarc::driver::result::memcpy_dtod_async(dst, src, bytes, self.stream.cu_stream())
        };
        if let Err(e) = r {
            self.fail("cuMemcpyDtoDAsync", e);
        }
    }
}

fn expect(name: &str, got: DType, want: DType) {
    assert_eq!(
        got, want,
        "{name}: a {got:?} buffer where the kernel takes {want:?}"
    );
}

impl Backend for Cuda {
    type F = f32;
    type Buf = DevBuf;
    type Ref<'a> = DevRef<'a>;
    type Mut<'a> = DevMut<'a>;
    type Group = NcclGroup;

    fn zeros(&self, n: usize, role: Role) -> DevBuf {
        self.alloc(n, DType::of(role))
    }
    fn buf_len(&self, buf: &DevBuf) -> usize {
        buf.len
    }
    fn view<'a>(&self, buf: &'a DevBuf, range: Range<usize>) -> DevRef<'a> {
        let (ptr, dtype) = buf.at(&range);
        DevRef {
            ptr,
            len: range.len(),
            dtype,
            _buf: PhantomData,
        }
    }
    fn view_mut<'a>(&self, buf: &'a mut DevBuf, range: Range<usize>) -> DevMut<'a> {
        let (ptr, dtype) = buf.at(&range);
        DevMut {
            ptr,
            len: range.len(),
            dtype,
            _buf: PhantomData,
        }
    }
    fn view_mut2<'a>(
        &self,
        buf: &'a mut DevBuf,
        a: Range<usize>,
        b: Range<usize>,
    ) -> (DevMut<'a>, DevMut<'a>) {
        assert!(a.end <= b.start, "ranges out of order");
        let (pa, dtype) = buf.at(&a);
        let (pb, _) = buf.at(&b);
        let m = |ptr, len| DevMut {
            ptr,
            len,
            dtype,
            _buf: PhantomData,
        };
        (m(pa, a.len()), m(pb, b.len()))
    }
    fn upload(&self, dst: DevMut<'_>, src: &[f32]) {
        assert_eq!(
            dst.len,
            src.len(),
            "upload of {} elements into {}",
            src.len(),
            dst.len
        );
        // bf16 buffers are converted on the host (round to nearest even, as the CPU's
        // emulation rounds), so the device receives the bytes it stores.
        let bytes: Vec<u8> = match dst.dtype {
            DType::F32 => src.iter().flat_map(|x| x.to_le_bytes()).collect(),
            DType::Bf16 => src
                .iter()
                .flat_map(|&x| bf16::from_f32(x).to_le_bytes())
                .collect(),
        };
        // SAFETY: dst covers bytes.len() bytes. From pageable memory the call returns once
        // the bytes are staged, so `bytes` may be dropped here and nothing waits for the DMA.
        let r = unsafe {
            cudarc::driver::result::memcpy_htod_async(dst.ptr, &bytes, self.stream.cu_stream())
        };
        if let Err(e) = r {
            self.fail("cuMemcpyHtoDAsync", e);
        }
    }
    fn download(&self, src: DevRef<'_>, dst: &mut [f32]) {
        assert_eq!(
            src.len,
            dst.len(),
            "download of {} elements into {}",
            src.len,
            dst.len()
        );
        let mut bytes = vec![0u8; src.len * src.dtype.bytes()];
        // SAFETY: src covers bytes.len() bytes; synchronized before the bytes are read.
        let r = unsafe {
            cudarc::driver::result::memcpy_dtoh_async(&mut bytes, src.ptr, self.stream.cu_stream())
        };
        if let Err(e) = r.and_then(|_| self.stream.synchronize()) {
            self.fail("cuMemcpyDtoHAsync", e);
            return;
        }
        match src.dtype {
            DType::F32 => {
                for (d, b) in dst.iter_mut().zip(bytes.chunks_exact(4)) {
                    *d = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
            }
            DType::Bf16 => {
                for (d, b) in dst.iter_mut().zip(bytes.chunks_exact(2)) {
                    *d = bf16::from_le_bytes([b[0], b[1]]).to_f32();
                }
            }
        }
    }
    fn fill_zero(&self, x: DevMut<'_>) {
        // SAFETY: x covers len × bytes bytes of live device memory.
        let r = unsafe {
            cudarc::driver::result::memset_d8_async(
                x.ptr,
                0,
                x.len * x.dtype.bytes(),
                self.stream.cu_stream(),
            )
        };
        if let Err(e) = r {
            self.fail("cuMemsetD8Async", e);
        }
    }
    fn copy(&self, dst: DevMut<'_>, src: DevRef<'_>) {
        assert_eq!(
            dst.len, src.len,
            "copy of {} elements into {}",
            src.len, dst.len
        );
        let n = dst.len;
        match (src.dtype, dst.dtype) {
            (a, b) if a == b => self.copy_bytes(dst.ptr, src.ptr, n * a.bytes()),
            (DType::F32, DType::Bf16) => self.launch(
                "cast_to_bf16",
                launch::flat(n),
                &[Arg::Ptr(dst.ptr), Arg::Ptr(src.ptr), Arg::Size(n as u64)],
            ),
            _ => self.launch(
                "cast_to_f32",
                launch::flat(n),
                &[Arg::Ptr(dst.ptr), Arg::Ptr(src.ptr), Arg::Size(n as u64)],
            ),
        }
    }
    fn synchronize(&self) -> Result<()> {
        if let Err(e) = self.stream.synchronize() {
            self.fail("cuStreamSynchronize", e);
        }
        self.checked()
    }

    fn single_group(&self) -> Box<NcclGroup> {
        Box::new(NcclGroup::solo())
    }
    fn group_rank(&self, group: &NcclGroup) -> usize {
        group.rank
    }
    fn group_size(&self, group: &NcclGroup) -> usize {
        group.size
    }
    fn all_reduce(&self, group: &NcclGroup, buf: DevMut<'_>, op: ReduceOp) -> Result<()> {
        self.checked()?;
        let Some(comm) = group.comm else {
            return Ok(());
        };
        // SAFETY: in place on a live buffer of `len` elements of its type.
        unsafe {
            nccl::all_reduce(
                buf.ptr as *const c_void,
                buf.ptr as *mut c_void,
                buf.len,
                buf.dtype.nccl(),
                Self::nccl_op(op),
                comm,
                self.stream_handle(),
            )
        }
        .map(|_| ())
        .map_err(|e| anyhow!("ncclAllReduce of {} elements: {e:?}", buf.len))
    }
    fn all_reduce_overlapped(
        &self,
        group: &NcclGroup,
        buf: DevMut<'_>,
        op: ReduceOp,
    ) -> Result<()> {
        self.checked()?;
        let Some(comm) = group.comm else {
            return Ok(());
        };
        // The bucket's gradients are final once the kernels issued so far are done.
        self.comm_stream
            .join(&self.stream)
            .map_err(|e| anyhow!("ordering the communication stream: {e:?}"))?;
        // SAFETY: in place on a live buffer of `len` elements; nothing writes it until
        // wait_overlapped orders the compute stream after this reduction.
        unsafe {
            nccl::all_reduce(
                buf.ptr as *const c_void,
                buf.ptr as *mut c_void,
                buf.len,
                buf.dtype.nccl(),
                Self::nccl_op(op),
                comm,
                self.comm_stream.cu_stream() as _,
            )
        }
        .map(|_| ())
        .map_err(|e| anyhow!("ncclAllReduce of a {}-element bucket: {e:?}", buf.len))
    }
    fn wait_overlapped(&self) -> Result<()> {
        self.stream
            .join(&self.comm_stream)
            .map_err(|e| anyhow!("waiting for the communication stream: {e:?}"))?;
        self.checked()
    }
    fn reduce_scatter(&self, group: &NcclGroup, input: DevRef<'_>, out: DevMut<'_>) -> Result<()> {
        self.checked()?;
        if input.len != out.len * group.size {
            bail!(
                "reduce-scatter of {} elements into {} × {}",
                input.len,
                group.size,
                out.len
            );
        }
        let Some(comm) = group.comm else {
            self.copy(out, input);
            return Ok(());
        };
        // SAFETY: input holds size × out.len elements, out holds out.len.
        unsafe {
            nccl::reduce_scatter(
                input.ptr as *const c_void,
                out.ptr as *mut c_void,
                out.len,
                out.dtype.nccl(),
                ncclsys::ncclRedOp_t::ncclSum,
                comm,
                self.stream_handle(),
            )
        }
        .map(|_| ())
        .map_err(|e| anyhow!("ncclReduceScatter: {e:?}"))
    }
    fn all_gather(&self, group: &NcclGroup, local: DevRef<'_>, out: DevMut<'_>) -> Result<()> {
        self.checked()?;
        if out.len != local.len * group.size {
            bail!(
                "all-gather of {} × {} elements into {}",
                group.size,
                local.len,
                out.len
            );
        }
        let Some(comm) = group.comm else {
            self.copy(out, local);
            return Ok(());
        };
        // SAFETY: out holds size × local.len elements.
        unsafe {
            nccl::all_gather(
                local.ptr as *const c_void,
                out.ptr as *mut c_void,
                local.len,
                local.dtype.nccl(),
                comm,
                self.stream_handle(),
            )
        }
        .map(|_| ())
        .map_err(|e| anyhow!("ncclAllGather: {e:?}"))
    }
    fn send(&self, group: &NcclGroup, to: usize, buf: DevRef<'_>) -> Result<()> {
        self.checked()?;
        let comm = group.comm.context("send in a group of one")?;
        // SAFETY: a live buffer of len elements.
        unsafe {
            nccl::send(
                buf.ptr as *const c_void,
                buf.len,
                buf.dtype.nccl(),
                to as i32,
                comm,
                self.stream_handle(),
            )
        }
        .map(|_| ())
        .map_err(|e| anyhow!("ncclSend to rank {to}: {e:?}"))
    }
    fn p2p_group_start(&self) {
        if let Err(e) = nccl::group_start() {
            self.fail("ncclGroupStart", e);
        }
    }
    fn p2p_group_end(&self) -> Result<()> {
        nccl::group_end().map_err(|e| anyhow!("ncclGroupEnd: {e:?}"))?;
        self.checked()
    }
    fn recv(&self, group: &NcclGroup, from: usize, buf: DevMut<'_>) -> Result<()> {
        self.checked()?;
        let comm = group.comm.context("recv in a group of one")?;
        // SAFETY: a live buffer of len elements.
        unsafe {
            nccl::recv(
                buf.ptr as *mut c_void,
                buf.len,
                buf.dtype.nccl(),
                from as i32,
                comm,
                self.stream_handle(),
            )
        }
        .map(|_| ())
        .map_err(|e| anyhow!("ncclRecv from rank {from}: {e:?}"))
    }

    fn embed_tokens(
        &self,
        out: DevMut<'_>,
        tokens: &[u32],
        wte: DevRef<'_>,
        vocab_start: usize,
        c: usize,
    ) {
        let Some(ids) = self.tokens(tokens) else {
            return;
        };
        let ids_ptr = ids.device_ptr(&self.stream).0;
        self.launch(
            "embed_tokens",
            launch::per_row(tokens.len()),
            &[
                Arg::Ptr(out.ptr),
                Arg::Ptr(ids_ptr),
                Arg::Ptr(wte.ptr),
                int(vocab_start),
                int(wte.len / c),
                int(c),
            ],
        );
    }
    fn embed_tokens_backward(
        &self,
        dwte: DevMut<'_>,
        dout: DevRef<'_>,
        tokens: &[u32],
        vocab_start: usize,
        c: usize,
    ) {
        expect("embed_tokens_backward", dwte.dtype, DType::F32);
        let Some(ids) = self.tokens(tokens) else {
            return;
        };
        let ids_ptr = ids.device_ptr(&self.stream).0;
        self.launch(
            "embed_tokens_backward",
            launch::flat(c),
            &[
                Arg::Ptr(dwte.ptr),
                Arg::Ptr(dout.ptr),
                Arg::Ptr(ids_ptr),
                int(tokens.len()),
                int(vocab_start),
                int(dwte.len / c),
                int(c),
            ],
        );
    }
    fn add_positions(&self, out: DevMut<'_>, wpe: DevRef<'_>, seq: usize, c: usize) {
        let n = out.len / c;
        self.launch(
            "add_positions",
            launch::flat(n * c),
            &[
                Arg::Ptr(out.ptr),
                Arg::Ptr(wpe.ptr),
                int(n),
                int(seq),
                int(c),
            ],
        );
    }
    fn add_positions_backward(&self, dwpe: DevMut<'_>, dout: DevRef<'_>, seq: usize, c: usize) {
        expect("add_positions_backward", dwpe.dtype, DType::F32);
        let batch = dout.len / (seq * c);
        self.launch(
            "add_positions_backward",
            launch::flat(seq * c),
            &[
                Arg::Ptr(dwpe.ptr),
                Arg::Ptr(dout.ptr),
                int(batch),
                int(seq),
                int(c),
            ],
        );
    }
    fn layernorm_forward(
        &self,
        out: DevMut<'_>,
        mean: DevMut<'_>,
        rstd: DevMut<'_>,
        inp: DevRef<'_>,
        weight: DevRef<'_>,
        bias: DevRef<'_>,
        c: usize,
    ) {
        let n = inp.len / c;
        self.launch(
            "layernorm_forward",
            launch::warp_per_row(n),
            &[
                Arg::Ptr(out.ptr),
                Arg::Ptr(mean.ptr),
                Arg::Ptr(rstd.ptr),
                Arg::Ptr(inp.ptr),
                Arg::Ptr(weight.ptr),
                Arg::Ptr(bias.ptr),
                int(n),
                int(c),
            ],
        );
    }
    fn layernorm_backward(
        &self,
        dinp: DevMut<'_>,
        dweight: DevMut<'_>,
        dbias: DevMut<'_>,
        dout: DevRef<'_>,
        inp: DevRef<'_>,
        weight: DevRef<'_>,
        mean: DevRef<'_>,
        rstd: DevRef<'_>,
        c: usize,
    ) {
        expect("layernorm_backward", dweight.dtype, DType::F32);
        let n = inp.len / c;
        let chunks = n.div_ceil(launch::ROWS_PER_CHUNK);
        let (pdw, pdb) = (
            self.scratch(chunks * c, DType::F32),
            self.scratch(chunks * c, DType::F32),
        );
        self.launch(
            "layernorm_backward",
            launch::layernorm_backward(n),
            &[
                Arg::Ptr(dinp.ptr),
                Arg::Ptr(pdw.ptr),
                Arg::Ptr(pdb.ptr),
                Arg::Ptr(dout.ptr),
                Arg::Ptr(inp.ptr),
                Arg::Ptr(weight.ptr),
                Arg::Ptr(mean.ptr),
                Arg::Ptr(rstd.ptr),
                int(n),
                int(c),
            ],
        );
        for (out, partial) in [(dweight.ptr, &pdw), (dbias.ptr, &pdb)] {
            self.launch(
                "reduce_partials",
                launch::flat(c),
                &[Arg::Ptr(out), Arg::Ptr(partial.ptr), int(chunks), int(c)],
            );
        }
    }
    fn matmul_forward(
        &self,
        out: DevMut<'_>,
        inp: DevRef<'_>,
        weight: DevRef<'_>,
        bias: Option<DevRef<'_>>,
        c: usize,
        oc: usize,
    ) {
        let rows = inp.len / c;
        let g = gemm::linear_forward(rows, c, oc, bias.is_some());
        self.gemm(
            &g,
            1.0,
            (weight.ptr, weight.dtype),
            (inp.ptr, inp.dtype),
            (out.ptr, out.dtype),
            bias.map(|b| b.ptr),
        );
    }
    fn matmul_backward(
        &self,
        dinp: DevMut<'_>,
        dweight: DevMut<'_>,
        dbias: Option<DevMut<'_>>,
        dout: DevRef<'_>,
        inp: DevRef<'_>,
        weight: DevRef<'_>,
        c: usize,
        oc: usize,
    ) {
        let rows = inp.len / c;
        let g = gemm::linear_backward_input(rows, c, oc);
        self.gemm(
            &g,
            1.0,
            (weight.ptr, weight.dtype),
            (dout.ptr, dout.dtype),
            (dinp.ptr, dinp.dtype),
            None,
        );
        let g = gemm::linear_backward_weight(rows, c, oc);
        self.gemm(
            &g,
            1.0,
            (inp.ptr, inp.dtype),
            (dout.ptr, dout.dtype),
            (dweight.ptr, dweight.dtype),
            None,
        );
        if let Some(db) = dbias {
            expect("matmul_backward bias", db.dtype, DType::F32);
            self.column_sums_into(db.ptr, dout.ptr, rows, oc);
        }
    }
    fn bias_add(&self, out: DevMut<'_>, bias: DevRef<'_>) {
        let c = bias.len;
        let rows = out.len / c;
        self.launch(
            "bias_add",
            launch::flat(rows * c),
            &[
                Arg::Ptr(out.ptr),
                Arg::Ptr(bias.ptr),
                Arg::Size(rows as u64),
                int(c),
            ],
        );
    }
    fn bias_backward(&self, dbias: DevMut<'_>, dout: DevRef<'_>) {
        expect("bias_backward", dbias.dtype, DType::F32);
        let c = dbias.len;
        self.column_sums_into(dbias.ptr, dout.ptr, dout.len / c, c);
    }
    fn attention_forward(
        &self,
        out: DevMut<'_>,
        att: DevMut<'_>,
        qkv: DevRef<'_>,
        batch: usize,
        seq: usize,
        heads: usize,
        head_size: usize,
    ) {
        let (bh, elems) = (batch * heads, batch * seq * heads * head_size);
        let dims = [int(batch), int(seq), int(heads), int(head_size)];
        let (q, k, v, y) = (
            self.scratch(elems, DType::Bf16),
            self.scratch(elems, DType::Bf16),
            self.scratch(elems, DType::Bf16),
            self.scratch(elems, DType::Bf16),
        );
        let mut args = vec![
            Arg::Ptr(q.ptr),
            Arg::Ptr(k.ptr),
            Arg::Ptr(v.ptr),
            Arg::Ptr(qkv.ptr),
        ];
        args.extend(dims.iter().map(clone_arg));
        self.launch("attention_permute", launch::flat(elems), &args);
        let scale = 1.0 / (head_size as f32).sqrt();
        let bf = DType::Bf16;
        self.gemm(
            &gemm::attention::scores(bh, seq, head_size),
            scale,
            (k.ptr, bf),
            (q.ptr, bf),
            (att.ptr, att.dtype),
            None,
        );
        self.launch(
            "softmax_causal_forward",
            launch::warp_per_row(bh * seq),
            &[Arg::Ptr(att.ptr), int(bh * seq), int(seq)],
        );
        self.gemm(
            &gemm::attention::values(bh, seq, head_size),
            1.0,
            (v.ptr, bf),
            (att.ptr, att.dtype),
            (y.ptr, bf),
            None,
        );
        let mut args = vec![Arg::Ptr(out.ptr), Arg::Ptr(y.ptr)];
        args.extend(dims.iter().map(clone_arg));
        self.launch("attention_unpermute", launch::flat(elems), &args);
    }
    fn attention_backward(
        &self,
        dqkv: DevMut<'_>,
        dout: DevRef<'_>,
        qkv: DevRef<'_>,
        att: DevRef<'_>,
        batch: usize,
        seq: usize,
        heads: usize,
        head_size: usize,
    ) {
        let (bh, elems) = (batch * heads, batch * seq * heads * head_size);
        let dims = [int(batch), int(seq), int(heads), int(head_size)];
        let bf = DType::Bf16;
        let [q, k, v, dq, dk, dv, dy] = std::array::from_fn(|_| self.scratch(elems, bf));
        let datt = self.scratch(bh * seq * seq, bf);
        let mut args = vec![
            Arg::Ptr(q.ptr),
            Arg::Ptr(k.ptr),
            Arg::Ptr(v.ptr),
            Arg::Ptr(qkv.ptr),
        ];
        args.extend(dims.iter().map(clone_arg));
        self.launch("attention_permute", launch::flat(elems), &args);
        let mut args = vec![Arg::Ptr(dy.ptr), Arg::Ptr(dout.ptr)];
        args.extend(dims.iter().map(clone_arg));
        self.launch("attention_unpermute_backward", launch::flat(elems), &args);
        use gemm::attention as at;
        self.gemm(
            &at::datt(bh, seq, head_size),
            1.0,
            (v.ptr, bf),
            (dy.ptr, bf),
            (datt.ptr, bf),
            None,
        );
        self.gemm(
            &at::dv(bh, seq, head_size),
            1.0,
            (dy.ptr, bf),
            (att.ptr, att.dtype),
            (dv.ptr, bf),
            None,
        );
        let scale = 1.0 / (head_size as f32).sqrt();
        self.launch(
            "softmax_causal_backward",
            launch::warp_per_row(bh * seq),
            &[
                Arg::Ptr(datt.ptr),
                Arg::Ptr(att.ptr),
                int(bh * seq),
                int(seq),
                Arg::Float(scale),
            ],
        );
        self.gemm(
            &at::dq(bh, seq, head_size),
            1.0,
            (k.ptr, bf),
            (datt.ptr, bf),
            (dq.ptr, bf),
            None,
        );
        self.gemm(
            &at::dk(bh, seq, head_size),
            1.0,
            (q.ptr, bf),
            (datt.ptr, bf),
            (dk.ptr, bf),
            None,
        );
        let mut args = vec![
            Arg::Ptr(dqkv.ptr),
            Arg::Ptr(dq.ptr),
            Arg::Ptr(dk.ptr),
            Arg::Ptr(dv.ptr),
        ];
        args.extend(dims.iter().map(clone_arg));
        self.launch("attention_permute_backward", launch::flat(elems), &args);
    }
    fn gelu_forward(&self, out: DevMut<'_>, inp: DevRef<'_>) {
        let n = inp.len;
        self.launch(
            "gelu_forward",
            launch::flat(n),
            &[Arg::Ptr(out.ptr), Arg::Ptr(inp.ptr), Arg::Size(n as u64)],
        );
    }
    fn gelu_backward(&self, dinp: DevMut<'_>, inp: DevRef<'_>, dout: DevRef<'_>) {
        let n = inp.len;
        self.launch(
            "gelu_backward",
            launch::flat(n),
            &[
                Arg::Ptr(dinp.ptr),
                Arg::Ptr(inp.ptr),
                Arg::Ptr(dout.ptr),
                Arg::Size(n as u64),
            ],
        );
    }
    fn residual_forward(&self, out: DevMut<'_>, a: DevRef<'_>, b: DevRef<'_>) {
        let n = a.len;
        self.launch(
            "residual_forward",
            launch::flat(n),
            &[
                Arg::Ptr(out.ptr),
                Arg::Ptr(a.ptr),
                Arg::Ptr(b.ptr),
                Arg::Size(n as u64),
            ],
        );
    }
    fn accumulate(&self, acc: DevMut<'_>, x: DevRef<'_>) {
        expect("accumulate", acc.dtype, DType::F32);
        expect("accumulate", x.dtype, DType::F32);
        let n = x.len;
        self.launch(
            "accumulate",
            launch::flat(n),
            &[Arg::Ptr(acc.ptr), Arg::Ptr(x.ptr), Arg::Size(n as u64)],
        );
    }
    fn row_max(&self, max: DevMut<'_>, logits: DevRef<'_>, cols: usize, valid: usize) {
        self.launch(
            "row_max",
            launch::per_row(max.len),
            &[
                Arg::Ptr(max.ptr),
                Arg::Ptr(logits.ptr),
                int(cols),
                int(valid),
            ],
        );
    }
    fn row_sum_exp(
        &self,
        sum: DevMut<'_>,
        exps: DevMut<'_>,
        logits: DevRef<'_>,
        max: DevRef<'_>,
        cols: usize,
        valid: usize,
    ) {
        self.launch(
            "row_sum_exp",
            launch::per_row(sum.len),
            &[
                Arg::Ptr(sum.ptr),
                Arg::Ptr(exps.ptr),
                Arg::Ptr(logits.ptr),
                Arg::Ptr(max.ptr),
                int(cols),
                int(valid),
            ],
        );
    }
    fn target_logit(
        &self,
        picked: DevMut<'_>,
        logits: DevRef<'_>,
        targets: &[u32],
        vocab_start: usize,
        cols: usize,
    ) {
        let Some(ids) = self.tokens(targets) else {
            return;
        };
        let ids_ptr = ids.device_ptr(&self.stream).0;
        let n = targets.len();
        self.launch(
            "target_logit",
            launch::flat(n),
            &[
                Arg::Ptr(picked.ptr),
                Arg::Ptr(logits.ptr),
                Arg::Ptr(ids_ptr),
                int(n),
                int(vocab_start),
                int(cols),
            ],
        );
    }
    fn cross_entropy_backward(
        &self,
        dlogits: DevMut<'_>,
        exps: DevRef<'_>,
        sum: DevRef<'_>,
        targets: &[u32],
        dloss: DevRef<'_>,
        vocab_start: usize,
        cols: usize,
        valid: usize,
    ) {
        let Some(ids) = self.tokens(targets) else {
            return;
        };
        let ids_ptr = ids.device_ptr(&self.stream).0;
        self.launch(
            "cross_entropy_backward",
            launch::per_row(targets.len()),
            &[
                Arg::Ptr(dlogits.ptr),
                Arg::Ptr(exps.ptr),
                Arg::Ptr(sum.ptr),
                Arg::Ptr(ids_ptr),
                Arg::Ptr(dloss.ptr),
                int(vocab_start),
                int(cols),
                int(valid),
            ],
        );
    }
    fn cross_entropy_loss(
        &self,
        losses: DevMut<'_>,
        sum: DevRef<'_>,
        max: DevRef<'_>,
        picked: DevRef<'_>,
    ) {
        let n = losses.len;
        self.launch(
            "cross_entropy_loss",
            launch::flat(n),
            &[
                Arg::Ptr(losses.ptr),
                Arg::Ptr(sum.ptr),
                Arg::Ptr(max.ptr),
                Arg::Ptr(picked.ptr),
                int(n),
            ],
        );
    }
    fn scale(&self, x: DevMut<'_>, k: f32) {
        expect("scale", x.dtype, DType::F32);
        let n = x.len;
        self.launch(
            "scale",
            launch::flat(n),
            &[Arg::Ptr(x.ptr), Arg::Float(k), Arg::Size(n as u64)],
        );
    }
    fn sum_squares(&self, x: DevRef<'_>, mask: DevRef<'_>) -> f64 {
        expect("sum_squares", x.dtype, DType::F32);
        let n = x.len;
        let blocks = n.div_ceil(launch::NORM_CHUNK);
        let partial = self.scratch(blocks.max(1) * 2, DType::F32); // doubles: 2 f32 slots each
        let out = self.scratch(2, DType::F32);
        self.launch(
            "grad_norm_partial",
            launch::norm_partial(n),
            &[
                Arg::Ptr(partial.ptr),
                Arg::Ptr(x.ptr),
                Arg::Ptr(mask.ptr),
                Arg::Size(n as u64),
            ],
        );
        self.launch(
            "grad_norm_finish",
            launch::single(),
            &[
                Arg::Ptr(out.ptr),
                Arg::Ptr(partial.ptr),
                Arg::Size(blocks as u64),
            ],
        );
        let mut bytes = [0u8; 8];
        // SAFETY: out holds one double; synchronized before reading.
        let r = unsafe {
            cudarc::driver::result::memcpy_dtoh_async(&mut bytes, out.ptr, self.stream.cu_stream())
        };
        if let Err(e) = r.and_then(|_| self.stream.synchronize()) {
            self.fail("reading the gradient norm", e);
            return f64::NAN;
        }
        f64::from_le_bytes(bytes)
    }
    fn adamw_step(
        &self,
        params: DevMut<'_>,
        grads: DevRef<'_>,
        m: DevMut<'_>,
        v: DevMut<'_>,
        decay: DevRef<'_>,
        k: &AdamStep<f32>,
    ) {
        expect("adamw_step", params.dtype, DType::F32);
        let n = params.len;
        self.launch(
            "adamw_step",
            launch::flat(n),
            &[
                Arg::Ptr(params.ptr),
                Arg::Ptr(grads.ptr),
                Arg::Ptr(m.ptr),
                Arg::Ptr(v.ptr),
                Arg::Ptr(decay.ptr),
                Arg::Size(n as u64),
                Arg::Float(k.beta1),
                Arg::Float(k.beta2),
                Arg::Float(k.correction1),
                Arg::Float(k.correction2),
                Arg::Float(k.lr),
                Arg::Float(k.shrink),
                Arg::Float(k.eps),
            ],
        );
    }
    fn round_bf16(&self, x: DevMut<'_>) {
        // bf16 storage is already rounded; an fp32 buffer goes there and back.
        if x.dtype == DType::Bf16 {
            return;
        }
        let n = x.len;
        let tmp = self.scratch(n, DType::Bf16);
        self.launch(
            "cast_to_bf16",
            launch::flat(n),
            &[Arg::Ptr(tmp.ptr), Arg::Ptr(x.ptr), Arg::Size(n as u64)],
        );
        self.launch(
            "cast_to_f32",
            launch::flat(n),
            &[Arg::Ptr(x.ptr), Arg::Ptr(tmp.ptr), Arg::Size(n as u64)],
        );
    }
}

fn clone_arg(a: &Arg) -> Arg {
    match a {
        Arg::Ptr(p) => Arg::Ptr(*p),
        Arg::Int(i) => Arg::Int(*i),
        Arg::Size(s) => Arg::Size(*s),
        Arg::Float(f) => Arg::Float(*f),
    }
}
