//! GPT-2 forward and backward, written out by hand over flat buffers (llm.c's approach: no
//! autograd). One [`Gpt`] is one rank's share of the model: its pipeline stage's layers and its
//! tensor-parallel slice of each. Megatron's conjugate operators are the explicit calls to the
//! tensor-parallel group below: `g` (all-reduce in forward) after each row-parallel linear and
//! the vocab-parallel embedding, `f` (all-reduce in backward) before each column-parallel
//! linear, and the max/sum all-reduces of the vocab-parallel cross-entropy. With one rank they
//! cost nothing.
//!
//! Sequence parallelism (Megatron's, from "Reducing Activation Recomputation in Large
//! Transformer Models") splits what tensor parallelism leaves replicated, the LayerNorms, the
//! biases after the row-parallel linears and the residual adds, over the tokens: each
//! tensor-parallel rank holds 1/tp of the residual stream's rows. `g` becomes a reduce-scatter
//! onto the rank's rows and `f` an all-gather of every rank's rows (and their backwards the
//! other way round). Megatron cuts the sequence of its `[s, b, h]` tensors; sieve's are
//! `[b, s, h]`, so the cut is of the flattened `b·s` rows: rank r holds rows
//! `r·bs/tp .. (r+1)·bs/tp`. Every op in the sharded region works row by row, so any cut
//! gives the same numbers.

use anyhow::Result;

use super::config::GptConfig;
use super::layout::{Layout, ModelShard};
use crate::backend::{Backend, BackendExt, Float, Role};
use crate::dist::comm::ReduceOp;

/// How the forward pass rounds: plain, or as a bf16 GPU run would (bf16 weights and
/// activations, fp32 master weights, gradients and optimizer state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Precision {
    Full,
    Bf16,
}

/// Which activations backward recomputes instead of keeping them from forward (Megatron's
/// `--recompute-granularity`): none; `Selective`, the attention probabilities only (the
/// `heads × seq²` part, the largest and the cheapest to redo); `Full`, everything of a layer
/// but its output, redone from the layer's input one layer at a time during backward. Every
/// kind gives bitwise the same gradients: the recomputation runs the same kernels on the same
/// inputs.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Recompute {
    #[default]
    None,
    Selective,
    Full,
}

/// What one layer keeps from forward for backward.
struct LayerActs<B: Backend> {
    ln1: B::Buf,
    ln1_mean: B::Buf,
    ln1_rstd: B::Buf,
    qkv: B::Buf,
    att: B::Buf,
    atty: B::Buf,
    residual2: B::Buf,
    ln2: B::Buf,
    ln2_mean: B::Buf,
    ln2_rstd: B::Buf,
    fch: B::Buf,
    fch_gelu: B::Buf,
    residual3: B::Buf,
}

impl<B: Backend> LayerActs<B> {
    /// Frees what backward will recompute (the output stays: it is the next layer's input).
    fn release(&mut self, recompute: Recompute) {
        match recompute {
            Recompute::None => {}
            Recompute::Selective => self.att = B::Buf::default(),
            Recompute::Full => {
                let output = std::mem::take(&mut self.residual3);
                *self = LayerActs::default();
                self.residual3 = output;
            }
        }
    }

    /// Elements held (the activation memory of one layer of one micro-batch).
    fn elements(&self, be: &B) -> usize {
        [
            &self.ln1,
            &self.ln1_mean,
            &self.ln1_rstd,
            &self.qkv,
            &self.att,
            &self.atty,
            &self.residual2,
            &self.ln2,
            &self.ln2_mean,
            &self.ln2_rstd,
            &self.fch,
            &self.fch_gelu,
            &self.residual3,
        ]
        .iter()
        .map(|b| be.buf_len(b))
        .sum()
    }
}

impl<B: Backend> Default for LayerActs<B> {
    fn default() -> Self {
        LayerActs {
            ln1: Default::default(),
            ln1_mean: Default::default(),
            ln1_rstd: Default::default(),
            qkv: Default::default(),
            att: Default::default(),
            atty: Default::default(),
            residual2: Default::default(),
            ln2: Default::default(),
            ln2_mean: Default::default(),
            ln2_rstd: Default::default(),
            fch: Default::default(),
            fch_gelu: Default::default(),
            residual3: Default::default(),
        }
    }
}

/// The activations of one micro-batch on one stage, in the backend's buffers. The pipeline
/// schedule keeps several.
pub struct Activations<B: Backend> {
    pub batch: usize,
    pub seq: usize,
    /// The model chunk of the stage these are for (interleaving's virtual stages; else 0).
    pub chunk: usize,
    /// Token ids (first stage) and targets (last stage) of the micro-batch, on the host.
    pub tokens: Vec<u32>,
    pub targets: Vec<u32>,
    /// The stage's input: the embeddings on the first stage, the received hidden states
    /// elsewhere.
    pub input: B::Buf,
    layers: Vec<LayerActs<B>>,
    lnf: B::Buf,
    lnf_mean: B::Buf,
    lnf_rstd: B::Buf,
    logits: B::Buf,
    ce_max: B::Buf,
    ce_sum: B::Buf,
    /// exp(logit − max) of this rank's columns, kept so backward needs no second exp pass.
    ce_exp: B::Buf,
    ce_picked: B::Buf,
    /// Per-position losses of the last stage.
    pub losses: B::Buf,
}

impl<B: Backend> Activations<B> {
    pub fn new(batch: usize, seq: usize) -> Self {
        Activations {
            batch,
            seq,
            chunk: 0,
            tokens: Vec::new(),
            targets: Vec::new(),
            input: Default::default(),
            layers: Vec::new(),
            lnf: Default::default(),
            lnf_mean: Default::default(),
            lnf_rstd: Default::default(),
            logits: Default::default(),
            ce_max: Default::default(),
            ce_sum: Default::default(),
            ce_exp: Default::default(),
            ce_picked: Default::default(),
            losses: Default::default(),
        }
    }

    /// The stage's output hidden states (what the next stage receives).
    pub fn output(&self) -> &B::Buf {
        match self.layers.last() {
            Some(l) => &l.residual3,
            None => &self.input,
        }
    }

    /// Elements the layers keep from forward for backward (with recomputation, what is left
    /// of them): the activation memory of this micro-batch's transformer layers.
    pub fn layer_elements(&self, be: &B) -> usize {
        self.layers.iter().map(|l| l.elements(be)).sum()
    }

    /// The logits of this rank's vocabulary slice, `[batch·seq, vocab_local]`.
    pub fn logits(&self) -> &B::Buf {
        &self.logits
    }
}

pub struct Gpt<B: Backend> {
    pub cfg: GptConfig,
    pub shard: ModelShard,
    pub layout: Layout,
    pub precision: Precision,
    /// fp32 (or f64) master parameters and their gradients, same layout.
    pub params: B::Buf,
    pub grads: B::Buf,
    /// The weights forward and backward read: the master weights rounded to bf16 in Bf16
    /// precision, else unused (the master weights are read directly).
    compute: B::Buf,
    /// The logits' gradient, reused between backward passes (the largest buffer of a step;
    /// every element is written, so it is never cleared).
    dlogits: B::Buf,
    pub backend: B,
    /// What backward redoes instead of forward keeping it.
    pub recompute: Recompute,
    /// Sequence parallelism over the tensor-parallel group (a no-op with one TP rank).
    pub sequence_parallel: bool,
}

impl<B: Backend> Gpt<B> {
    pub fn new(
        cfg: GptConfig,
        shard: ModelShard,
        backend: B,
        precision: Precision,
    ) -> Result<Self> {
        let layout = Layout::new(&cfg, shard)?;
        let n = layout.len;
        Ok(Gpt {
            cfg,
            shard,
            layout,
            precision,
            params: backend.zeros(n, Role::Master),
            grads: backend.zeros(n, Role::Grad),
            compute: B::Buf::default(),
            dlogits: B::Buf::default(),
            backend,
            recompute: Recompute::None,
            sequence_parallel: false,
        })
    }

    /// Whether the residual stream is split over the tensor-parallel ranks.
    fn sp(&self) -> bool {
        self.sequence_parallel && self.shard.tp > 1
    }

    /// Rows of the residual stream this rank holds for `n` tokens: all of them, or its share
    /// under sequence parallelism. (What a pipeline stage sends and receives.)
    pub fn stream_rows(&self, n: usize) -> usize {
        match self.sp() {
            true => n / self.shard.tp,
            false => n,
        }
    }

    /// A layer's forward over this model's weights.
    fn layer_forward(&self) -> LayerForward<'_, B> {
        LayerForward {
            be: &self.backend,
            lay: &self.layout,
            w: self.weights(),
            precision: self.precision,
            c: self.cfg.hidden,
            cl: self.hidden_local(),
            hl: self.heads_local(),
            hs: self.cfg.head_size(),
            sp: self.sp(),
        }
    }

    /// Adds the position embeddings to `x`, whose first row is row `first` of the flattened
    /// `[batch, t]` tokens (a sequence-parallel rank's share starts mid-sequence): one call
    /// per run of rows up to a sequence's end, each reading the positions it starts at.
    fn add_positions_from(&self, x: &mut B::Buf, first: usize, t: usize) {
        let be = &self.backend;
        let c = self.cfg.hidden;
        let rows = be.buf_len(x) / c;
        let wpe = self.layout.get("wpe.weight").range();
        let mut r = 0;
        while r < rows {
            let p = (first + r) % t;
            let k = (t - p).min(rows - r);
            let positions = wpe.start + p * c..wpe.start + (p + k) * c;
            be.add_positions(
                be.view_mut(x, r * c..(r + k) * c),
                be.view(self.weights(), positions),
                k,
                c,
            );
            r += k;
        }
    }

    /// Refreshes the bf16 copy of the weights; call after every change to `params`.
    pub fn params_changed(&mut self) {
        if self.precision == Precision::Bf16 {
            let be = &self.backend;
            be.resize(&mut self.compute, self.layout.len, Role::Weights);
            be.copy(be.whole_mut(&mut self.compute), be.whole(&self.params));
            be.round_bf16(be.whole_mut(&mut self.compute));
        }
    }

    pub fn zero_grads(&mut self) {
        self.backend
            .fill_zero(self.backend.whole_mut(&mut self.grads));
    }

    fn weights(&self) -> &B::Buf {
        match self.precision {
            Precision::Full => &self.params,
            Precision::Bf16 => &self.compute,
        }
    }

    /// A parameter tensor of the weights forward reads.
    fn weight(&self, name: &str) -> B::Ref<'_> {
        self.backend
            .view(self.weights(), self.layout.get(name).range())
    }

    fn round(&self, x: &mut B::Buf) {
        if self.precision == Precision::Bf16 {
            self.backend.round_bf16(self.backend.whole_mut(x));
        }
    }

    /// `buf` resized to `n` elements of `role` (contents kept when the size matches: every
    /// forward kernel writes all of its output).
    fn sized<'a>(&self, buf: &'a mut B::Buf, n: usize, role: Role) -> B::Mut<'a> {
        self.backend.resize(buf, n, role);
        self.backend.whole_mut(buf)
    }

    fn heads_local(&self) -> usize {
        self.cfg.heads / self.shard.tp
    }

    fn hidden_local(&self) -> usize {
        self.cfg.hidden / self.shard.tp
    }

    /// Forward of one micro-batch through this stage's model chunk `acts.chunk`. The first
    /// virtual stage reads `acts.tokens`; others read `acts.input` (filled by the caller from
    /// the previous virtual stage). The last virtual stage reads `acts.targets` and returns the
    /// sum of the per-position losses.
    pub fn forward(&self, acts: &mut Activations<B>, tp: &B::Group) -> Result<Option<f64>> {
        let be = &self.backend;
        let lay = &self.layout;
        let (b, t) = (acts.batch, acts.seq);
        let n = b * t;
        let c = self.cfg.hidden;
        let act = Role::Activation;
        let stat = Role::Stat;
        assert!(
            t <= self.cfg.max_seq,
            "sequence longer than the model's positions"
        );

        let rows = self.stream_rows(n);
        let chunk = acts.chunk;
        if self.shard.embeds(chunk) {
            assert_eq!(acts.tokens.len(), n, "token count is not batch × seq");
            let wte = self.weight("wte.weight");
            if self.sp() {
                // g as a reduce-scatter: each rank sums its own rows of the partial rows.
                let mut partial = be.zeros(n * c, act);
                be.embed_tokens(
                    be.whole_mut(&mut partial),
                    &acts.tokens,
                    wte,
                    lay.vocab_start,
                    c,
                );
                let out = self.sized(&mut acts.input, rows * c, act);
                be.reduce_scatter(tp, be.whole(&partial), out)?;
                self.add_positions_from(&mut acts.input, self.shard.tp_rank * rows, t);
            } else {
                let out = self.sized(&mut acts.input, n * c, act);
                be.embed_tokens(out, &acts.tokens, wte, lay.vocab_start, c);
                // g: the vocab-parallel embedding's partial rows summed over the group.
                be.all_reduce(tp, be.whole_mut(&mut acts.input), ReduceOp::Sum)?;
                let wpe = self.weight("wpe.weight");
                be.add_positions(be.whole_mut(&mut acts.input), wpe, t, c);
            }
            self.round(&mut acts.input);
        }
        assert_eq!(
            be.buf_len(&acts.input),
            rows * c,
            "stage input is not the residual stream's batch × seq × hidden"
        );

        acts.layers
            .resize_with(lay.chunks[chunk].len(), LayerActs::default);
        let fwd = self.layer_forward();
        for (li, l) in lay.chunks[chunk].clone().enumerate() {
            let (done, rest) = acts.layers.split_at_mut(li);
            let x: &B::Buf = match done.last() {
                Some(prev) => &prev.residual3,
                None => &acts.input,
            };
            let a = &mut rest[0];
            fwd.layer(l, x, a, (b, t), tp)?;
            a.release(self.recompute);
        }

        if !self.shard.classifies(chunk) {
            return Ok(None);
        }
        assert_eq!(acts.targets.len(), n, "target count is not batch × seq");
        let x: &B::Buf = match acts.layers.last() {
            Some(l) => &l.residual3,
            None => &acts.input,
        };
        be.layernorm_forward(
            self.sized(&mut acts.lnf, rows * c, act),
            self.sized(&mut acts.lnf_mean, rows, stat),
            self.sized(&mut acts.lnf_rstd, rows, stat),
            be.whole(x),
            self.weight("ln_f.weight"),
            self.weight("ln_f.bias"),
            c,
        );
        self.round(&mut acts.lnf);
        if self.sp() {
            // f as an all-gather: the classifier reads every token's final LayerNorm.
            acts.lnf = gather(be, &acts.lnf, tp)?;
        }
        // Column-parallel classifier with the tied embedding table: this rank's vocab slice.
        let vl = lay.vocab_local;
        let valid = self.valid_columns();
        be.matmul_forward(
            self.sized(&mut acts.logits, n * vl, act),
            be.whole(&acts.lnf),
            self.weight("wte.weight"),
            None,
            c,
            vl,
        );
        self.round(&mut acts.logits);
        // Vocab-parallel cross-entropy: global max, then global sums; the full logits never
        // exist on one rank.
        be.row_max(
            self.sized(&mut acts.ce_max, n, stat),
            be.whole(&acts.logits),
            vl,
            valid,
        );
        be.all_reduce(tp, be.whole_mut(&mut acts.ce_max), ReduceOp::Max)?;
        be.row_sum_exp(
            self.sized(&mut acts.ce_sum, n, stat),
            self.sized(&mut acts.ce_exp, n * vl, stat),
            be.whole(&acts.logits),
            be.whole(&acts.ce_max),
            vl,
            valid,
        );
        be.all_reduce(tp, be.whole_mut(&mut acts.ce_sum), ReduceOp::Sum)?;
        be.target_logit(
            self.sized(&mut acts.ce_picked, n, stat),
            be.whole(&acts.logits),
            &acts.targets,
            lay.vocab_start,
            vl,
        );
        be.all_reduce(tp, be.whole_mut(&mut acts.ce_picked), ReduceOp::Sum)?;
        be.cross_entropy_loss(
            self.sized(&mut acts.losses, n, stat),
            be.whole(&acts.ce_sum),
            be.whole(&acts.ce_max),
            be.whole(&acts.ce_picked),
        );
        let losses = be.to_host(be.whole(&acts.losses), n);
        Ok(Some(losses.iter().map(|l| l.to_f64()).sum()))
    }

    /// Columns of this rank's logits that are real vocabulary (the padding rows of the
    /// embedding table never take part in the softmax).
    fn valid_columns(&self) -> usize {
        let lay = &self.layout;
        self.cfg
            .vocab_size
            .saturating_sub(lay.vocab_start)
            .min(lay.vocab_local)
    }

    /// Backward of one micro-batch through model chunk `acts.chunk`, accumulating into
    /// `grads`. On the last virtual stage the loss gradient is `loss_scale` per position (1 /
    /// the global batch's token count); elsewhere `dout` is the gradient of the chunk's output
    /// received from the next virtual stage. Returns the gradient of the chunk's input (to send
    /// to the previous virtual stage), or an empty buffer on the first. `last_backward` says
    /// this is the step's last backward of the chunk (its gradients, and those of the chunks
    /// after it in the buffer, are then final); `ready`, on that backward, hears as each
    /// layer's gradients become final.
    pub fn backward(
        &mut self,
        acts: &Activations<B>,
        loss_scale: B::F,
        dout: Option<B::Buf>,
        tp: &B::Group,
        last_backward: bool,
        mut ready: Option<&mut dyn GradsReady<B>>,
    ) -> Result<B::Buf> {
        let (b, t) = (acts.batch, acts.seq);
        let n = b * t;
        let sp = self.sp();
        let rows = self.stream_rows(n);
        // Under sequence parallelism a LayerNorm's gradients cover this rank's rows only; the
        // step's last backward sums them over the group (Megatron's all-reduce of the
        // sequence-parallel parameters' gradients) before anyone reads them.
        let sum_layernorms = sp && last_backward;
        let c = self.cfg.hidden;
        let cl = self.hidden_local();
        let hl = self.heads_local();
        let hs = self.cfg.head_size();
        let chunk = acts.chunk;
        let last = self.shard.classifies(chunk);
        let first = self.shard.embeds(chunk);
        let valid = self.valid_columns();
        // Borrow the fields apart: weights read, gradients written.
        let fwd_dims = (self.cfg.hidden, cl, hl, hs);
        let Gpt {
            backend: be,
            layout: lay,
            grads,
            precision,
            params,
            compute,
            dlogits,
            recompute,
            ..
        } = self;
        let w: &B::Buf = match precision {
            Precision::Full => params,
            Precision::Bf16 => compute,
        };
        let fwd = LayerForward {
            be,
            lay,
            w,
            precision: *precision,
            c: fwd_dims.0,
            cl: fwd_dims.1,
            hl: fwd_dims.2,
            hs: fwd_dims.3,
            sp,
        };
        // The one layer's activations that backward redoes at a time.
        let mut redo = LayerActs::default();
        let act = Role::Activation;

        // Gradient of the stage output (the residual stream after the last layer).
        let mut dres = if last {
            let mut dres = be.zeros(rows * c, act);
            let vl = lay.vocab_local;
            let dloss = be.uploaded(&vec![loss_scale; n], Role::Stat);
            be.resize(dlogits, n * vl, act);
            be.cross_entropy_backward(
                be.whole_mut(dlogits),
                be.whole(&acts.ce_exp),
                be.whole(&acts.ce_sum),
                &acts.targets,
                be.whole(&dloss),
                lay.vocab_start,
                vl,
                valid,
            );
            let mut back = Backward {
                be,
                lay,
                w,
                grads,
                n,
                sp,
            };
            // Column-parallel classifier (tied embedding, no bias): f on its input.
            let dlnf = back.column_parallel("wte", false, dlogits, &acts.lnf, c, vl, tp)?;
            let x: &B::Buf = match acts.layers.last() {
                Some(l) => &l.residual3,
                None => &acts.input,
            };
            back.layernorm("ln_f", &mut dres, &dlnf, x, &acts.lnf_mean, &acts.lnf_rstd);
            if sum_layernorms {
                back.sum_over_group(&["ln_f.weight", "ln_f.bias"], tp)?;
            }
            dres
        } else {
            let d = dout.expect("a middle stage needs the gradient of its output");
            assert_eq!(be.buf_len(&d), rows * c);
            d
        };

        for (li, l) in lay.chunks[chunk].clone().enumerate().rev() {
            let x: &B::Buf = if li == 0 {
                &acts.input
            } else {
                &acts.layers[li - 1].residual3
            };
            let kept = &acts.layers[li];
            let (a, att) = match *recompute {
                Recompute::None => (kept, &kept.att),
                Recompute::Selective => {
                    fwd.attention(&mut redo.atty, &mut redo.att, &kept.qkv, (b, t));
                    (kept, &redo.att)
                }
                Recompute::Full => {
                    fwd.layer(l, x, &mut redo, (b, t), tp)?;
                    (&redo, &redo.att)
                }
            };
            let mut back = Backward {
                be,
                lay,
                w,
                grads,
                n,
                sp,
            };
            let h = |what: &str| format!("h.{l}.{what}");
            // residual3 = residual2 + proj(gelu(fc(ln2(residual2)))): dres flows to both.
            let dgelu = back.row_parallel(&h("mlp.c_proj"), &dres, &a.fch_gelu, 4 * cl, c, tp)?;
            let mut dfch = be.zeros(n * 4 * cl, act);
            be.gelu_backward(be.whole_mut(&mut dfch), be.whole(&a.fch), be.whole(&dgelu));
            // Sequence parallelism keeps a LayerNorm's output for its own rows only and
            // gathers the rest again here, as Megatron does.
            let ln2 = fwd.gathered(&a.ln2, tp)?;
            let ln2 = ln2.as_ref().unwrap_or(&a.ln2);
            let dln2 = back.column_parallel(&h("mlp.c_fc"), true, &dfch, ln2, c, 4 * cl, tp)?;
            back.layernorm(
                &h("ln_2"),
                &mut dres,
                &dln2,
                &a.residual2,
                &a.ln2_mean,
                &a.ln2_rstd,
            );
            // residual2 = x + proj(attention(qkv(ln1(x)))).
            let datty = back.row_parallel(&h("attn.c_proj"), &dres, &a.atty, cl, c, tp)?;
            let mut dqkv = be.zeros(n * 3 * cl, act);
            be.attention_backward(
                be.whole_mut(&mut dqkv),
                be.whole(&datty),
                be.whole(&a.qkv),
                be.whole(att),
                b,
                t,
                hl,
                hs,
            );
            let ln1 = fwd.gathered(&a.ln1, tp)?;
            let ln1 = ln1.as_ref().unwrap_or(&a.ln1);
            let dln1 = back.column_parallel(&h("attn.c_attn"), true, &dqkv, ln1, c, 3 * cl, tp)?;
            back.layernorm(&h("ln_1"), &mut dres, &dln1, x, &a.ln1_mean, &a.ln1_rstd);
            if sum_layernorms {
                let names = ["ln_1.weight", "ln_1.bias", "ln_2.weight", "ln_2.bias"].map(h);
                back.sum_over_group(&names, tp)?;
            }
            // Layers are laid out in order and backward goes from the last: everything from
            // this layer's first tensor to the end of the buffer is final now.
            if let Some(r) = ready.as_deref_mut() {
                r.ready_from(be, grads, lay.layer(l, "ln_1.weight").start)?;
            }
        }

        if first {
            // The embedding's reduce-scatter has the all-gather as its backward: every token's
            // gradient, as without sequence parallelism.
            let dres = match sp {
                true => gather(be, &dres, tp)?,
                false => std::mem::take(&mut dres),
            };
            let r = lay.get("wpe.weight").range();
            be.add_positions_backward(be.view_mut(grads, r), be.whole(&dres), t, c);
            let r = lay.get("wte.weight").range();
            be.embed_tokens_backward(
                be.view_mut(grads, r),
                be.whole(&dres),
                &acts.tokens,
                lay.vocab_start,
                c,
            );
        }
        if let Some(r) = ready {
            // Chunk 0 ends the buffer's gradients (the embeddings before it included); a later
            // chunk only those from its first layer on.
            let from = match chunk {
                0 => 0,
                _ => lay.layer(lay.chunks[chunk].start, "ln_1.weight").start,
            };
            r.ready_from(be, grads, from)?;
        }
        Ok(if first { B::Buf::default() } else { dres })
    }
}

/// One layer's forward, apart from the rest of the model so that backward can redo it (the
/// weights it reads and the gradients backward writes are different buffers).
struct LayerForward<'a, B: Backend> {
    be: &'a B,
    lay: &'a Layout,
    /// The weights forward reads (the bf16 copy in bf16 precision).
    w: &'a B::Buf,
    precision: Precision,
    c: usize,
    cl: usize,
    hl: usize,
    hs: usize,
    /// Sequence parallelism: the residual stream holds this rank's rows only.
    sp: bool,
}

/// Every tensor-parallel rank's rows of `shard`, in rank order (sequence parallelism's
/// all-gather).
fn gather<B: Backend>(be: &B, shard: &B::Buf, tp: &B::Group) -> Result<B::Buf> {
    let len = be.buf_len(shard);
    let mut full = be.zeros(len * be.group_size(tp), Role::Activation);
    be.all_gather(tp, be.whole(shard), be.whole_mut(&mut full))?;
    Ok(full)
}

impl<B: Backend> LayerForward<'_, B> {
    /// Every token's rows of a LayerNorm's output, gathered under sequence parallelism for
    /// the column-parallel linear that reads it; None without (the output is all of them).
    fn gathered(&self, ln: &B::Buf, tp: &B::Group) -> Result<Option<B::Buf>> {
        match self.sp {
            true => gather(self.be, ln, tp).map(Some),
            false => Ok(None),
        }
    }

    fn weight(&self, l: usize, what: &str) -> B::Ref<'_> {
        self.be.view(self.w, self.lay.layer(l, what))
    }

    fn round(&self, x: &mut B::Buf) {
        if self.precision == Precision::Bf16 {
            self.be.round_bf16(self.be.whole_mut(x));
        }
    }

    fn sized<'b>(&self, buf: &'b mut B::Buf, n: usize, role: Role) -> B::Mut<'b> {
        self.be.resize(buf, n, role);
        self.be.whole_mut(buf)
    }

    /// A row-parallel linear of layer `l`'s `what` (`attn.c_proj`, `mlp.c_proj`): partial
    /// sums, g (the all-reduce; under sequence parallelism the reduce-scatter onto this rank's
    /// rows), then the bias once.
    fn row_parallel(
        &self,
        l: usize,
        what: &str,
        inp: &B::Buf,
        (rows, in_dim): (usize, usize),
        tp: &B::Group,
    ) -> Result<B::Buf> {
        let (be, c) = (self.be, self.c);
        let mut out = be.zeros(rows * c, Role::Activation);
        be.matmul_forward(
            be.whole_mut(&mut out),
            be.whole(inp),
            self.weight(l, &format!("{what}.weight")),
            None,
            in_dim,
            c,
        );
        if self.sp {
            let mut mine = be.zeros(rows * c / be.group_size(tp), Role::Activation);
            be.reduce_scatter(tp, be.whole(&out), be.whole_mut(&mut mine))?;
            out = mine;
        } else {
            be.all_reduce(tp, be.whole_mut(&mut out), ReduceOp::Sum)?;
        }
        be.bias_add(
            be.whole_mut(&mut out),
            self.weight(l, &format!("{what}.bias")),
        );
        self.round(&mut out);
        Ok(out)
    }

    /// The attention of `qkv` into `atty` (the output) and `att` (the probabilities).
    fn attention(&self, atty: &mut B::Buf, att: &mut B::Buf, qkv: &B::Buf, (b, t): (usize, usize)) {
        let be = self.be;
        be.attention_forward(
            self.sized(atty, b * t * self.cl, Role::Activation),
            self.sized(att, b * self.hl * t * t, Role::Activation),
            be.whole(qkv),
            b,
            t,
            self.hl,
            self.hs,
        );
        self.round(atty);
    }

    /// Layer `l` on input `x` (`b × t` rows), every activation into `a`.
    fn layer(
        &self,
        l: usize,
        x: &B::Buf,
        a: &mut LayerActs<B>,
        (b, t): (usize, usize),
        tp: &B::Group,
    ) -> Result<()> {
        let be = self.be;
        let (n, c, cl) = (b * t, self.c, self.cl);
        // The residual stream's rows on this rank (a share of the n tokens under sequence
        // parallelism): the LayerNorms, biases and residual adds run on these.
        let rows = be.buf_len(x) / c;
        let (act, stat) = (Role::Activation, Role::Stat);
        let w = |what: &str| self.weight(l, what);
        be.layernorm_forward(
            self.sized(&mut a.ln1, rows * c, act),
            self.sized(&mut a.ln1_mean, rows, stat),
            self.sized(&mut a.ln1_rstd, rows, stat),
            be.whole(x),
            w("ln_1.weight"),
            w("ln_1.bias"),
            c,
        );
        self.round(&mut a.ln1);
        // Column-parallel QKV (f: identity in forward, the all-gather under sequence
        // parallelism), heads local to this rank.
        let ln1 = self.gathered(&a.ln1, tp)?;
        be.matmul_forward(
            self.sized(&mut a.qkv, n * 3 * cl, act),
            be.whole(ln1.as_ref().unwrap_or(&a.ln1)),
            w("attn.c_attn.weight"),
            Some(w("attn.c_attn.bias")),
            c,
            3 * cl,
        );
        self.round(&mut a.qkv);
        self.attention(&mut a.atty, &mut a.att, &a.qkv, (b, t));
        // Row-parallel output projection: partial sums, g, then the bias once.
        let proj = self.row_parallel(l, "attn.c_proj", &a.atty, (n, cl), tp)?;
        be.residual_forward(
            self.sized(&mut a.residual2, rows * c, act),
            be.whole(x),
            be.whole(&proj),
        );
        self.round(&mut a.residual2);

        be.layernorm_forward(
            self.sized(&mut a.ln2, rows * c, act),
            self.sized(&mut a.ln2_mean, rows, stat),
            self.sized(&mut a.ln2_rstd, rows, stat),
            be.whole(&a.residual2),
            w("ln_2.weight"),
            w("ln_2.bias"),
            c,
        );
        self.round(&mut a.ln2);
        let ln2 = self.gathered(&a.ln2, tp)?;
        be.matmul_forward(
            self.sized(&mut a.fch, n * 4 * cl, act),
            be.whole(ln2.as_ref().unwrap_or(&a.ln2)),
            w("mlp.c_fc.weight"),
            Some(w("mlp.c_fc.bias")),
            c,
            4 * cl,
        );
        self.round(&mut a.fch);
        be.gelu_forward(
            self.sized(&mut a.fch_gelu, n * 4 * cl, act),
            be.whole(&a.fch),
        );
        self.round(&mut a.fch_gelu);
        let proj = self.row_parallel(l, "mlp.c_proj", &a.fch_gelu, (n, 4 * cl), tp)?;
        be.residual_forward(
            self.sized(&mut a.residual3, rows * c, act),
            be.whole(&a.residual2),
            be.whole(&proj),
        );
        self.round(&mut a.residual3);
        Ok(())
    }
}

/// Told during a step's last backward that every gradient from `offset` to the end of the
/// buffer is final, so that data-parallel reduction can start while backward goes on.
pub trait GradsReady<B: Backend> {
    fn ready_from(&mut self, backend: &B, grads: &mut B::Buf, offset: usize) -> Result<()>;
}

/// The gradient side of one backward pass: the weights it reads and the gradients it adds
/// into, for the three shapes a layer is made of. `name` is a tensor's name without
/// `.weight` / `.bias`; `n` rows flow through.
struct Backward<'a, B: Backend> {
    be: &'a B,
    lay: &'a Layout,
    w: &'a B::Buf,
    grads: &'a mut B::Buf,
    n: usize,
    /// Sequence parallelism (see [`LayerForward`]).
    sp: bool,
}

impl<B: Backend> Backward<'_, B> {
    fn range(&self, name: &str, part: &str) -> std::ops::Range<usize> {
        self.lay.get(&format!("{name}.{part}")).range()
    }

    /// A row-parallel linear (its forward partial sums went through g, whose backward is the
    /// identity, or under sequence parallelism the all-gather of every rank's rows of `dout`):
    /// bias and weight gradients; returns the gradient of this rank's input slice. The bias
    /// gradient sums every token's rows either way, so it needs no sum over the group.
    fn row_parallel(
        &mut self,
        name: &str,
        dout: &B::Buf,
        inp: &B::Buf,
        in_dim: usize,
        out_dim: usize,
        tp: &B::Group,
    ) -> Result<B::Buf> {
        let be = self.be;
        let gathered = match self.sp {
            true => Some(gather(be, dout, tp)?),
            false => None,
        };
        let dout = gathered.as_ref().unwrap_or(dout);
        let (rw, rb) = (self.range(name, "weight"), self.range(name, "bias"));
        be.bias_backward(be.view_mut(self.grads, rb), be.whole(dout));
        let mut dinp = be.zeros(self.n * in_dim, Role::Activation);
        be.matmul_backward(
            be.whole_mut(&mut dinp),
            be.view_mut(self.grads, rw.clone()),
            None,
            be.whole(dout),
            be.whole(inp),
            be.view(self.w, rw),
            in_dim,
            out_dim,
        );
        Ok(dinp)
    }

    /// A column-parallel linear (with its bias when `bias`): weight and bias gradients, and the
    /// input gradient summed over the tensor-parallel group (f's backward: an all-reduce, or
    /// under sequence parallelism a reduce-scatter onto this rank's rows).
    #[allow(clippy::too_many_arguments)]
    fn column_parallel(
        &mut self,
        name: &str,
        bias: bool,
        dout: &B::Buf,
        inp: &B::Buf,
        in_dim: usize,
        out_dim: usize,
        tp: &B::Group,
    ) -> Result<B::Buf> {
        let be = self.be;
        let rw = self.range(name, "weight");
        let mut dinp = be.zeros(self.n * in_dim, Role::Activation);
        let (gw, gb) = if bias {
            let (gw, gb) = be.view_mut2(self.grads, rw.clone(), self.range(name, "bias"));
            (gw, Some(gb))
        } else {
            (be.view_mut(self.grads, rw.clone()), None)
        };
        be.matmul_backward(
            be.whole_mut(&mut dinp),
            gw,
            gb,
            be.whole(dout),
            be.whole(inp),
            be.view(self.w, rw),
            in_dim,
            out_dim,
        );
        if self.sp {
            let mut mine = be.zeros(self.n * in_dim / be.group_size(tp), Role::Activation);
            be.reduce_scatter(tp, be.whole(&dinp), be.whole_mut(&mut mine))?;
            return Ok(mine);
        }
        be.all_reduce(tp, be.whole_mut(&mut dinp), ReduceOp::Sum)?;
        Ok(dinp)
    }

    /// Sums the gradients of `names` over the tensor-parallel group, in rank order, so every
    /// rank holds the same sum (sequence parallelism's LayerNorms).
    fn sum_over_group<S: AsRef<str>>(&mut self, names: &[S], tp: &B::Group) -> Result<()> {
        let be = self.be;
        for name in names {
            let r = self.lay.get(name.as_ref()).range();
            be.all_reduce(tp, be.view_mut(self.grads, r), ReduceOp::Sum)?;
        }
        Ok(())
    }

    /// A LayerNorm: gain and bias gradients, and its input gradient added into `dres` (the
    /// residual stream, which also carries the gradient around the block).
    fn layernorm(
        &mut self,
        name: &str,
        dres: &mut B::Buf,
        dout: &B::Buf,
        inp: &B::Buf,
        mean: &B::Buf,
        rstd: &B::Buf,
    ) {
        let be = self.be;
        let (rw, rb) = (self.range(name, "weight"), self.range(name, "bias"));
        let c = rw.len();
        let weight = be.view(self.w, rw.clone());
        let (gw, gb) = be.view_mut2(self.grads, rw, rb);
        be.layernorm_backward(
            be.whole_mut(dres),
            gw,
            gb,
            be.whole(dout),
            be.whole(inp),
            weight,
            be.whole(mean),
            be.whole(rstd),
            c,
        );
    }
}
