//! The shape of a GPT: named presets and the arithmetic that depends only on the shape
//! (parameter count, FLOPs per token).

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// Vocabularies are padded to a multiple of this (Megatron's `make-vocab-size-divisible-by`,
/// llm.c's 50,304), so that every tensor-parallel size up to 128 divides the padded vocabulary
/// and a checkpoint's shapes do not depend on the parallel layout it was trained with.
pub const VOCAB_PAD: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GptConfig {
    pub layers: usize,
    pub hidden: usize,
    pub heads: usize,
    /// Positions the model has (the learned position table's rows).
    pub max_seq: usize,
    /// The tokenizer's vocabulary: ids the data can hold.
    pub vocab_size: usize,
}

impl GptConfig {
    /// `tiny`, `gpt2-124m`, `gpt2-350m`, `gpt-1.3b`, `mtnlg-530b`.
    pub fn preset(name: &str, vocab_size: usize) -> Result<GptConfig> {
        let (layers, hidden, heads, max_seq) = match name {
            "tiny" => (2, 64, 4, 128),
            "small" => (4, 128, 4, 256),
            "gpt2-124m" => (12, 768, 12, 1024),
            "gpt2-350m" => (24, 1024, 16, 1024),
            // GPT-3 XL / Megatron's 1.3B: 24 layers of 2048.
            "gpt-1.3b" => (24, 2048, 16, 2048),
            // MT-NLG 530B (Smith et al. 2022, table 2): 105 layers, 20480 hidden, 128 heads.
            "mtnlg-530b" => (105, 20480, 128, 2048),
            other => bail!(
                "unknown model preset {other:?} (tiny, small, gpt2-124m, gpt2-350m, gpt-1.3b, mtnlg-530b)"
            ),
        };
        Ok(GptConfig {
            layers,
            hidden,
            heads,
            max_seq,
            vocab_size,
        })
    }

    pub fn padded_vocab(&self) -> usize {
        self.vocab_size.div_ceil(VOCAB_PAD) * VOCAB_PAD
    }

    pub fn head_size(&self) -> usize {
        self.hidden / self.heads
    }

    pub fn validate(&self) -> Result<()> {
        if self.layers == 0 || self.hidden == 0 || self.heads == 0 || self.max_seq == 0 {
            bail!("model shape has a zero dimension: {self:?}");
        }
        if !self.hidden.is_multiple_of(self.heads) {
            bail!(
                "hidden size {} is not a multiple of the head count {}",
                self.hidden,
                self.heads
            );
        }
        if self.vocab_size == 0 {
            bail!("vocabulary size is zero");
        }
        Ok(())
    }

    /// Parameters of the unsharded model (tied embeddings counted once, padding included).
    pub fn parameters(&self) -> u64 {
        let (c, l) = (self.hidden as u64, self.layers as u64);
        let per_layer = 2 * c
            + (3 * c * c + 3 * c)
            + (c * c + c)
            + 2 * c
            + (4 * c * c + 4 * c)
            + (4 * c * c + c);
        self.padded_vocab() as u64 * c + self.max_seq as u64 * c + l * per_layer + 2 * c
    }

    /// Training FLOPs per token at sequence length `seq`, as Megatron-LM's
    /// `num_floating_point_operations` counts them for this model (multi-head attention, a
    /// 4·h MLP without gating): every GEMM three times (forward, and the two backward products)
    /// at 2 FLOPs a multiply-add, so per layer 6·(4h² QKV and output projections + h·s the
    /// causal half of QKᵀ and of the weighted values + 8h² MLP), plus 6·h·V the logits over
    /// the padded vocabulary: `6h·(L·(12h + s) + V)`. Embedding lookups, LayerNorms, biases and
    /// softmax are not counted.
    pub fn flops_per_token(&self, seq: usize) -> f64 {
        let (h, l, s, v) = (
            self.hidden as f64,
            self.layers as f64,
            seq as f64,
            self.padded_vocab() as f64,
        );
        6.0 * h * (l * (12.0 * h + s) + v)
    }
}
