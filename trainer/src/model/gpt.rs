//! GPT-2 forward and backward, written out by hand over flat buffers (llm.c's approach: no
//! autograd). One [`Gpt`] is one rank's share of the model: its pipeline stage's layers and its
//! tensor-parallel slice of each. Megatron's conjugate operators are the explicit calls to the
//! tensor-parallel group below: `g` (all-reduce in forward) after each row-parallel linear and
//! the vocab-parallel embedding, `f` (all-reduce in backward) before each column-parallel
//! linear, and the max/sum all-reduces of the vocab-parallel cross-entropy. With one rank they
//! cost nothing.

use anyhow::Result;

use super::config::GptConfig;
use super::layout::{Layout, ModelShard};
use crate::backend::{Backend, Float};
use crate::dist::comm::{Comm, ReduceOp};

/// How the forward pass rounds: plain, or as a bf16 GPU run would (bf16 weights and
/// activations, fp32 master weights, gradients and optimizer state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Precision {
    Full,
    Bf16,
}

/// What one layer keeps from forward for backward.
#[derive(Default)]
struct LayerActs<F> {
    ln1: Vec<F>,
    ln1_mean: Vec<F>,
    ln1_rstd: Vec<F>,
    qkv: Vec<F>,
    att: Vec<F>,
    atty: Vec<F>,
    residual2: Vec<F>,
    ln2: Vec<F>,
    ln2_mean: Vec<F>,
    ln2_rstd: Vec<F>,
    fch: Vec<F>,
    fch_gelu: Vec<F>,
    residual3: Vec<F>,
}

/// The activations of one micro-batch on one stage. The pipeline schedule keeps several.
pub struct Activations<F> {
    pub batch: usize,
    pub seq: usize,
    /// Token ids (first stage) and targets (last stage) of the micro-batch.
    pub tokens: Vec<u32>,
    pub targets: Vec<u32>,
    /// The stage's input: the embeddings on the first stage, the received hidden states
    /// elsewhere.
    pub input: Vec<F>,
    layers: Vec<LayerActs<F>>,
    lnf: Vec<F>,
    lnf_mean: Vec<F>,
    lnf_rstd: Vec<F>,
    logits: Vec<F>,
    ce_max: Vec<F>,
    ce_sum: Vec<F>,
    /// exp(logit − max) of this rank's columns, kept so backward needs no second exp pass.
    ce_exp: Vec<F>,
    /// Per-position losses of the last stage.
    pub losses: Vec<F>,
}

impl<F: Float> Activations<F> {
    pub fn new(batch: usize, seq: usize) -> Self {
        Activations {
            batch,
            seq,
            tokens: Vec::new(),
            targets: Vec::new(),
            input: Vec::new(),
            layers: Vec::new(),
            lnf: Vec::new(),
            lnf_mean: Vec::new(),
            lnf_rstd: Vec::new(),
            logits: Vec::new(),
            ce_max: Vec::new(),
            ce_sum: Vec::new(),
            ce_exp: Vec::new(),
            losses: Vec::new(),
        }
    }

    /// The stage's output hidden states (what the next stage receives).
    pub fn output(&self) -> &[F] {
        match self.layers.last() {
            Some(l) => &l.residual3,
            None => &self.input,
        }
    }

    /// The logits of this rank's vocabulary slice, `[batch·seq, vocab_local]`.
    pub fn logits(&self) -> &[F] {
        &self.logits
    }
}

/// Makes `v` hold `n` elements. Old contents are not cleared: every forward kernel writes
/// all of its output, so reused activation buffers cost nothing to prepare.
fn sized<F: Float>(v: &mut Vec<F>, n: usize) {
    v.resize(n, F::ZERO);
    v.truncate(n);
}

pub struct Gpt<B: Backend> {
    pub cfg: GptConfig,
    pub shard: ModelShard,
    pub layout: Layout,
    pub precision: Precision,
    /// fp32 (or f64) master parameters and their gradients, same layout.
    pub params: Vec<B::F>,
    pub grads: Vec<B::F>,
    /// The weights forward and backward read: the master weights rounded to bf16 in Bf16
    /// precision, else unused (the master weights are read directly).
    compute: Vec<B::F>,
    /// The logits' gradient, reused between backward passes (the largest buffer of a step;
    /// every element is written, so it is never cleared).
    dlogits: Vec<B::F>,
    pub backend: B,
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
            params: vec![B::F::ZERO; n],
            grads: vec![B::F::ZERO; n],
            compute: Vec::new(),
            dlogits: Vec::new(),
            backend,
        })
    }

    /// Refreshes the bf16 copy of the weights; call after every change to `params`.
    pub fn params_changed(&mut self) {
        if self.precision == Precision::Bf16 {
            self.compute.clone_from(&self.params);
            self.backend.round_bf16(&mut self.compute);
        }
    }

    pub fn zero_grads(&mut self) {
        self.grads.fill(B::F::ZERO);
    }

    fn weights(&self) -> &[B::F] {
        match self.precision {
            Precision::Full => &self.params,
            Precision::Bf16 => &self.compute,
        }
    }

    fn round(&self, x: &mut [B::F]) {
        if self.precision == Precision::Bf16 {
            self.backend.round_bf16(x);
        }
    }

    fn heads_local(&self) -> usize {
        self.cfg.heads / self.shard.tp
    }

    fn hidden_local(&self) -> usize {
        self.cfg.hidden / self.shard.tp
    }

    /// A row-parallel linear `name` on this rank's input slice: partial sums, g (the
    /// all-reduce), then the bias once.
    fn row_parallel(
        &self,
        name: &str,
        inp: &[B::F],
        in_dim: usize,
        tp: &dyn Comm<B::F>,
    ) -> Result<Vec<B::F>> {
        let (w, lay, c) = (self.weights(), &self.layout, self.cfg.hidden);
        let mut out = vec![B::F::ZERO; inp.len() / in_dim * c];
        let weight = &w[lay.get(&format!("{name}.weight")).range()];
        self.backend
            .matmul_forward(&mut out, inp, weight, None, in_dim, c);
        tp.all_reduce(&mut out, ReduceOp::Sum)?;
        self.backend
            .bias_add(&mut out, &w[lay.get(&format!("{name}.bias")).range()]);
        self.round(&mut out);
        Ok(out)
    }

    /// Forward of one micro-batch through this stage. The first stage reads `acts.tokens`;
    /// other stages read `acts.input` (filled by the caller from the previous stage). The last
    /// stage reads `acts.targets` and returns the sum of the per-position losses.
    pub fn forward(
        &self,
        acts: &mut Activations<B::F>,
        tp: &dyn Comm<B::F>,
    ) -> Result<Option<f64>> {
        let be = &self.backend;
        let w = self.weights();
        let lay = &self.layout;
        let (b, t) = (acts.batch, acts.seq);
        let n = b * t;
        let c = self.cfg.hidden;
        let cl = self.hidden_local();
        let hl = self.heads_local();
        let hs = self.cfg.head_size();
        assert!(
            t <= self.cfg.max_seq,
            "sequence longer than the model's positions"
        );

        if self.shard.first_stage() {
            assert_eq!(acts.tokens.len(), n, "token count is not batch × seq");
            sized(&mut acts.input, n * c);
            let wte = &w[lay.get("wte.weight").range()];
            be.embed_tokens(&mut acts.input, &acts.tokens, wte, lay.vocab_start, c);
            tp.all_reduce(&mut acts.input, ReduceOp::Sum)?; // g: vocab-parallel embedding
            be.add_positions(&mut acts.input, &w[lay.get("wpe.weight").range()], t, c);
            self.round(&mut acts.input);
        }
        assert_eq!(
            acts.input.len(),
            n * c,
            "stage input is not batch × seq × hidden"
        );

        acts.layers
            .resize_with(lay.layers.len(), LayerActs::default);
        for (li, l) in lay.layers.clone().enumerate() {
            let (done, rest) = acts.layers.split_at_mut(li);
            let x: &[B::F] = match done.last() {
                Some(prev) => &prev.residual3,
                None => &acts.input,
            };
            let a = &mut rest[0];
            sized(&mut a.ln1, n * c);
            sized(&mut a.ln1_mean, n);
            sized(&mut a.ln1_rstd, n);
            be.layernorm_forward(
                &mut a.ln1,
                &mut a.ln1_mean,
                &mut a.ln1_rstd,
                x,
                &w[lay.layer(l, "ln_1.weight")],
                &w[lay.layer(l, "ln_1.bias")],
                c,
            );
            self.round(&mut a.ln1);
            // Column-parallel QKV (f: identity in forward), heads local to this rank.
            sized(&mut a.qkv, n * 3 * cl);
            be.matmul_forward(
                &mut a.qkv,
                &a.ln1,
                &w[lay.layer(l, "attn.c_attn.weight")],
                Some(&w[lay.layer(l, "attn.c_attn.bias")]),
                c,
                3 * cl,
            );
            self.round(&mut a.qkv);
            sized(&mut a.atty, n * cl);
            sized(&mut a.att, b * hl * t * t);
            be.attention_forward(&mut a.atty, &mut a.att, &a.qkv, b, t, hl, hs);
            self.round(&mut a.atty);
            // Row-parallel output projection: partial sums, g, then the bias once.
            let proj = self.row_parallel(&format!("h.{l}.attn.c_proj"), &a.atty, cl, tp)?;
            sized(&mut a.residual2, n * c);
            be.residual_forward(&mut a.residual2, x, &proj);
            self.round(&mut a.residual2);

            sized(&mut a.ln2, n * c);
            sized(&mut a.ln2_mean, n);
            sized(&mut a.ln2_rstd, n);
            be.layernorm_forward(
                &mut a.ln2,
                &mut a.ln2_mean,
                &mut a.ln2_rstd,
                &a.residual2,
                &w[lay.layer(l, "ln_2.weight")],
                &w[lay.layer(l, "ln_2.bias")],
                c,
            );
            self.round(&mut a.ln2);
            sized(&mut a.fch, n * 4 * cl);
            be.matmul_forward(
                &mut a.fch,
                &a.ln2,
                &w[lay.layer(l, "mlp.c_fc.weight")],
                Some(&w[lay.layer(l, "mlp.c_fc.bias")]),
                c,
                4 * cl,
            );
            self.round(&mut a.fch);
            sized(&mut a.fch_gelu, n * 4 * cl);
            be.gelu_forward(&mut a.fch_gelu, &a.fch);
            self.round(&mut a.fch_gelu);
            let proj = self.row_parallel(&format!("h.{l}.mlp.c_proj"), &a.fch_gelu, 4 * cl, tp)?;
            sized(&mut a.residual3, n * c);
            be.residual_forward(&mut a.residual3, &a.residual2, &proj);
            self.round(&mut a.residual3);
        }

        if !self.shard.last_stage() {
            return Ok(None);
        }
        assert_eq!(acts.targets.len(), n, "target count is not batch × seq");
        let x: &[B::F] = match acts.layers.last() {
            Some(l) => &l.residual3,
            None => &acts.input,
        };
        sized(&mut acts.lnf, n * c);
        sized(&mut acts.lnf_mean, n);
        sized(&mut acts.lnf_rstd, n);
        be.layernorm_forward(
            &mut acts.lnf,
            &mut acts.lnf_mean,
            &mut acts.lnf_rstd,
            x,
            &w[lay.get("ln_f.weight").range()],
            &w[lay.get("ln_f.bias").range()],
            c,
        );
        self.round(&mut acts.lnf);
        // Column-parallel classifier with the tied embedding table: this rank's vocab slice.
        let vl = lay.vocab_local;
        let valid = self.valid_columns();
        sized(&mut acts.logits, n * vl);
        be.matmul_forward(
            &mut acts.logits,
            &acts.lnf,
            &w[lay.get("wte.weight").range()],
            None,
            c,
            vl,
        );
        self.round(&mut acts.logits);
        // Vocab-parallel cross-entropy: global max, then global sums; the full logits never
        // exist on one rank.
        sized(&mut acts.ce_max, n);
        be.row_max(&mut acts.ce_max, &acts.logits, vl, valid);
        tp.all_reduce(&mut acts.ce_max, ReduceOp::Max)?;
        sized(&mut acts.ce_sum, n);
        sized(&mut acts.ce_exp, n * vl);
        be.row_sum_exp(
            &mut acts.ce_sum,
            &mut acts.ce_exp,
            &acts.logits,
            &acts.ce_max,
            vl,
            valid,
        );
        tp.all_reduce(&mut acts.ce_sum, ReduceOp::Sum)?;
        let mut picked = vec![B::F::ZERO; n];
        be.target_logit(
            &mut picked,
            &acts.logits,
            &acts.targets,
            lay.vocab_start,
            vl,
        );
        tp.all_reduce(&mut picked, ReduceOp::Sum)?;
        sized(&mut acts.losses, n);
        let mut total = 0.0;
        for (i, &p) in picked.iter().enumerate() {
            let loss = acts.ce_sum[i].ln() + acts.ce_max[i] - p;
            acts.losses[i] = loss;
            total += loss.to_f64();
        }
        Ok(Some(total))
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

    /// Backward of one micro-batch, accumulating into `grads`. On the last stage the loss
    /// gradient is `loss_scale` per position (1 / the global batch's token count); elsewhere
    /// `dout` is the gradient of the stage's output received from the next stage. Returns the
    /// gradient of the stage's input (to send to the previous stage), or an empty vector on
    /// the first stage.
    pub fn backward(
        &mut self,
        acts: &Activations<B::F>,
        loss_scale: B::F,
        dout: Option<&[B::F]>,
        tp: &dyn Comm<B::F>,
    ) -> Result<Vec<B::F>> {
        let (b, t) = (acts.batch, acts.seq);
        let n = b * t;
        let c = self.cfg.hidden;
        let cl = self.hidden_local();
        let hl = self.heads_local();
        let hs = self.cfg.head_size();
        let last = self.shard.last_stage();
        let first = self.shard.first_stage();
        let valid = self.valid_columns();
        // Borrow the fields apart: weights read, gradients written.
        let Gpt {
            backend: be,
            layout: lay,
            grads,
            precision,
            params,
            compute,
            dlogits,
            ..
        } = self;
        let w: &[B::F] = match precision {
            Precision::Full => params,
            Precision::Bf16 => compute,
        };

        // Gradient of the stage output (the residual stream after the last layer).
        let mut dres = vec![B::F::ZERO; n * c];
        if last {
            let vl = lay.vocab_local;
            let dloss = vec![loss_scale; n];
            dlogits.resize(n * vl, B::F::ZERO);
            be.cross_entropy_backward(
                dlogits,
                &acts.ce_exp,
                &acts.ce_sum,
                &acts.targets,
                &dloss,
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
            };
            // Column-parallel classifier (tied embedding, no bias): f on its input.
            let dlnf = back.column_parallel("wte", false, dlogits, &acts.lnf, c, vl, tp)?;
            let x: &[B::F] = match acts.layers.last() {
                Some(l) => &l.residual3,
                None => &acts.input,
            };
            back.layernorm("ln_f", &mut dres, &dlnf, x, &acts.lnf_mean, &acts.lnf_rstd);
        } else {
            let d = dout.expect("a middle stage needs the gradient of its output");
            assert_eq!(d.len(), n * c);
            dres.copy_from_slice(d);
        }

        for (li, l) in lay.layers.clone().enumerate().rev() {
            let a = &acts.layers[li];
            let x: &[B::F] = if li == 0 {
                &acts.input
            } else {
                &acts.layers[li - 1].residual3
            };
            let mut back = Backward {
                be,
                lay,
                w,
                grads,
                n,
            };
            let h = |what: &str| format!("h.{l}.{what}");
            // residual3 = residual2 + proj(gelu(fc(ln2(residual2)))): dres flows to both.
            let dgelu = back.row_parallel(&h("mlp.c_proj"), &dres, &a.fch_gelu, 4 * cl, c);
            let mut dfch = vec![B::F::ZERO; n * 4 * cl];
            be.gelu_backward(&mut dfch, &a.fch, &dgelu);
            let dln2 = back.column_parallel(&h("mlp.c_fc"), true, &dfch, &a.ln2, c, 4 * cl, tp)?;
            back.layernorm(
                &h("ln_2"),
                &mut dres,
                &dln2,
                &a.residual2,
                &a.ln2_mean,
                &a.ln2_rstd,
            );
            // residual2 = x + proj(attention(qkv(ln1(x)))).
            let datty = back.row_parallel(&h("attn.c_proj"), &dres, &a.atty, cl, c);
            let mut dqkv = vec![B::F::ZERO; n * 3 * cl];
            be.attention_backward(&mut dqkv, &datty, &a.qkv, &a.att, b, t, hl, hs);
            let dln1 =
                back.column_parallel(&h("attn.c_attn"), true, &dqkv, &a.ln1, c, 3 * cl, tp)?;
            back.layernorm(&h("ln_1"), &mut dres, &dln1, x, &a.ln1_mean, &a.ln1_rstd);
        }

        if first {
            let r = lay.get("wpe.weight").range();
            be.add_positions_backward(&mut grads[r], &dres, t, c);
            let r = lay.get("wte.weight").range();
            be.embed_tokens_backward(&mut grads[r], &dres, &acts.tokens, lay.vocab_start, c);
            return Ok(Vec::new());
        }
        Ok(dres)
    }
}

/// The gradient side of one backward pass: the weights it reads and the gradients it adds
/// into, for the three shapes a layer is made of. `name` is a tensor's name without
/// `.weight` / `.bias`; `n` rows flow through.
struct Backward<'a, B: Backend> {
    be: &'a B,
    lay: &'a Layout,
    w: &'a [B::F],
    grads: &'a mut [B::F],
    n: usize,
}

impl<B: Backend> Backward<'_, B> {
    fn range(&self, name: &str, part: &str) -> std::ops::Range<usize> {
        self.lay.get(&format!("{name}.{part}")).range()
    }

    /// A row-parallel linear (its forward partial sums went through g, whose backward is the
    /// identity): bias and weight gradients; returns the gradient of this rank's input slice.
    fn row_parallel(
        &mut self,
        name: &str,
        dout: &[B::F],
        inp: &[B::F],
        in_dim: usize,
        out_dim: usize,
    ) -> Vec<B::F> {
        let (rw, rb) = (self.range(name, "weight"), self.range(name, "bias"));
        self.be.bias_backward(&mut self.grads[rb], dout);
        let mut dinp = vec![B::F::ZERO; self.n * in_dim];
        self.be.matmul_backward(
            &mut dinp,
            &mut self.grads[rw.clone()],
            None,
            dout,
            inp,
            &self.w[rw],
            in_dim,
            out_dim,
        );
        dinp
    }

    /// A column-parallel linear (with its bias when `bias`): weight and bias gradients, and the
    /// input gradient summed over the tensor-parallel group (f's backward).
    #[allow(clippy::too_many_arguments)]
    fn column_parallel(
        &mut self,
        name: &str,
        bias: bool,
        dout: &[B::F],
        inp: &[B::F],
        in_dim: usize,
        out_dim: usize,
        tp: &dyn Comm<B::F>,
    ) -> Result<Vec<B::F>> {
        let rw = self.range(name, "weight");
        let mut dinp = vec![B::F::ZERO; self.n * in_dim];
        let (gw, gb) = if bias {
            let (gw, gb) = two_ranges(self.grads, rw.clone(), self.range(name, "bias"));
            (gw, Some(gb))
        } else {
            (&mut self.grads[rw.clone()], None)
        };
        self.be
            .matmul_backward(&mut dinp, gw, gb, dout, inp, &self.w[rw], in_dim, out_dim);
        tp.all_reduce(&mut dinp, ReduceOp::Sum)?;
        Ok(dinp)
    }

    /// A LayerNorm: gain and bias gradients, and its input gradient added into `dres` (the
    /// residual stream, which also carries the gradient around the block).
    fn layernorm(
        &mut self,
        name: &str,
        dres: &mut [B::F],
        dout: &[B::F],
        inp: &[B::F],
        mean: &[B::F],
        rstd: &[B::F],
    ) {
        let (rw, rb) = (self.range(name, "weight"), self.range(name, "bias"));
        let weight = &self.w[rw.clone()];
        let c = weight.len();
        let (gw, gb) = two_ranges(self.grads, rw, rb);
        self.be
            .layernorm_backward(dres, gw, gb, dout, inp, weight, mean, rstd, c);
    }
}

/// Two disjoint mutable ranges of one buffer (a weight's and its bias's gradients).
fn two_ranges<F>(
    buf: &mut [F],
    a: std::ops::Range<usize>,
    b: std::ops::Range<usize>,
) -> (&mut [F], &mut [F]) {
    assert!(a.end <= b.start, "ranges out of order");
    let (lo, hi) = buf.split_at_mut(b.start);
    (&mut lo[a], &mut hi[..b.end - b.start])
}
