//! One CPU training step of a GPT-2-small-shaped model (768 hidden, 12 heads, GPT-2's
//! vocabulary; 2 layers by default, `SIEVE_BENCH_LAYERS` to change): tokens/s, where the time
//! goes (the linear layers' GEMMs, attention, the element-wise kernels, AdamW), the GEMM rate
//! reached inside the step next to this machine's measured GEMM peak, and, when a Python with
//! PyTorch is given (`SIEVE_TORCH_PYTHON`), PyTorch's step for the same shape in the same run.
//!
//!     SIEVE_TORCH_PYTHON=/path/to/venv/bin/python cargo bench -p sieve-trainer --bench train_step

mod common;

use std::time::Instant;

use sieve_trainer::backend::clock::Kind;
use sieve_trainer::backend::{Backend, Cpu};
use sieve_trainer::dist::Solo;
use sieve_trainer::metrics::measure_cpu_gemm_peak;
use sieve_trainer::model::{Activations, GptConfig, ModelShard};
use sieve_trainer::optim::{AdamConfig, AdamState, AdamStep};

fn clock(cpu: &Cpu<f32>) -> &sieve_trainer::backend::clock::KernelClock {
    cpu.clock().expect("the benchmark's backend has a clock")
}

fn main() {
    let layers = common::env("SIEVE_BENCH_LAYERS", 2);
    let (seq, batch, steps) = (
        common::env("SIEVE_BENCH_SEQ", 256),
        common::env("SIEVE_BENCH_BATCH", 4),
        4,
    );
    let cfg = GptConfig {
        layers,
        hidden: 768,
        heads: 12,
        max_seq: seq,
        vocab_size: 50257,
    };
    let threads = rayon::current_num_threads();
    let mut model = common::initialised_model(&cfg, ModelShard::SINGLE, Cpu::<f32>::with_clock());
    let layout = model.layout.clone();
    let mut adam = AdamState::new(&model.backend, layout.len);
    let adam_cfg = AdamConfig {
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weight_decay: 0.1,
    };
    let decay = vec![1.0f32; layout.len];
    let mut rng = sieve_shards::rng::SplitMix(7);
    let n = batch * seq;
    let tokens: Vec<u32> = (0..n).map(|_| (rng.next_u64() % 50257) as u32).collect();
    let targets: Vec<u32> = (0..n).map(|_| (rng.next_u64() % 50257) as u32).collect();
    let (mut best, mut best_split) = (f64::MAX, [0.0; 4]);
    // Buffers are reused between steps, as the trainer reuses them between micro-batches.
    let mut acts = Activations::new(batch, seq);
    for step in 0..=steps {
        clock(&model.backend).reset();
        let t = Instant::now();
        model.zero_grads();
        acts.tokens = tokens.clone();
        acts.targets = targets.clone();
        model.forward(&mut acts, &Solo).unwrap();
        model
            .backward(&acts, 1.0 / n as f32, None, &Solo, true, None)
            .unwrap();
        let ta = Instant::now();
        // The clock leaves AdamW out of the element-wise kernels; it is timed here.
        model.backend.adamw_step(
            &mut model.params,
            &model.grads,
            &mut adam.m,
            &mut adam.v,
            &decay,
            &AdamStep::new(&adam_cfg, 1e-4, step as u64 + 1),
        );
        model.params_changed();
        let adam_s = ta.elapsed().as_secs_f64();
        let total = t.elapsed().as_secs_f64();
        if step > 0 && total < best {
            let b = clock(&model.backend);
            best = total;
            best_split = [
                b.seconds(Kind::Gemm),
                b.seconds(Kind::Attention),
                b.seconds(Kind::Elementwise),
                adam_s,
            ];
        }
    }
    let peak = measure_cpu_gemm_peak();
    // FLOPs of the linear layers' GEMMs (classifier included): 2 per weight per token forward,
    // 4 backward.
    let c = cfg.hidden as f64;
    let linear = cfg.padded_vocab() as f64 * c + layers as f64 * 12.0 * c * c;
    let gemm_flops = 6.0 * linear * n as f64;
    let tps = n as f64 / best;
    let [gemm, att, elem, opt] = best_split;
    let other = best - gemm - att - elem - opt;
    println!(
        "sieve-train CPU step: {layers} layers × 768, seq {seq}, batch {batch}, {threads} threads: \
         {best:.3} s, {tps:.0} tokens/s, MFU {:.1}% of the measured GEMM peak",
        100.0 * tps * cfg.flops_per_token(seq) / peak
    );
    println!(
        "  time: linear GEMMs {:.1}%, attention {:.1}%, element-wise {:.1}%, AdamW {:.1}%, glue {:.1}%",
        100.0 * gemm / best,
        100.0 * att / best,
        100.0 * elem / best,
        100.0 * opt / best,
        100.0 * other / best
    );
    println!(
        "  outside the linear GEMMs: {:.1}% of the step; GEMMs inside the step reach {:.1} GFLOP/s, measured GEMM peak {:.1} GFLOP/s",
        100.0 * (best - gemm) / best,
        gemm_flops / gemm / 1e9,
        peak / 1e9
    );
    let Ok(python) = std::env::var("SIEVE_TORCH_PYTHON") else {
        println!("PyTorch: skipped (set SIEVE_TORCH_PYTHON to a Python with torch)");
        return;
    };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../benches/peers/gpt_step_torch.py"
    );
    let out = std::process::Command::new(python)
        .arg(script)
        .args([layers, 768, 12, 50257, seq, batch, steps, threads].map(|v| v.to_string()))
        .output()
        .expect("run the PyTorch peer");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let torch = v["tokens_per_s"].as_f64().unwrap();
    println!(
        "PyTorch {} CPU step, same shape and threads: {torch:.0} tokens/s; sieve-train / PyTorch = {:.2}×",
        v["torch"].as_str().unwrap_or("?"),
        tps / torch
    );
}
