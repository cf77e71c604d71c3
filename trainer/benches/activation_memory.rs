//! Activation memory per micro-batch with and without recomputation, measured (the elements
//! the layers keep between forward and backward) and set beside the formulas: this
//! implementation's per-layer count (f32 elements) and Megatron's (Korthikanti et al. 2022,
//! bytes in 16-bit training, dropout masks included), as the ratio of each kind to no
//! recomputation. One micro-batch of GPT-2 124M's shape (12 layers, 768 hidden, 12 heads);
//! `SIEVE_BENCH_SEQ` (default 512) and `SIEVE_BENCH_BATCH` (default 1) change it. The backward
//! of each kind is run too, and its gradient compared with the plain run's. A second table
//! runs two tensor-parallel ranks as threads, without and with sequence parallelism, and sets
//! each rank's count beside the formulas for tensor parallelism t: `4·sbh + 4·sb` replicated
//! plus `(12·sbh + a·s²·b)/t` split, all of it split under sequence parallelism (Megatron:
//! `sbh·(10 + 24/t + 5as/(ht))` and `sbh/t·(34 + 5as/h)` bytes).
//!
//!     cargo bench -p sieve-trainer --bench activation_memory

mod common;

use std::time::Instant;

use sieve_trainer::backend::Cpu;
use sieve_trainer::dist::{Solo, ThreadGroup};
use sieve_trainer::model::{GptConfig, ModelShard, Recompute};

/// One micro-batch of `tokens` (rows of s + 1) through a model of `shard` on `tp`'s group.
fn kept_by_rank(
    cfg: &GptConfig,
    tokens: &[u32],
    (b, s): (usize, usize),
    shard: ModelShard,
    sequence_parallel: bool,
    tp: &(dyn sieve_trainer::dist::Comm<f32> + 'static),
) -> f64 {
    let mut model = common::initialised_model(cfg, shard, Cpu::<f32>::new());
    model.sequence_parallel = sequence_parallel;
    let mut acts = common::micro_batch(tokens, (b, s));
    model.forward(&mut acts, tp).unwrap();
    let kept = acts.layer_elements(&model.backend) as f64;
    model.zero_grads();
    model
        .backward(&acts, 1.0 / (b * s) as f32, None, tp, true, None)
        .unwrap();
    kept
}

/// Two tensor-parallel ranks as threads, without and with sequence parallelism: the kept
/// elements of each rank against the formulas.
fn tensor_parallel(cfg: &GptConfig, tokens: &[u32], (b, s): (usize, usize)) {
    let t = 2usize;
    let (l, h, a) = (cfg.layers as f64, cfg.hidden as f64, cfg.heads as f64);
    let (sf, bf, tf) = (s as f64, b as f64, t as f64);
    println!();
    println!("tensor parallelism {t}, per rank (no recomputation)");
    println!(
        "{:<20} {:>14} {:>14} {:>10} {:>12}",
        "", "kept elements", "this formula", "ratio", "Megatron"
    );
    let megatron_plain = sf * bf * h * (10.0 + 24.0 / tf + 5.0 * a * sf / (h * tf));
    let mut plain = 0.0;
    for sequence_parallel in [false, true] {
        let group = ThreadGroup::new(t);
        let kept: Vec<f64> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..t)
                .map(|r| {
                    let comm = group.comm(r);
                    let shard = ModelShard {
                        tp: t,
                        tp_rank: r,
                        pp: 1,
                        pp_rank: 0,
                        chunks: 1,
                    };
                    sc.spawn(move || {
                        kept_by_rank(cfg, tokens, (b, s), shard, sequence_parallel, &comm)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let split = 12.0 * sf * bf * h + a * sf * sf * bf;
        let replicated = 4.0 * sf * bf * h + 4.0 * sf * bf;
        let (formula, megatron) = match sequence_parallel {
            false => (l * (replicated + split / tf), megatron_plain),
            true => (
                l * (replicated + split) / tf,
                sf * bf * h / tf * (34.0 + 5.0 * a * sf / h),
            ),
        };
        for k in &kept {
            assert_eq!(
                *k, formula,
                "sequence parallel {sequence_parallel}: not the formula"
            );
        }
        if !sequence_parallel {
            plain = kept[0];
        }
        println!(
            "{:<20} {:>14.0} {:>14.0} {:>10.3} {:>12.3}",
            if sequence_parallel {
                "sequence-parallel"
            } else {
                "plain"
            },
            kept[0],
            formula,
            kept[0] / plain,
            megatron / megatron_plain
        );
    }
}

fn main() {
    let (s, b) = (
        common::env("SIEVE_BENCH_SEQ", 512),
        common::env("SIEVE_BENCH_BATCH", 1),
    );
    let cfg = GptConfig {
        layers: 12,
        hidden: 768,
        heads: 12,
        max_seq: s,
        vocab_size: 50257,
    };
    let (l, h, a) = (cfg.layers as f64, cfg.hidden as f64, cfg.heads as f64);
    let (sf, bf) = (s as f64, b as f64);
    let tokens: Vec<u32> = (0..b * (s + 1))
        .map(|i| (i * 7919 % 50257) as u32)
        .collect();
    println!(
        "activation memory of one micro-batch, {b} × {s} tokens, 12 layers × 768 hidden × 12 heads"
    );
    println!(
        "{:<10} {:>14} {:>14} {:>10} {:>12} {:>10}",
        "recompute", "kept elements", "this formula", "ratio", "Megatron", "seconds"
    );
    let mut plain_grads: Option<Vec<f32>> = None;
    let mut plain_kept = 0.0;
    for recompute in [Recompute::None, Recompute::Selective, Recompute::Full] {
        let mut model = common::initialised_model(&cfg, ModelShard::SINGLE, Cpu::<f32>::new());
        model.recompute = recompute;
        let mut acts = common::micro_batch(&tokens, (b, s));
        let started = Instant::now();
        model.forward(&mut acts, &Solo).unwrap();
        let kept = acts.layer_elements(&model.backend) as f64;
        model.zero_grads();
        model
            .backward(&acts, 1.0 / (b * s) as f32, None, &Solo, true, None)
            .unwrap();
        let seconds = started.elapsed().as_secs_f64();
        // This implementation, per layer: LayerNorm outputs and statistics, QKV, attention
        // output, residuals, MLP in and out (16·sbh + 4·sb), plus the a·s²·b probabilities.
        let formula = l * match recompute {
            Recompute::None => 16.0 * sf * bf * h + 4.0 * sf * bf + a * sf * sf * bf,
            Recompute::Selective => 16.0 * sf * bf * h + 4.0 * sf * bf,
            Recompute::Full => sf * bf * h,
        };
        // Megatron's, bytes per layer: sbh·(34 + 5as/h); selective 34·sbh; full 2·sbh.
        let megatron = |r: Recompute| match r {
            Recompute::None => sf * bf * h * (34.0 + 5.0 * a * sf / h),
            Recompute::Selective => 34.0 * sf * bf * h,
            Recompute::Full => 2.0 * sf * bf * h,
        };
        if recompute == Recompute::None {
            plain_kept = kept;
        }
        let grads = model.grads.clone();
        let same = plain_grads.get_or_insert_with(|| grads.clone()) == &grads;
        assert!(
            same,
            "{recompute:?}: gradients differ from the plain backward"
        );
        assert_eq!(
            kept, formula,
            "{recompute:?}: the measured count is not this formula's"
        );
        println!(
            "{:<10} {:>14.0} {:>14.0} {:>10.3} {:>12.3} {:>10.2}",
            format!("{recompute:?}").to_lowercase(),
            kept,
            formula,
            kept / plain_kept,
            megatron(recompute) / megatron(Recompute::None),
            seconds
        );
    }
    tensor_parallel(&cfg, &tokens, (b, s));
}
