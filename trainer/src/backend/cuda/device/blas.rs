//! cuBLASLt on the backend's stream: the handle and workspace, one matmul as a [`Gemm`]
//! descriptor states it, and the bias-gradient column sums.

use std::ffi::c_void;

use cudarc::cublaslt::{result as lt, sys as ltsys};

use super::super::gemm::{Epilogue, Gemm, Op};
use super::super::launch;
use super::buffer::DType;
use super::buffer::{int, Arg};
use super::context::{Cuda, WORKSPACE_BYTES};

impl Cuda {
    /// One cuBLASLt matmul `d = alpha · op(a) · op(b) + beta · d (+ bias)` as `g` states it.
    pub(super) fn gemm(
        &self,
        g: &Gemm,
        alpha: f32,
        a: (u64, DType),
        b: (u64, DType),
        d: (u64, DType),
        bias: Option<u64>,
    ) {
        if self.failed() {
            return;
        }
        if let Err(e) = self.try_gemm(g, alpha, a, b, d, bias) {
            self.fail("cublasLtMatmul", e);
        }
    }

    pub(super) fn try_gemm(
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
            // cuBLASLt's heuristic costs more than a small GEMM: ask once per shape, data
            // types and pointer alignment, then reuse its choice.
            let aligned = |p: u64| -> u32 {
                match p {
                    0 => 256,
                    p => 1 << p.trailing_zeros().min(8),
                }
            };
            let alignments = [aligned(a.0), aligned(b.0), aligned(d.0), aligned(d.0)];
            let key = format!(
                "{g:?} {:?} {:?} {:?} {} {alignments:?}",
                a.1,
                b.1,
                d.1,
                bias.is_some()
            );
            let cached = self.blas.algos.lock().map(|m| m.get(&key).copied());
            let algo = match cached {
                Ok(Some(algo)) => algo,
                _ => {
                    let algo = self.choose_algo(desc, (la, lb, ld), alignments)?;
                    if let Ok(mut m) = self.blas.algos.lock() {
                        m.insert(key, algo);
                    }
                    algo
                }
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
                    &algo,
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

    /// cuBLASLt's first choice of algorithm for `desc` on these layouts, within the workspace,
    /// for pointers aligned to `alignments` bytes (A, B, C, D: views into a buffer need not be
    /// aligned to the 256 bytes the heuristic otherwise assumes).
    fn choose_algo(
        &self,
        desc: ltsys::cublasLtMatmulDesc_t,
        (la, lb, ld): (
            ltsys::cublasLtMatrixLayout_t,
            ltsys::cublasLtMatrixLayout_t,
            ltsys::cublasLtMatrixLayout_t,
        ),
        alignments: [u32; 4],
    ) -> std::result::Result<ltsys::cublasLtMatmulAlgo_t, cudarc::cublaslt::result::CublasError>
    {
        use ltsys::cublasLtMatmulPreferenceAttributes_t as Pref;
        let pref = lt::create_matmul_pref()?;
        let ws = WORKSPACE_BYTES as u64;
        let aligned = [
            Pref::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
            Pref::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
            Pref::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
            Pref::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES,
        ];
        // SAFETY: the attribute values are the sizes cuBLASLt documents (u64 workspace, u32
        // alignments); the preference is destroyed before returning.
        unsafe {
            let set = (|| {
                lt::set_matmul_pref_attribute(
                    pref,
                    Pref::CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                    &ws as *const u64 as *const c_void,
                    8,
                )?;
                for (attr, bytes) in aligned.into_iter().zip(&alignments) {
                    lt::set_matmul_pref_attribute(
                        pref,
                        attr,
                        bytes as *const u32 as *const c_void,
                        4,
                    )?;
                }
                lt::get_matmul_algo_heuristic(self.blas.handle, desc, la, lb, ld, ld, pref)
            })();
            lt::destroy_matmul_pref(pref)?;
            Ok(set?.algo)
        }
    }

    /// Column sums of the `[rows, width]` bf16 matrix at `x` added into the fp32 `out`
    /// (bias gradients): fixed chunks of rows, then the chunks in order.
    pub(super) fn column_sums_into(&self, out: u64, x: u64, rows: usize, width: usize) {
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
}
