//! Where every tensor of one rank lives in its flat parameter buffer, and how that slice
//! relates to the full tensor (Megatron's tensor-parallel splits). The gradient buffer has the
//! same layout. Tensors are named as in Hugging Face's GPT-2 (without the `transformer.`
//! prefix), with linear weights stored `[out, in]`.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::config::GptConfig;

/// Position of one rank in the tensor × pipeline grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelShard {
    pub tp: usize,
    pub tp_rank: usize,
    pub pp: usize,
    pub pp_rank: usize,
    /// Model chunks this stage holds: Megatron's virtual pipeline stages, 1 without
    /// interleaving. Chunk c of stage s runs virtual stage `c·pp + s` of `chunks·pp`.
    #[serde(default = "one_chunk")]
    pub chunks: usize,
}

fn one_chunk() -> usize {
    1
}

impl ModelShard {
    pub const SINGLE: ModelShard = ModelShard {
        tp: 1,
        tp_rank: 0,
        pp: 1,
        pp_rank: 0,
        chunks: 1,
    };

    pub fn first_stage(&self) -> bool {
        self.pp_rank == 0
    }

    pub fn last_stage(&self) -> bool {
        self.pp_rank + 1 == self.pp
    }

    /// Whether model chunk `chunk` of this stage embeds the tokens (the first virtual stage).
    pub fn embeds(&self, chunk: usize) -> bool {
        self.first_stage() && chunk == 0
    }

    /// Whether model chunk `chunk` of this stage computes the loss (the last virtual stage).
    pub fn classifies(&self, chunk: usize) -> bool {
        self.last_stage() && chunk + 1 == self.chunks
    }
}

/// How a rank's tensor is cut out of the full tensor over the tensor-parallel group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Split {
    /// Every TP rank holds the whole tensor (LayerNorms, row-parallel biases, positions).
    Replicated,
    /// Rows (the output dimension of a linear, the vocabulary of the embedding) are cut. With
    /// `parts` > 1 the rows are `parts` stacked blocks (QKV: q, k, v), each cut the same way, so
    /// every rank holds the q, k and v of its own heads.
    Rows { parts: usize },
    /// Columns (the input dimension of a row-parallel linear) are cut.
    Cols,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Init {
    Zeros,
    Ones,
    /// Normal with the configured std.
    Normal,
    /// Normal with std / √(2·layers): GPT-2's scaling of the projections into the residual.
    ResidualNormal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorSpec {
    pub name: String,
    /// Rows and columns of this rank's slice (vectors are one row).
    pub local: [usize; 2],
    /// Rows and columns of the full tensor.
    pub full: [usize; 2],
    pub split: Split,
    pub init: Init,
    /// AdamW decays matrices, not biases and LayerNorm parameters.
    pub decay: bool,
    pub offset: usize,
    /// The layer the tensor belongs to (None for embeddings and the final LayerNorm).
    pub layer: Option<usize>,
}

impl TensorSpec {
    pub fn len(&self) -> usize {
        self.local[0] * self.local[1]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len()
    }

    /// The full-tensor flat index of local element `(r, c)` on TP rank `tp_rank` of `tp`.
    pub fn full_index(&self, r: usize, c: usize, tp_rank: usize, tp: usize) -> usize {
        let (fr, fc) = match self.split {
            Split::Replicated => (r, c),
            Split::Rows { parts } => {
                let part_rows = self.full[0] / parts;
                let local_part = part_rows / tp;
                let (p, within) = (r / local_part, r % local_part);
                (p * part_rows + tp_rank * local_part + within, c)
            }
            Split::Cols => (r, tp_rank * self.local[1] + c),
        };
        fr * self.full[1] + fc
    }
}

/// The tensors of one rank, in buffer order: embeddings, then layer by layer, then the final
/// LayerNorm. Layers are contiguous, so gradient buckets can follow backward's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    pub tensors: Vec<TensorSpec>,
    pub len: usize,
    /// The layers of each model chunk this pipeline stage runs, in chunk order (one chunk
    /// without interleaving).
    pub chunks: Vec<std::ops::Range<usize>>,
    pub vocab_start: usize,
    pub vocab_local: usize,
}

impl Layout {
    pub fn new(cfg: &GptConfig, shard: ModelShard) -> Result<Layout> {
        cfg.validate()?;
        let ModelShard {
            tp, tp_rank, pp, ..
        } = shard;
        let chunks = shard.chunks;
        if tp == 0 || pp == 0 || chunks == 0 || tp_rank >= tp || shard.pp_rank >= pp {
            bail!("bad model shard {shard:?}");
        }
        if !cfg.heads.is_multiple_of(tp) {
            bail!(
                "tensor-parallel size {tp} does not divide the head count {}",
                cfg.heads
            );
        }
        if !cfg.padded_vocab().is_multiple_of(tp) {
            bail!("tensor-parallel size {tp} does not divide the padded vocabulary");
        }
        if !cfg.layers.is_multiple_of(pp * chunks) {
            bail!(
                "pipeline size {pp} × {chunks} virtual stages does not divide the layer count {}",
                cfg.layers
            );
        }
        let c = cfg.hidden;
        let vp = cfg.padded_vocab();
        let per_stage = cfg.layers / (pp * chunks);
        let chunk_layers: Vec<std::ops::Range<usize>> = (0..chunks)
            .map(|c| {
                let vs = c * pp + shard.pp_rank;
                vs * per_stage..(vs + 1) * per_stage
            })
            .collect();
        let mut tensors = Vec::new();
        let mut offset = 0;
        let mut add = |name: String,
                       full: [usize; 2],
                       split: Split,
                       init: Init,
                       decay: bool,
                       layer: Option<usize>| {
            let local = match split {
                Split::Replicated => full,
                Split::Rows { .. } => [full[0] / tp, full[1]],
                Split::Cols => [full[0], full[1] / tp],
            };
            tensors.push(TensorSpec {
                name,
                local,
                full,
                split,
                init,
                decay,
                offset,
                layer,
            });
            offset += local[0] * local[1];
        };
        let vocab = Split::Rows { parts: 1 };
        // The first stage embeds; the last stage classifies with the same (tied) table. With
        // more than one stage each holds its own copy, kept equal by summing their gradients.
        if shard.first_stage() || shard.last_stage() {
            add(
                "wte.weight".into(),
                [vp, c],
                vocab,
                Init::Normal,
                true,
                None,
            );
        }
        if shard.first_stage() {
            add(
                "wpe.weight".into(),
                [cfg.max_seq, c],
                Split::Replicated,
                Init::Normal,
                true,
                None,
            );
        }
        for l in chunk_layers.iter().flat_map(|r| r.clone()) {
            let h = |s: &str| format!("h.{l}.{s}");
            let rep = Split::Replicated;
            let l = Some(l);
            add(h("ln_1.weight"), [1, c], rep, Init::Ones, false, l);
            add(h("ln_1.bias"), [1, c], rep, Init::Zeros, false, l);
            let qkv = Split::Rows { parts: 3 };
            add(
                h("attn.c_attn.weight"),
                [3 * c, c],
                qkv,
                Init::Normal,
                true,
                l,
            );
            add(
                h("attn.c_attn.bias"),
                [3 * c, 1],
                qkv,
                Init::Zeros,
                false,
                l,
            );
            let row = Split::Cols;
            add(
                h("attn.c_proj.weight"),
                [c, c],
                row,
                Init::ResidualNormal,
                true,
                l,
            );
            add(h("attn.c_proj.bias"), [1, c], rep, Init::Zeros, false, l);
            add(h("ln_2.weight"), [1, c], rep, Init::Ones, false, l);
            add(h("ln_2.bias"), [1, c], rep, Init::Zeros, false, l);
            let col = Split::Rows { parts: 1 };
            add(h("mlp.c_fc.weight"), [4 * c, c], col, Init::Normal, true, l);
            add(h("mlp.c_fc.bias"), [4 * c, 1], col, Init::Zeros, false, l);
            add(
                h("mlp.c_proj.weight"),
                [c, 4 * c],
                row,
                Init::ResidualNormal,
                true,
                l,
            );
            add(h("mlp.c_proj.bias"), [1, c], rep, Init::Zeros, false, l);
        }
        if shard.last_stage() {
            add(
                "ln_f.weight".into(),
                [1, c],
                Split::Replicated,
                Init::Ones,
                false,
                None,
            );
            add(
                "ln_f.bias".into(),
                [1, c],
                Split::Replicated,
                Init::Zeros,
                false,
                None,
            );
        }
        Ok(Layout {
            tensors,
            len: offset,
            chunks: chunk_layers,
            vocab_start: tp_rank * vp / tp,
            vocab_local: vp / tp,
        })
    }

    /// One value per parameter: 1 where `on(tensor)` holds for its tensor, else 0 (the
    /// optimizer's decay mask, the gradient norm's counted mask).
    pub fn mask<F: crate::backend::Float>(&self, on: impl Fn(&TensorSpec) -> bool) -> Vec<F> {
        let mut mask = vec![F::ZERO; self.len];
        for t in &self.tensors {
            if on(t) {
                mask[t.range()].fill(F::ONE);
            }
        }
        mask
    }

    pub fn get(&self, name: &str) -> &TensorSpec {
        self.tensors
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no tensor {name} on this rank"))
    }

    pub fn find(&self, name: &str) -> Option<&TensorSpec> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The buffer range of layer `l`'s tensor `what` (e.g. `ln_1.weight`).
    pub fn layer(&self, l: usize, what: &str) -> std::ops::Range<usize> {
        self.get(&format!("h.{l}.{what}")).range()
    }
}
