//! The methods of a backend that wraps another and changes only its buffers, communication or
//! failures ([`super::device_order::DeviceOrder`], [`super::faulty::Faulty`]): each kernel asks
//! the wrapper's `$hook(name)` whether to run, then runs the inner backend's same kernel; host
//! copies and communication, where the wrapper leaves them alone, are the inner backend's.

/// Implements every kernel method of [`super::Backend`] as `self.$inner.name(…)` when
/// `self.$hook("name")` is true. Use inside `impl Backend for …` whose `Ref`/`Mut`/`F` are the
/// inner backend's.
macro_rules! delegate_kernels {
    ($inner:ident, $hook:ident) => {
        delegate_kernels!(@each $inner, $hook,
            embed_tokens(out: Self::Mut<'_>, tokens: &[u32], wte: Self::Ref<'_>, vocab_start: usize, c: usize);
            embed_tokens_backward(dwte: Self::Mut<'_>, dout: Self::Ref<'_>, tokens: &[u32], vocab_start: usize, c: usize);
            add_positions(out: Self::Mut<'_>, wpe: Self::Ref<'_>, seq: usize, c: usize);
            add_positions_backward(dwpe: Self::Mut<'_>, dout: Self::Ref<'_>, seq: usize, c: usize);
            layernorm_forward(out: Self::Mut<'_>, mean: Self::Mut<'_>, rstd: Self::Mut<'_>, inp: Self::Ref<'_>, weight: Self::Ref<'_>, bias: Self::Ref<'_>, c: usize);
            layernorm_backward(dinp: Self::Mut<'_>, dweight: Self::Mut<'_>, dbias: Self::Mut<'_>, dout: Self::Ref<'_>, inp: Self::Ref<'_>, weight: Self::Ref<'_>, mean: Self::Ref<'_>, rstd: Self::Ref<'_>, c: usize);
            matmul_forward(out: Self::Mut<'_>, inp: Self::Ref<'_>, weight: Self::Ref<'_>, bias: Option<Self::Ref<'_>>, c: usize, oc: usize);
            matmul_backward(dinp: Self::Mut<'_>, dweight: Self::Mut<'_>, dbias: Option<Self::Mut<'_>>, dout: Self::Ref<'_>, inp: Self::Ref<'_>, weight: Self::Ref<'_>, c: usize, oc: usize);
            bias_add(out: Self::Mut<'_>, bias: Self::Ref<'_>);
            bias_backward(dbias: Self::Mut<'_>, dout: Self::Ref<'_>);
            attention_forward(out: Self::Mut<'_>, att: Self::Mut<'_>, qkv: Self::Ref<'_>, batch: usize, seq: usize, heads: usize, head_size: usize);
            attention_backward(dqkv: Self::Mut<'_>, dout: Self::Ref<'_>, qkv: Self::Ref<'_>, att: Self::Ref<'_>, batch: usize, seq: usize, heads: usize, head_size: usize);
            gelu_forward(out: Self::Mut<'_>, inp: Self::Ref<'_>);
            gelu_backward(dinp: Self::Mut<'_>, inp: Self::Ref<'_>, dout: Self::Ref<'_>);
            residual_forward(out: Self::Mut<'_>, a: Self::Ref<'_>, b: Self::Ref<'_>);
            accumulate(acc: Self::Mut<'_>, x: Self::Ref<'_>);
            row_max(max: Self::Mut<'_>, logits: Self::Ref<'_>, cols: usize, valid: usize);
            row_sum_exp(sum: Self::Mut<'_>, exps: Self::Mut<'_>, logits: Self::Ref<'_>, max: Self::Ref<'_>, cols: usize, valid: usize);
            target_logit(picked: Self::Mut<'_>, logits: Self::Ref<'_>, targets: &[u32], vocab_start: usize, cols: usize);
            cross_entropy_backward(dlogits: Self::Mut<'_>, exps: Self::Ref<'_>, sum: Self::Ref<'_>, targets: &[u32], dloss: Self::Ref<'_>, vocab_start: usize, cols: usize, valid: usize);
            cross_entropy_loss(losses: Self::Mut<'_>, sum: Self::Ref<'_>, max: Self::Ref<'_>, picked: Self::Ref<'_>);
            scale(x: Self::Mut<'_>, k: Self::F);
            adamw_step(params: Self::Mut<'_>, grads: Self::Ref<'_>, m: Self::Mut<'_>, v: Self::Mut<'_>, decay: Self::Ref<'_>, k: &$crate::optim::AdamStep<Self::F>);
            round_bf16(x: Self::Mut<'_>);
        );
        fn sum_squares(&self, x: Self::Ref<'_>, mask: Self::Ref<'_>) -> f64 {
            match self.$hook("sum_squares") {
                true => self.$inner.sum_squares(x, mask),
                false => 0.0,
            }
        }
    };
    (@each $inner:ident, $hook:ident, $( $name:ident ( $( $arg:ident : $ty:ty ),* ); )* ) => {
        $(
            #[allow(clippy::too_many_arguments)]
            fn $name(&self, $( $arg: $ty ),*) {
                if self.$hook(stringify!($name)) {
                    self.$inner.$name($( $arg ),*)
                }
            }
        )*
    };
}

/// Implements the host-side copies of [`super::Backend`] (`upload`, `download`, `fill_zero`,
/// `copy`) as the inner backend's: for wrappers whose views are plain host slices.
macro_rules! delegate_host_copies {
    ($inner:ident) => {
        fn upload(&self, dst: Self::Mut<'_>, src: &[Self::F]) {
            self.$inner.upload(dst, src)
        }
        fn download(&self, src: Self::Ref<'_>, dst: &mut [Self::F]) {
            self.$inner.download(src, dst)
        }
        fn fill_zero(&self, x: Self::Mut<'_>) {
            self.$inner.fill_zero(x)
        }
        fn copy(&self, dst: Self::Mut<'_>, src: Self::Ref<'_>) {
            self.$inner.copy(dst, src)
        }
    };
}

/// Implements every communication method of [`super::Backend`] as the inner backend's, for
/// wrappers that change only kernels or memory.
macro_rules! delegate_comm {
    ($inner:ident) => {
        fn single_group(&self) -> Box<Self::Group> {
            self.$inner.single_group()
        }
        fn group_rank(&self, group: &Self::Group) -> usize {
            self.$inner.group_rank(group)
        }
        fn group_size(&self, group: &Self::Group) -> usize {
            self.$inner.group_size(group)
        }
        fn all_reduce(
            &self,
            group: &Self::Group,
            buf: Self::Mut<'_>,
            op: $crate::dist::ReduceOp,
        ) -> anyhow::Result<()> {
            self.$inner.all_reduce(group, buf, op)
        }
        fn all_reduce_overlapped(
            &self,
            group: &Self::Group,
            buf: Self::Mut<'_>,
            op: $crate::dist::ReduceOp,
        ) -> anyhow::Result<()> {
            self.$inner.all_reduce_overlapped(group, buf, op)
        }
        fn wait_overlapped(&self, group: &Self::Group) -> anyhow::Result<()> {
            self.$inner.wait_overlapped(group)
        }
        fn reduce_scatter(
            &self,
            group: &Self::Group,
            input: Self::Ref<'_>,
            out: Self::Mut<'_>,
        ) -> anyhow::Result<()> {
            self.$inner.reduce_scatter(group, input, out)
        }
        fn all_gather(
            &self,
            group: &Self::Group,
            local: Self::Ref<'_>,
            out: Self::Mut<'_>,
        ) -> anyhow::Result<()> {
            self.$inner.all_gather(group, local, out)
        }
        fn send(&self, group: &Self::Group, to: usize, buf: Self::Ref<'_>) -> anyhow::Result<()> {
            self.$inner.send(group, to, buf)
        }
        fn p2p_group_start(&self, group: &Self::Group) {
            self.$inner.p2p_group_start(group)
        }
        fn p2p_group_end(&self, group: &Self::Group) -> anyhow::Result<()> {
            self.$inner.p2p_group_end(group)
        }
        fn recv(&self, group: &Self::Group, from: usize, buf: Self::Mut<'_>) -> anyhow::Result<()> {
            self.$inner.recv(group, from, buf)
        }
    };
}

pub(crate) use {delegate_comm, delegate_host_copies, delegate_kernels};
