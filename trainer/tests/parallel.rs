//! Megatron parallelism proven against the single-rank run: after 3 optimiser steps on the
//! sample blend, data-parallel and tensor-parallel runs (ranks as threads) have the loss and
//! every parameter of the single-rank run, and every rank of a group issued the same
//! collectives in the same order.

mod common;

use std::sync::Arc;

use sieve_trainer::data::{BlendDir, SampleSource, Split};
use sieve_trainer::dist::{Comm, Solo, ThreadGroup};
use sieve_trainer::model::{GptConfig, Layout, ModelShard, Precision, Split as TensorSplit};
use sieve_trainer::optim::{AdamConfig, BatchSchedule, LrSchedule};
use sieve_trainer::train::{Groups, TrainConfig, Trainer};

const STEPS: u64 = 3;

fn config(tp: usize, dp: usize) -> TrainConfig {
    TrainConfig {
        model: GptConfig {
            layers: 2,
            hidden: 32,
            heads: 4,
            max_seq: 32,
            vocab_size: 50257,
        },
        seq: 16,
        micro_batch: 2,
        batch: BatchSchedule::new(8, None, 2 * dp as u64).unwrap(),
        lr: LrSchedule {
            max_lr: 1e-2,
            min_lr: 1e-3,
            warmup_iters: 1,
            decay_iters: STEPS,
        },
        adam: AdamConfig {
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            weight_decay: 0.1,
        },
        clip_grad: 1.0,
        init_std: 0.02,
        seed: 1234,
        train_iters: STEPS,
        eval_interval: 0,
        eval_iters: 0,
        precision: Precision::Full,
        tp,
        pp: 1,
        dp,
    }
}

fn data(cfg: &TrainConfig) -> SampleSource {
    let blend = BlendDir::open(&common::sample_blend(), false).unwrap();
    SampleSource::blended(&blend, Split::Train, cfg.train_samples(), cfg.seq, 1234).unwrap()
}

/// Runs `tp × dp` ranks as threads for STEPS steps; returns each rank's losses and
/// (full-model) parameters placed by the layout, plus the traces of every group.
struct Run {
    losses: Vec<Vec<f64>>,
    /// Parameters of the whole model in the single-rank layout, per DP replica.
    params: Vec<Vec<f32>>,
    /// Gradients of the first step (after clipping), same placement.
    grads: Vec<Vec<f32>>,
    traces: Vec<Vec<Vec<String>>>,
    layout: Layout,
}

fn run(tp: usize, dp: usize) -> Run {
    let cfg = config(tp, dp);
    let src = data(&cfg);
    let single = Layout::new(&cfg.model, ModelShard::SINGLE).unwrap();
    let tp_groups: Vec<_> = (0..dp).map(|_| ThreadGroup::new(tp)).collect();
    let dp_groups: Vec<_> = (0..tp).map(|_| ThreadGroup::new(dp)).collect();
    #[allow(clippy::type_complexity)]
    let results: Vec<(usize, usize, Vec<f64>, Vec<f32>, Vec<f32>, Layout)> =
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..tp * dp)
                .map(|r| {
                    let (tp_rank, dp_rank) = (r % tp, r / tp);
                    let groups = Groups {
                        tp: Box::new(tp_groups[dp_rank].comm(tp_rank)) as Box<dyn Comm<f32>>,
                        pp: Box::new(Solo),
                        dp: Box::new(dp_groups[tp_rank].comm(dp_rank)),
                    };
                    let cfg = cfg.clone();
                    let src = &src;
                    s.spawn(move || {
                        let shard = ModelShard {
                            tp,
                            tp_rank,
                            pp: 1,
                            pp_rank: 0,
                        };
                        let mut t = Trainer::new(cfg, shard, groups).unwrap();
                        let mut losses = vec![t.train_step(src).unwrap().loss];
                        let grads = t.model.grads.clone();
                        losses.extend((1..STEPS).map(|_| t.train_step(src).unwrap().loss));
                        (
                            tp_rank,
                            dp_rank,
                            losses,
                            t.model.params.clone(),
                            grads,
                            t.model.layout.clone(),
                        )
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
    let mut params = vec![vec![0.0f32; single.len]; dp];
    let mut grads = vec![vec![0.0f32; single.len]; dp];
    let mut losses = vec![Vec::new(); tp * dp];
    for (tp_rank, dp_rank, l, p, g, layout) in results {
        losses[dp_rank * tp + tp_rank] = l;
        for (spec, full) in layout.tensors.iter().zip(&single.tensors) {
            if spec.split == TensorSplit::Replicated && tp_rank != 0 {
                continue;
            }
            let cols = spec.local[1];
            for k in 0..spec.len() {
                let at = full.offset + spec.full_index(k / cols, k % cols, tp_rank, tp);
                params[dp_rank][at] = p[spec.offset + k];
                grads[dp_rank][at] = g[spec.offset + k];
            }
        }
    }
    let mut traces: Vec<_> = tp_groups.iter().map(|g| g.traces()).collect();
    traces.extend(dp_groups.iter().map(|g| g.traces()));
    Run {
        losses,
        params,
        grads,
        traces,
        layout: single,
    }
}

/// Compares tensor by tensor. `scale` is the tolerance's absolute floor relative to the
/// tensor's largest single-rank value.
fn assert_close(what: &str, layout: &Layout, got: &[f32], want: &[f32], rtol: f32, floor: f32) {
    for t in &layout.tensors {
        let (g, w) = (&got[t.range()], &want[t.range()]);
        let largest = w.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let mut worst = 0.0f32;
        for (i, (&a, &b)) in g.iter().zip(w).enumerate() {
            // The key bias's true gradient is zero (softmax ignores a shift shared by every
            // key), so its gradient is rounding noise that Adam turns into lr-sized steps in
            // any run; only the other parameters can be compared after an Adam step.
            let third = t.len() / 3;
            if what.contains("parameters")
                && t.name.ends_with("attn.c_attn.bias")
                && (third..2 * third).contains(&i)
            {
                continue;
            }
            let err = (a - b).abs();
            assert!(
                err <= floor * largest + rtol * b.abs(),
                "{what} {}[{i}]: {a} vs single-rank {b} (largest {largest})",
                t.name
            );
            worst = worst.max(err);
        }
        eprintln!(
            "{what} {}: worst absolute difference {worst:.2e} (largest {largest:.2e})",
            t.name
        );
    }
}

fn check(tp: usize, dp: usize) {
    let reference = run(1, 1);
    let r = run(tp, dp);
    for (rank, l) in r.losses.iter().enumerate() {
        for (s, (&a, &b)) in l.iter().zip(&reference.losses[0]).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5 * b.abs(),
                "tp{tp} dp{dp} rank {rank} step {s}: loss {a} vs {b}"
            );
        }
    }
    let lay = &reference.layout;
    for (d, g) in r.grads.iter().enumerate() {
        assert_close(
            &format!("tp{tp} dp{dp} replica {d} gradients"),
            lay,
            g,
            &reference.grads[0],
            1e-5,
            1e-5,
        );
    }
    for (d, p) in r.params.iter().enumerate() {
        assert_close(
            &format!("tp{tp} dp{dp} replica {d} parameters"),
            lay,
            p,
            &reference.params[0],
            1e-5,
            1e-4,
        );
    }
    for (g, traces) in r.traces.iter().enumerate() {
        for t in &traces[1..] {
            assert_eq!(
                t, &traces[0],
                "group {g}: ranks issued different collectives"
            );
        }
    }
}

#[test]
fn data_parallel_2_equals_single_rank() {
    check(1, 2);
}

#[test]
fn data_parallel_4_equals_single_rank() {
    check(1, 4);
}

#[test]
fn tensor_parallel_2_equals_single_rank() {
    check(2, 1);
}

#[test]
fn tensor_parallel_4_equals_single_rank() {
    check(4, 1);
}

#[test]
fn tensor_2_by_data_2_equals_single_rank() {
    check(2, 2);
}

#[test]
fn thread_groups_reduce_in_rank_order() {
    let g = ThreadGroup::new(3);
    let out: Vec<Vec<f32>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|r| {
                let c = g.comm(r);
                s.spawn(move || {
                    let mut v = vec![1e8f32 * (r as f32 - 1.0), 1.0 + r as f32];
                    Comm::<f32>::all_reduce(&c, &mut v, sieve_trainer::dist::ReduceOp::Sum)
                        .unwrap();
                    v
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(out.iter().all(|v| v == &out[0]));
    assert_eq!(out[0][1], 6.0);
    let _ = Arc::strong_count(&g);
}
