//! How each CUDA kernel is launched for a given step shape: grid, block and shared memory,
//! computed on the host (and testable without a GPU). The shapes are those one rank sees:
//! its tensor-parallel slice of the heads, the MLP and the vocabulary.

use super::kernels::SOURCES;

/// A kernel launch: grid and block dimensions and dynamic shared memory in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launch {
    pub grid: (u32, u32, u32),
    pub block: (u32, u32, u32),
    pub shared_bytes: u32,
}

/// The limits of the GPUs the backend targets that launches must respect (sm_80, the smaller
/// of A100 and H100).
pub mod limits {
    pub const MAX_THREADS_PER_BLOCK: u32 = 1024;
    pub const MAX_GRID_X: u64 = (1 << 31) - 1;
    pub const MAX_GRID_YZ: u32 = 65_535;
    /// Dynamic shared memory without opting in to the larger carve-out.
    pub const DEFAULT_SHARED_BYTES: u32 = 48 * 1024;
}

/// The sizes a rank's kernels see in one micro-step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepShape {
    pub batch: usize,
    pub seq: usize,
    /// Hidden size (LayerNorm and residual width; not sliced).
    pub hidden: usize,
    /// This rank's heads and their size.
    pub heads: usize,
    pub head_size: usize,
    /// This rank's columns of the MLP's inner layer (4 × hidden / tp).
    pub mlp: usize,
    /// This rank's columns of the padded vocabulary.
    pub vocab_cols: usize,
    /// This rank's parameters (its optimizer shard with ZeRO-1).
    pub params: usize,
}

impl StepShape {
    pub fn rows(&self) -> usize {
        self.batch * self.seq
    }
}

const BLOCK: u32 = 256;
/// The chunk of the column reductions (`ROWS_PER_CHUNK` in common.cuh).
pub const ROWS_PER_CHUNK: usize = 16;
/// Entries per block of the gradient-norm partial sums (adamw.cu).
pub const NORM_CHUNK: usize = 4096;

fn blocks(n: usize, per: usize) -> u32 {
    u32::try_from(n.div_ceil(per)).unwrap_or(u32::MAX)
}

/// One thread per element, 256 per block.
pub fn flat(n: usize) -> Launch {
    Launch {
        grid: (blocks(n, BLOCK as usize), 1, 1),
        block: (BLOCK, 1, 1),
        shared_bytes: 0,
    }
}

/// One block of 256 threads per row.
pub fn per_row(rows: usize) -> Launch {
    Launch {
        grid: (blocks(rows, 1), 1, 1),
        block: (BLOCK, 1, 1),
        shared_bytes: 0,
    }
}

/// One warp per row, 8 rows per block.
pub fn warp_per_row(rows: usize) -> Launch {
    Launch {
        grid: (blocks(rows, BLOCK as usize / 32), 1, 1),
        block: (BLOCK, 1, 1),
        shared_bytes: 0,
    }
}

/// LayerNorm backward: one block of 256 threads per chunk of `ROWS_PER_CHUNK` rows.
pub fn layernorm_backward(rows: usize) -> Launch {
    Launch {
        grid: (blocks(rows, ROWS_PER_CHUNK), 1, 1),
        block: (BLOCK, 1, 1),
        shared_bytes: 0,
    }
}

/// The embedding's gradient: one block per group of rows sharing a token and per 256 columns.
pub fn by_token(groups: usize, c: usize) -> Launch {
    Launch {
        grid: (
            u32::try_from(groups.max(1)).unwrap_or(u32::MAX),
            blocks(c, BLOCK as usize),
            1,
        ),
        block: (BLOCK, 1, 1),
        shared_bytes: 0,
    }
}

/// One block of 256 threads.
pub fn one_block() -> Launch {
    Launch {
        grid: (1, 1, 1),
        block: (BLOCK, 1, 1),
        shared_bytes: 0,
    }
}

/// Column sums of a `[rows, width]` matrix: one thread per column and chunk of rows.
pub fn column_sums(rows: usize, width: usize) -> Launch {
    Launch {
        grid: (
            blocks(width, BLOCK as usize),
            u32::try_from(rows.div_ceil(ROWS_PER_CHUNK)).unwrap_or(u32::MAX),
            1,
        ),
        block: (BLOCK, 1, 1),
        shared_bytes: 0,
    }
}

/// The gradient norm's partial sums: one block per `NORM_CHUNK` entries.
pub fn norm_partial(n: usize) -> Launch {
    Launch {
        grid: (blocks(n, NORM_CHUNK), 1, 1),
        block: (BLOCK, 1, 1),
        shared_bytes: 0,
    }
}

/// The launches of every kernel for this shape, at the largest size each is called with in a
/// step (e.g. `gelu_forward` over the MLP activations, `column_sums` over the widest bias).
pub fn launches(s: &StepShape) -> Vec<(&'static str, Launch)> {
    let n = s.rows();
    let c = s.hidden;
    let att_rows = s.batch * s.heads * s.seq;
    let attn_elems = n * s.heads * s.head_size;
    let widest = c.max(s.mlp).max(3 * s.heads * s.head_size);
    vec![
        ("embed_tokens", per_row(n)),
        // At most one group of rows per token of the micro-batch.
        ("embed_tokens_backward", by_token(n, c)),
        ("add_positions", flat(n * c)),
        ("add_positions_backward", flat(s.seq * c)),
        ("layernorm_forward", warp_per_row(n)),
        ("layernorm_backward", layernorm_backward(n)),
        ("reduce_partials", flat(widest)),
        ("column_sums", column_sums(n, widest)),
        ("gelu_forward", flat(n * s.mlp)),
        ("gelu_backward", flat(n * s.mlp)),
        ("residual_forward", flat(n * c)),
        ("accumulate", flat(n * c.max(s.mlp))),
        ("bias_add", flat(n * c)),
        ("cast_to_bf16", flat(s.params)),
        ("cast_to_f32", flat(s.params)),
        ("attention_permute", flat(attn_elems)),
        ("attention_permute_backward", flat(attn_elems)),
        ("attention_unpermute", flat(attn_elems)),
        ("attention_unpermute_backward", flat(attn_elems)),
        ("softmax_causal_forward", warp_per_row(att_rows)),
        ("softmax_causal_backward", warp_per_row(att_rows)),
        ("row_max", per_row(n)),
        ("row_sum_exp", per_row(n)),
        ("target_logit", flat(n)),
        ("cross_entropy_backward", per_row(n)),
        ("cross_entropy_loss", flat(n)),
        ("adamw_step", flat(s.params)),
        ("scale", flat(s.params)),
        ("grad_norm_partial", norm_partial(s.params)),
        ("grad_norm_finish", one_block()),
    ]
}

/// What is wrong with a launch on the target GPUs, if anything.
pub fn check(name: &str, l: &Launch) -> Result<(), String> {
    let threads = l.block.0 * l.block.1 * l.block.2;
    if threads == 0 || threads > limits::MAX_THREADS_PER_BLOCK {
        return Err(format!("{name}: {threads} threads per block"));
    }
    if threads > 1 && !threads.is_multiple_of(32) {
        return Err(format!("{name}: {threads} threads is not whole warps"));
    }
    if l.grid.0 == 0 || u64::from(l.grid.0) > limits::MAX_GRID_X {
        return Err(format!("{name}: grid.x = {}", l.grid.0));
    }
    if l.grid.1 == 0
        || l.grid.1 > limits::MAX_GRID_YZ
        || l.grid.2 == 0
        || l.grid.2 > limits::MAX_GRID_YZ
    {
        return Err(format!("{name}: grid = {:?}", l.grid));
    }
    if l.shared_bytes > limits::DEFAULT_SHARED_BYTES {
        return Err(format!("{name}: {} bytes of shared memory", l.shared_bytes));
    }
    Ok(())
}

/// Every kernel the sources define, for the coverage test.
pub fn all_kernels() -> Vec<&'static str> {
    SOURCES
        .iter()
        .flat_map(|(_, src)| super::kernels::kernels_in(src))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::GptConfig;

    /// A rank's shape for a preset at tensor-parallel size `tp` (Megatron's slicing: heads,
    /// the MLP and the vocabulary split `tp` ways).
    fn shape(preset: &str, tp: usize, batch: usize) -> StepShape {
        let cfg = GptConfig::preset(preset, 50_257).unwrap();
        StepShape {
            batch,
            seq: cfg.max_seq,
            hidden: cfg.hidden,
            heads: cfg.heads / tp,
            head_size: cfg.head_size(),
            mlp: 4 * cfg.hidden / tp,
            vocab_cols: cfg.padded_vocab() / tp,
            params: (cfg.parameters() as usize).div_ceil(tp),
        }
    }

    #[test]
    fn every_kernel_has_a_launch() {
        let s = shape("gpt2-124m", 1, 8);
        let named: Vec<&str> = launches(&s).iter().map(|(n, _)| *n).collect();
        for k in all_kernels() {
            assert!(named.contains(&k), "kernel {k} has no launch configuration");
        }
        for k in &named {
            assert!(
                all_kernels().contains(k),
                "a launch for kernel {k}, which no source defines"
            );
        }
    }

    #[test]
    fn launches_fit_sm80_for_the_named_shapes() {
        // Micro-batches as trained: GPT-2 124M at 16 × 1024 on one GPU, 1.3B at 8 × 2048,
        // MT-NLG 530B at 1 × 2048 per micro-batch with 8-way tensor slicing (per rank, one
        // pipeline stage's share of the parameters is smaller still).
        for (preset, tp, batch) in [
            ("gpt2-124m", 1, 16),
            ("gpt-1.3b", 1, 8),
            ("mtnlg-530b", 8, 1),
        ] {
            let s = shape(preset, tp, batch);
            for (name, l) in launches(&s) {
                check(name, &l).unwrap_or_else(|e| panic!("{preset} tp={tp}: {e}"));
            }
        }
    }

    #[test]
    fn launches_cover_their_data() {
        // Flat launches cover every element once; per-row ones every row.
        let s = shape("gpt-1.3b", 1, 8);
        let l: std::collections::HashMap<_, _> = launches(&s).into_iter().collect();
        let covered = |k: &str| (l[k].grid.0 as usize) * (l[k].block.0 as usize);
        assert!(covered("gelu_forward") >= s.rows() * s.mlp);
        assert!(covered("gelu_forward") < s.rows() * s.mlp + 256);
        assert_eq!(l["row_max"].grid.0 as usize, s.rows());
        assert!(l["softmax_causal_forward"].grid.0 as usize * 8 >= s.batch * s.heads * s.seq);
        assert_eq!(
            l["column_sums"].grid.1 as usize,
            s.rows().div_ceil(ROWS_PER_CHUNK)
        );
        assert_eq!(
            l["grad_norm_partial"].grid.0 as usize,
            s.params.div_ceil(NORM_CHUNK)
        );
        // The embedding's gradient: a block per token group (at most one per row) and 256
        // columns; LayerNorm's backward: 256 threads per chunk of rows.
        assert_eq!(l["embed_tokens_backward"].grid.0 as usize, s.rows());
        assert!(l["embed_tokens_backward"].grid.1 as usize * 256 >= s.hidden);
        assert_eq!(l["layernorm_backward"].block.0, 256);
        assert_eq!(l["grad_norm_finish"].block.0, 256);
        // A launch over the limits is refused.
        let bad = Launch {
            grid: (1, 70_000, 1),
            block: (256, 1, 1),
            shared_bytes: 0,
        };
        assert!(check("x", &bad).is_err());
        assert!(check(
            "x",
            &Launch {
                block: (100, 1, 1),
                ..bad
            }
        )
        .is_err());
    }
}
