//! Causal self-attention on the GPU: the batched score and value GEMMs through cuBLASLt and
//! the softmax kernels between them, forward and backward.

use super::super::gemm;
use super::super::launch;
use super::buffer::{clone_arg, int, Arg};
use super::buffer::{DType, DevMut, DevRef};
use super::context::Cuda;

impl Cuda {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn cuda_attention_forward(
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
    #[allow(clippy::too_many_arguments)]
    pub(super) fn cuda_attention_backward(
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
}
