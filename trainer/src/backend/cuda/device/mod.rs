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

use std::marker::PhantomData;
use std::ops::Range;

use anyhow::Result;
use cudarc::driver::DevicePtr;
use half::bf16;

use super::by_token::RowsByToken;
use super::gemm;
use super::launch;
use crate::backend::{Backend, Role};
use crate::dist::ReduceOp;
use crate::optim::AdamStep;

mod attention;
mod blas;
mod buffer;
mod context;
mod groups;
mod watch;

use buffer::{int, Arg};
pub use buffer::{DType, DevBuf, DevMut, DevRef};
pub use context::Cuda;
pub use groups::NcclGroup;

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
        if self.failed() {
            return;
        }
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
        if self.failed() {
            return;
        }
        let mut bytes = vec![0u8; src.len * src.dtype.bytes()];
        // SAFETY: src covers bytes.len() bytes; synchronized before the bytes are read.
        let r = unsafe {
            cudarc::driver::result::memcpy_dtoh_async(&mut bytes, src.ptr, self.stream.cu_stream())
        };
        if let Err(e) = r {
            self.fail("cuMemcpyDtoHAsync", e);
            return;
        }
        if let Err(e) = self.wait_stream("download") {
            self.fail("download", format_args!("{e:#}"));
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
        if self.failed() {
            return;
        }
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
        if let Err(e) = self.wait_stream("synchronize") {
            self.fail("synchronize", format_args!("{e:#}"));
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
        self.nccl_all_reduce(group, buf, op)
    }
    fn all_reduce_overlapped(
        &self,
        group: &NcclGroup,
        buf: DevMut<'_>,
        op: ReduceOp,
    ) -> Result<()> {
        self.nccl_all_reduce_overlapped(group, buf, op)
    }
    fn wait_overlapped(&self, _group: &NcclGroup) -> Result<()> {
        self.nccl_wait_overlapped()
    }
    fn reduce_scatter(&self, group: &NcclGroup, input: DevRef<'_>, out: DevMut<'_>) -> Result<()> {
        self.nccl_reduce_scatter(group, input, out)
    }
    fn all_gather(&self, group: &NcclGroup, local: DevRef<'_>, out: DevMut<'_>) -> Result<()> {
        self.nccl_all_gather(group, local, out)
    }
    fn send(&self, group: &NcclGroup, to: usize, buf: DevRef<'_>) -> Result<()> {
        self.nccl_send(group, to, buf)
    }
    fn p2p_group_start(&self, _group: &NcclGroup) {
        self.nccl_p2p_group_start()
    }
    fn p2p_group_end(&self, _group: &NcclGroup) -> Result<()> {
        self.nccl_p2p_group_end()
    }
    fn recv(&self, group: &NcclGroup, from: usize, buf: DevMut<'_>) -> Result<()> {
        self.nccl_recv(group, from, buf)
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
        let groups = RowsByToken::new(tokens, vocab_start, dwte.len / c);
        if groups.groups() == 0 {
            return;
        }
        let (Some(order), Some(starts), Some(table_rows)) = (
            self.tokens(&groups.order),
            self.tokens(&groups.starts),
            self.tokens(&groups.table_rows),
        ) else {
            return;
        };
        let ptr = |s: &cudarc::driver::CudaSlice<u32>| s.device_ptr(&self.stream).0;
        self.launch(
            "embed_tokens_backward",
            launch::by_token(groups.groups(), c),
            &[
                Arg::Ptr(dwte.ptr),
                Arg::Ptr(dout.ptr),
                Arg::Ptr(ptr(&order)),
                Arg::Ptr(ptr(&starts)),
                Arg::Ptr(ptr(&table_rows)),
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
        self.cuda_attention_forward(out, att, qkv, batch, seq, heads, head_size)
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
        self.cuda_attention_backward(dqkv, dout, qkv, att, batch, seq, heads, head_size)
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
        if self.failed() {
            return f64::NAN;
        }
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
            launch::one_block(),
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
        if let Err(e) = r {
            self.fail("reading the gradient norm", e);
            return f64::NAN;
        }
        if let Err(e) = self.wait_stream("reading the gradient norm") {
            self.fail("reading the gradient norm", format_args!("{e:#}"));
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
