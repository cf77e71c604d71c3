//! The training step against an independent reference: an f64 run of sieve-train (ranks: one;
//! gradient accumulation over 2 and then 4 micro-batches as the batch ramps up from 4 to 8
//! samples; warm-up then cosine decay; clipping; AdamW) is replayed step by step by a NumPy
//! implementation written from PyTorch's and Megatron's definitions, fed only each
//! micro-batch's own gradient (of its mean loss, from sieve-train's backward, which
//! `gradcheck` checks against finite differences). At every step the loss, the global
//! gradient norm, the learning rate and every parameter agree within 1e-9 (f64 on both sides:
//! only summation orders differ).

use crate::common;

use sieve_trainer::backend::Cpu;
use sieve_trainer::data::{BlendDir, SampleSource, Split};
use sieve_trainer::dist::Solo;
use sieve_trainer::model::{Activations, Gpt, GptConfig, ModelShard, Precision};
use sieve_trainer::optim::{BatchSchedule, LrSchedule};
use sieve_trainer::train::{Groups, TrainConfig, Trainer};

const STEPS: u64 = 5;

/// The replay: every number below is written from the definitions, none read from sieve.
const REFERENCE: &str = r#"
import json, sys
import numpy as np
d = sys.argv[1]
meta = json.load(open(d + "/meta.json"))
f64 = lambda name: np.fromfile(d + "/" + name, dtype="<f8")
hp = meta["hyper"]
p = f64("params_0.f64")
# Megatron and PyTorch decay matrices only: biases and LayerNorm parameters (vectors) are not.
decay = np.zeros_like(p)
for t in meta["tensors"]:
    if t["rows"] > 1 and t["cols"] > 1:
        decay[t["offset"]:t["offset"] + t["rows"] * t["cols"]] = 1.0

def lr_at(position):
    # Megatron's OptimizerParamScheduler with --train-iters: linear warm-up from 0, cosine to
    # min_lr, then flat. Its position (num_steps) counts samples: it starts at 0 and grows by
    # each update's batch after the update; the lengths are iterations x the global batch.
    w = hp["warmup"] * hp["global"]
    n = hp["decay_iters"] * hp["global"]
    if w > 0 and position <= w:
        return hp["max_lr"] * float(position) / float(w)
    if position > n:
        return hp["min_lr"]
    ratio = float(position - w) / float(n - w)
    return hp["min_lr"] + 0.5 * (np.cos(np.pi * ratio) + 1.0) * (hp["max_lr"] - hp["min_lr"])

def batch_at(consumed):
    # Megatron's --rampup-batch-size START INCREMENT SAMPLES.
    start, inc, samples = hp["rampup"]
    steps = (hp["global"] - start) // inc
    return min(start + consumed // (samples // steps) * inc, hp["global"])

m = np.zeros_like(p)
v = np.zeros_like(p)
consumed = 0
worst = 0.0
for t, step in enumerate(meta["steps"], start=1):
    batch = batch_at(consumed)
    assert batch == step["batch"], (t, batch, step["batch"])
    n_micro = batch // hp["micro"]
    assert len(step["losses"]) == n_micro
    # The step's loss is the mean over its tokens; micro-batches are equal in size, so the
    # mean of their mean losses, and the gradient the mean of their gradients.
    loss = np.mean(step["losses"])
    g = sum(f64(f"grad_{t}_{k}.f64") for k in range(n_micro)) / n_micro
    norm = np.sqrt(np.sum(g * g))
    coeff = hp["clip"] / (norm + 1e-6)  # Megatron's clip_grad_norm
    if coeff < 1.0:
        g = g * coeff
    lr = lr_at(consumed)
    # torch.optim.AdamW: decoupled decay, then the bias-corrected step.
    p = p * (1.0 - lr * hp["weight_decay"] * decay)
    m = hp["beta1"] * m + (1 - hp["beta1"]) * g
    v = hp["beta2"] * v + (1 - hp["beta2"]) * g * g
    m_hat = m / (1 - hp["beta1"] ** t)
    v_hat = v / (1 - hp["beta2"] ** t)
    p = p - lr * m_hat / (np.sqrt(v_hat) + hp["eps"])
    got = f64(f"params_{t}.f64")
    diff = float(np.max(np.abs(got - p)))
    assert abs(step["loss"] - loss) <= 1e-9 * abs(loss), (t, "loss", step["loss"], loss)
    assert abs(step["grad_norm"] - norm) <= 1e-9 * norm, (t, "grad norm", step["grad_norm"], norm)
    assert abs(step["lr"] - lr) <= 1e-15, (t, "lr", step["lr"], lr)
    assert diff <= 1e-9, (t, "parameters", diff)
    worst = max(worst, diff)
    consumed += batch  # the scheduler's step(increment) after the update
    print(f"step {t}: batch {batch}, loss {loss:.6f}, grad norm {norm:.6f}{' (clipped)' if coeff < 1 else ''}, lr {lr:.3e}, largest parameter difference {diff:.2e}")
print(f"worst {worst:.2e}")
"#;

fn config() -> TrainConfig {
    let model = GptConfig {
        layers: 2,
        hidden: 16,
        heads: 2,
        max_seq: 16,
        vocab_size: 50257,
    };
    // 4 samples a step until 8 are consumed, then 8: 2 and then 4 micro-batches.
    let batch = BatchSchedule::new(8, Some((4, 4, 8)), 2).unwrap();
    let lr = LrSchedule {
        max_lr: 3e-2,
        min_lr: 3e-3,
        warmup_iters: 2,
        decay_iters: 4,
    };
    // Clipping at 1 is below the gradient norm at first, above it later: both sides run.
    common::train_config(model, 2, batch, lr, STEPS)
}

fn write_f64(path: &std::path::Path, values: &[f64]) {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn every_step_equals_an_independent_numpy_replay() {
    let Some(py) = common::python_with(&["numpy"]) else {
        return;
    };
    let cfg = config();
    let blend = BlendDir::open(&common::sample_blend(), false).unwrap();
    let data =
        SampleSource::blended(&blend, Split::Train, cfg.train_samples(), cfg.seq, 1234).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut trainer =
        Trainer::<Cpu<f64>>::new(cfg.clone(), ModelShard::SINGLE, Groups::single()).unwrap();
    write_f64(&dir.path().join("params_0.f64"), &trainer.model.params);
    // A second model of the same shape computes each micro-batch's own gradient.
    let mut probe = Gpt::new(
        cfg.model.clone(),
        ModelShard::SINGLE,
        Cpu::<f64>::new(),
        Precision::Full,
    )
    .unwrap();
    let (micro, seq) = (cfg.micro_batch, cfg.seq);
    let mut steps = Vec::new();
    for t in 1..=STEPS {
        let batch = cfg.batch.at(trainer.consumed);
        let mut losses = Vec::new();
        for k in 0..(batch as usize / micro) {
            let mut a = Activations::new(micro, seq);
            let mut buf = Vec::new();
            for s in 0..micro {
                buf.clear();
                let index = trainer.consumed + (k * micro + s) as u64;
                data.sample(index, &mut buf).unwrap();
                a.tokens.extend_from_slice(&buf[..seq]);
                a.targets.extend_from_slice(&buf[1..=seq]);
            }
            probe.params.copy_from_slice(&trainer.model.params);
            probe.params_changed();
            probe.zero_grads();
            let tokens = (micro * seq) as f64;
            let sum = probe.forward(&mut a, &Solo).unwrap().unwrap();
            probe
                .backward(&a, 1.0 / tokens, None, &Solo, true, None)
                .unwrap();
            losses.push(sum / tokens);
            write_f64(&dir.path().join(format!("grad_{t}_{k}.f64")), &probe.grads);
        }
        let s = trainer.train_step(&data).unwrap();
        write_f64(
            &dir.path().join(format!("params_{t}.f64")),
            &trainer.model.params,
        );
        steps.push(serde_json::json!({
            "batch": s.batch, "losses": losses, "loss": s.loss,
            "grad_norm": s.grad_norm, "lr": s.lr,
        }));
    }
    let tensors: Vec<_> = trainer
        .model
        .layout
        .tensors
        .iter()
        .map(|t| serde_json::json!({"name": t.name, "offset": t.offset, "rows": t.local[0], "cols": t.local[1]}))
        .collect();
    let (lr, adam) = (cfg.lr, cfg.adam);
    let meta = serde_json::json!({
        "hyper": {
            "micro": micro, "global": cfg.batch.global, "rampup": cfg.batch.rampup.unwrap(),
            "max_lr": lr.max_lr, "min_lr": lr.min_lr, "warmup": lr.warmup_iters,
            "decay_iters": lr.decay_iters, "beta1": adam.beta1, "beta2": adam.beta2,
            "eps": adam.eps, "weight_decay": adam.weight_decay, "clip": cfg.clip_grad,
        },
        "tensors": tensors,
        "steps": steps,
    });
    std::fs::write(dir.path().join("meta.json"), meta.to_string()).unwrap();
    let out = common::run_python(&py, REFERENCE, &[dir.path().to_str().unwrap()]);
    eprintln!("{out}");
    assert!(out.contains("(clipped)"), "no step was clipped:\n{out}");
    assert!(out.lines().filter(|l| l.starts_with("step ")).count() == STEPS as usize);
}
