//! Activation memory per micro-batch with and without recomputation, measured (the elements
//! the layers keep between forward and backward) and set beside the formulas: this
//! implementation's per-layer count (f32 elements) and Megatron's (Korthikanti et al. 2022,
//! bytes in 16-bit training, dropout masks included), as the ratio of each kind to no
//! recomputation. One micro-batch of GPT-2 124M's shape (12 layers, 768 hidden, 12 heads);
//! `SIEVE_BENCH_SEQ` (default 512) and `SIEVE_BENCH_BATCH` (default 1) change it. The backward
//! of each kind is run too, and its gradient compared with the plain run's.
//!
//!     cargo bench -p sieve-trainer --bench activation_memory

use std::time::Instant;

use sieve_trainer::backend::Cpu;
use sieve_trainer::dist::Solo;
use sieve_trainer::model::init::init_params;
use sieve_trainer::model::{Activations, Gpt, GptConfig, ModelShard, Precision, Recompute};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let (s, b) = (env("SIEVE_BENCH_SEQ", 512), env("SIEVE_BENCH_BATCH", 1));
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
        let mut model = Gpt::new(
            cfg.clone(),
            ModelShard::SINGLE,
            Cpu::<f32>::new(),
            Precision::Full,
        )
        .unwrap();
        let layout = model.layout.clone();
        init_params(
            &mut model.params,
            &layout,
            ModelShard::SINGLE,
            cfg.layers,
            1,
            0.02,
        );
        model.params_changed();
        model.recompute = recompute;
        let mut acts = Activations::new(b, s);
        for row in tokens.chunks_exact(s + 1) {
            acts.tokens.extend_from_slice(&row[..s]);
            acts.targets.extend_from_slice(&row[1..]);
        }
        let started = Instant::now();
        model.forward(&mut acts, &Solo).unwrap();
        let kept = acts.layer_elements(&model.backend) as f64;
        model.zero_grads();
        model
            .backward(&acts, 1.0 / (b * s) as f32, None, &Solo, None)
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
}
