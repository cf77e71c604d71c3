//! Megatron parallelism proven against the single-rank run: after 3 optimiser steps on the
//! sample blend, data-parallel and tensor-parallel runs (ranks as threads) have the loss and
//! every parameter of the single-rank run, and every rank of a group issued the same
//! collectives in the same order.

use crate::common;

use sieve_trainer::backend::device_order::DeviceOrder;
use sieve_trainer::backend::{Backend, BackendExt, Cpu, Float};
use sieve_trainer::data::{BlendDir, SampleSource, Split};
use sieve_trainer::dist::{Comm, ThreadGroup};
use sieve_trainer::model::{GptConfig, Layout, ModelShard, Recompute, Split as TensorSplit};
use sieve_trainer::optim::{BatchSchedule, LrSchedule};
use sieve_trainer::train::{zero_shard, Groups, TrainConfig, Trainer};

const STEPS: u64 = 3;

/// The parallel layout and batch of one run.
#[derive(Clone, Copy)]
struct Grid {
    tp: usize,
    pp: usize,
    dp: usize,
    /// Micro-batches per data-parallel rank and step.
    micro_batches: usize,
    micro_batch: usize,
    zero1: bool,
    recompute: Recompute,
    sequence_parallel: bool,
    /// Model chunks per pipeline stage (interleaved 1F1B when more than one).
    chunks: usize,
}

fn config(g: Grid) -> TrainConfig {
    let global = (g.micro_batch * g.dp * g.micro_batches) as u64;
    let model = GptConfig {
        layers: 4,
        hidden: 32,
        heads: 4,
        max_seq: 32,
        vocab_size: 50257,
    };
    let batch = BatchSchedule::new(global, None, (g.micro_batch * g.dp) as u64).unwrap();
    let lr = LrSchedule {
        max_lr: 1e-2,
        min_lr: 1e-3,
        // No warm-up: every step moves the parameters (a warm-up's first update runs at 0).
        warmup_iters: 0,
        decay_iters: STEPS,
    };
    TrainConfig {
        tp: g.tp,
        pp: g.pp,
        dp: g.dp,
        zero1: g.zero1,
        // Small buckets (a layer holds about 12,600 parameters), so data parallelism reduces
        // the gradient in many pieces and the layers' buckets start during the backward.
        bucket_elements: Some(5_000),
        recompute: g.recompute,
        sequence_parallel: g.sequence_parallel,
        virtual_stages: g.chunks,
        ..common::train_config(model, g.micro_batch, batch, lr, STEPS)
    }
}

fn data(cfg: &TrainConfig) -> SampleSource {
    let blend = BlendDir::open(&common::sample_blend(), false).unwrap();
    SampleSource::blended(&blend, Split::Train, cfg.train_samples(), cfg.seq, 1234).unwrap()
}

/// Each rank's losses and the whole model's parameters (and first-step gradients) placed in
/// the single-rank layout, per data-parallel replica; the collective traces of every group.
struct Run<F> {
    losses: Vec<Vec<f64>>,
    params: Vec<Vec<F>>,
    /// Gradients of the first step (after clipping), same placement.
    grads: Vec<Vec<F>>,
    traces: Vec<Vec<Vec<String>>>,
    layout: Layout,
    zero1: bool,
}

struct RankResult<F> {
    shard: ModelShard,
    dp_rank: usize,
    losses: Vec<f64>,
    params: Vec<F>,
    grads: Vec<F>,
    layout: Layout,
}

/// Runs the grid's ranks as threads for STEPS steps on the CPU backend.
fn run<F: Float>(g: Grid) -> Run<F> {
    run_on(g, Cpu::<F>::new, |_| {})
}

/// Runs the grid's ranks as threads for STEPS steps, each on a `backend()`, and hands each
/// rank's backend to `after` at the end. Ranks are numbered as Megatron numbers them:
/// tensor-parallel fastest, then data-parallel, then pipeline.
fn run_on<F: Float, B: Backend<F = F, Group = dyn Comm<F>>>(
    g: Grid,
    backend: impl Fn() -> B + Sync,
    after: impl Fn(&B) + Sync,
) -> Run<F> {
    let Grid { tp, pp, dp, .. } = g;
    let cfg = config(g);
    let src = data(&cfg);
    let single = Layout::new(&cfg.model, ModelShard::SINGLE).unwrap();
    let tp_groups: Vec<_> = (0..dp * pp).map(|_| ThreadGroup::new(tp)).collect();
    let dp_groups: Vec<_> = (0..tp * pp).map(|_| ThreadGroup::new(dp)).collect();
    let pp_groups: Vec<_> = (0..tp * dp).map(|_| ThreadGroup::new(pp)).collect();
    let results: Vec<RankResult<F>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..tp * dp * pp)
            .map(|r| {
                let (tp_rank, dp_rank, pp_rank) = (r % tp, (r / tp) % dp, r / (tp * dp));
                let tp_comm: Box<dyn Comm<F>> =
                    Box::new(tp_groups[pp_rank * dp + dp_rank].comm(tp_rank));
                let groups: Groups<B> = Groups {
                    tp: tp_comm,
                    pp: Box::new(pp_groups[dp_rank * tp + tp_rank].comm(pp_rank))
                        as Box<dyn Comm<F>>,
                    dp: Box::new(dp_groups[pp_rank * tp + tp_rank].comm(dp_rank))
                        as Box<dyn Comm<F>>,
                };
                let cfg = cfg.clone();
                let (src, backend, after) = (&src, &backend, &after);
                s.spawn(move || {
                    let shard = ModelShard {
                        tp,
                        tp_rank,
                        pp,
                        pp_rank,
                        chunks: 1,
                    };
                    let mut t = Trainer::on(backend(), cfg, shard, groups).unwrap();
                    let host = |t: &Trainer<B>, buf: &B::Buf| {
                        let be = &t.model.backend;
                        be.to_host(be.whole(buf), be.buf_len(buf))
                    };
                    let mut losses = vec![t.train_step(src).unwrap().loss];
                    let grads = host(&t, &t.model.grads);
                    losses.extend((1..STEPS).map(|_| t.train_step(src).unwrap().loss));
                    after(&t.model.backend);
                    RankResult {
                        shard,
                        dp_rank,
                        losses,
                        params: host(&t, &t.model.params),
                        grads,
                        layout: t.model.layout.clone(),
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let nan = F::from_f64(f64::NAN);
    let mut params = vec![vec![nan; single.len]; dp];
    let mut grads = vec![vec![nan; single.len]; dp];
    let mut losses = Vec::new();
    for res in results {
        losses.push(res.losses);
        for spec in &res.layout.tensors {
            let replica = spec.split == TensorSplit::Replicated && res.shard.tp_rank != 0;
            // The tied embedding is taken from the first stage.
            let tied_copy = spec.name == "wte.weight" && res.shard.pp_rank != 0;
            let full = single.get(&spec.name);
            if replica {
                // Ranks come in order, so TP rank 0's copy is placed: every copy must equal it
                // (sequence parallelism sums the LayerNorms' gradients over the group).
                let mine = &res.params[spec.range()];
                let placed = &params[res.dp_rank][full.range()];
                let same = mine
                    .iter()
                    .zip(placed)
                    .all(|(a, b)| a.to_f64().to_bits() == b.to_f64().to_bits());
                assert!(
                    same,
                    "{}: TP rank {}'s copy drifted",
                    spec.name, res.shard.tp_rank
                );
            }
            if replica || tied_copy {
                continue;
            }
            let cols = spec.local[1];
            for k in 0..spec.len() {
                let at = full.offset + spec.full_index(k / cols, k % cols, res.shard.tp_rank, tp);
                params[res.dp_rank][at] = res.params[spec.offset + k];
                if !g.zero1 {
                    grads[res.dp_rank][at] = res.grads[spec.offset + k];
                } else if zero_shard(res.layout.len, dp, res.dp_rank).contains(&(spec.offset + k)) {
                    // Under ZeRO-1 a rank holds the reduced gradient of its own shard only:
                    // the shards together make replica 0's.
                    grads[0][at] = res.grads[spec.offset + k];
                }
            }
        }
    }
    let mut traces: Vec<_> = tp_groups.iter().map(|g| g.traces()).collect();
    traces.extend(dp_groups.iter().map(|g| g.traces()));
    // Pipeline stages exchange different point-to-point messages by design; their collectives
    // must still agree.
    traces.extend(pp_groups.iter().map(|g| {
        g.traces()
            .into_iter()
            .map(|t| {
                t.into_iter()
                    .filter(|op| !op.starts_with("send") && !op.starts_with("recv"))
                    .collect()
            })
            .collect()
    }));
    Run {
        losses,
        params,
        grads,
        traces,
        layout: single,
        zero1: g.zero1,
    }
}

/// Compares tensor by tensor: |got − want| ≤ rtol·|want| + floor·(the tensor's largest
/// single-rank magnitude).
fn assert_close<F: Float>(
    what: &str,
    layout: &Layout,
    got: &[F],
    want: &[F],
    rtol: f64,
    floor: f64,
) {
    for t in &layout.tensors {
        let (g, w) = (&got[t.range()], &want[t.range()]);
        let largest = w.iter().fold(0.0f64, |m, x| m.max(x.to_f64().abs()));
        let mut worst = 0.0f64;
        for (i, (&a, &b)) in g.iter().zip(w).enumerate() {
            let (a, b) = (a.to_f64(), b.to_f64());
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

/// The grid against the single rank doing the same global batch as gradient accumulation:
/// in f64, losses, first-step gradients and the parameters after 3 AdamW steps to rtol 1e-5;
/// in f32 (the training precision), losses and first-step gradients to rtol 1e-5. (In f32 the
/// parameters after Adam steps are not comparable element by element: gradients that cancel
/// to rounding noise, such as the key bias's, whose exact gradient is zero, are normalised by
/// Adam into steps of the learning rate's size in any run.)
fn check(g: Grid) {
    let single = Grid {
        tp: 1,
        pp: 1,
        dp: 1,
        micro_batches: g.micro_batches * g.dp,
        micro_batch: g.micro_batch,
        zero1: false,
        recompute: Recompute::None,
        sequence_parallel: false,
        chunks: 1,
    };
    let name = format!("tp{} pp{} dp{} m{}", g.tp, g.pp, g.dp, g.micro_batches);
    compare::<f64>(&format!("f64 {name}"), &run(single), &run(g), true);
    compare::<f32>(&format!("f32 {name}"), &run(single), &run(g), false);
}

fn compare<F: Float>(name: &str, reference: &Run<F>, r: &Run<F>, parameters: bool) {
    for (rank, l) in r.losses.iter().enumerate() {
        for (s, (&a, &b)) in l.iter().zip(&reference.losses[0]).enumerate() {
            assert!(
                (a - b).abs() <= 1e-5 * b.abs(),
                "{name} rank {rank} step {s}: loss {a} vs {b}"
            );
        }
    }
    let lay = &reference.layout;
    let floor = if F::NAME == "f64" { 1e-9 } else { 1e-5 };
    let replicas = if r.zero1 { 1 } else { r.grads.len() };
    for (d, grads) in r.grads.iter().take(replicas).enumerate() {
        assert_close(
            &format!("{name} replica {d} gradients"),
            lay,
            grads,
            &reference.grads[0],
            1e-5,
            floor,
        );
    }
    if parameters {
        for (d, p) in r.params.iter().enumerate() {
            assert_close(
                &format!("{name} replica {d} parameters"),
                lay,
                p,
                &reference.params[0],
                1e-5,
                floor,
            );
        }
    }
    for (i, traces) in r.traces.iter().enumerate() {
        for t in &traces[1..] {
            assert_eq!(
                t, &traces[0],
                "{name} group {i}: ranks issued different collectives"
            );
        }
    }
}

fn grid(tp: usize, pp: usize, dp: usize, micro_batches: usize) -> Grid {
    Grid {
        tp,
        pp,
        dp,
        micro_batches,
        micro_batch: if pp > 1 { 1 } else { 2 },
        zero1: false,
        recompute: Recompute::None,
        sequence_parallel: false,
        chunks: 1,
    }
}

#[test]
fn data_parallel_2_and_4_equal_single_rank() {
    check(grid(1, 1, 2, 2));
    check(grid(1, 1, 4, 1));
}

#[test]
fn tensor_parallel_2_and_4_equal_single_rank() {
    check(grid(2, 1, 1, 4));
    check(grid(4, 1, 1, 4));
}

#[test]
fn pipeline_parallel_2_equals_single_rank_with_1_4_8_micro_batches() {
    for m in [1, 4, 8] {
        check(grid(1, 2, 1, m));
    }
}

#[test]
fn pipeline_parallel_4_equals_single_rank_with_1_4_8_micro_batches() {
    for m in [1, 4, 8] {
        check(grid(1, 4, 1, m));
    }
}

#[test]
fn tp2_pp2_dp2_on_8_threads_equals_single_rank() {
    check(grid(2, 2, 2, 2));
}

/// Runs `plain` with and without ZeRO-1 and checks the losses and every replica's
/// parameters bitwise.
fn zero1_matches_bitwise(plain: Grid) {
    let zero = Grid {
        zero1: true,
        ..plain
    };
    let (a, b) = (run::<f32>(plain), run::<f32>(zero));
    assert_eq!(a.losses, b.losses);
    for d in 0..plain.dp {
        let same = a.params[d]
            .iter()
            .zip(&b.params[d])
            .all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(
            same,
            "replica {d}: ZeRO-1 parameters differ from plain data parallelism"
        );
    }
}

#[test]
fn zero1_is_bitwise_plain_data_parallelism() {
    zero1_matches_bitwise(grid(1, 1, 4, 2));
    // With two stages the tied embedding's gradient is the sum of both ends' before any
    // data-parallel reduction, on both paths (the overlapped buckets wait for it).
    zero1_matches_bitwise(grid(1, 2, 2, 2));
    // And against the single rank, with every other axis on.
    check(Grid {
        zero1: true,
        ..grid(2, 2, 2, 2)
    });
}

/// Activation recomputation, selective and full, gives bitwise the plain run's losses and
/// parameters: one rank, and TP2 × PP2 with 4 micro-batches (where full recomputation repeats
/// the tensor-parallel all-reduces of each layer in backward).
#[test]
fn recomputation_is_bitwise_the_plain_run() {
    for plain in [grid(1, 1, 1, 2), grid(2, 2, 1, 4)] {
        let base = run::<f32>(plain);
        for recompute in [Recompute::Selective, Recompute::Full] {
            let other = run::<f32>(Grid { recompute, ..plain });
            assert_eq!(base.losses, other.losses, "{recompute:?}");
            let same = base.params[0]
                .iter()
                .zip(&other.params[0])
                .all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "{recompute:?}: parameters differ from the plain run");
        }
    }
}

/// A memory-saving variant against the plain run of its grid, in f64: each rank's first loss
/// bitwise, later losses to 1e-12 relative, every replica's first-step gradients and final
/// parameters within 1e-12 of each tensor's largest magnitude.
fn assert_plain_run_to_1e12(name: &str, got: &Run<f64>, plain: &Run<f64>) {
    for (rank, (a, b)) in got.losses.iter().zip(&plain.losses).enumerate() {
        assert_eq!(
            a[0].to_bits(),
            b[0].to_bits(),
            "{name} rank {rank}: first loss"
        );
        for (s, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= 1e-12 * y.abs(),
                "{name} rank {rank} step {s}"
            );
        }
    }
    let lay = &plain.layout;
    for (d, (g, p)) in got.grads.iter().zip(&got.params).enumerate() {
        let what = format!("{name} replica {d}");
        assert_close(&what, lay, g, &plain.grads[d], 0.0, 1e-12);
        assert_close(&what, lay, p, &plain.params[d], 0.0, 1e-12);
    }
}

/// Sequence parallelism gives the plain tensor-parallel run's numbers, in f64: the first step's
/// losses bitwise (forward's reduce-scatters sum in the all-reduce's order), and the first
/// step's gradients and the parameters after 3 steps within 1e-12 of each tensor's largest
/// magnitude (each rank's LayerNorm gradients cover its own tokens and are then summed over
/// the group: the same terms added in another order). Covered: TP2 on one stage, TP2 × PP2
/// with 4 micro-batches (stages pass their share of the tokens), TP2 × DP2 (the LayerNorms are
/// summed before the data-parallel buckets read them) and TP4 with full recomputation (the
/// gathers redone in backward). The run did go sequence-parallel: its tensor-parallel groups
/// reduce-scatter and all-gather the residual stream where the plain run all-reduces it, and
/// never all-reduce it.
#[test]
fn sequence_parallelism_equals_the_plain_tensor_parallel_run() {
    let full = Grid {
        recompute: Recompute::Full,
        ..grid(4, 1, 1, 1)
    };
    for plain in [grid(2, 1, 1, 2), grid(2, 2, 1, 4), grid(2, 1, 2, 2), full] {
        let name = format!("tp{} pp{} dp{}", plain.tp, plain.pp, plain.dp);
        let base = run::<f64>(plain);
        let sp = run::<f64>(Grid {
            sequence_parallel: true,
            ..plain
        });
        // Collectives of the residual stream's size in the tensor-parallel groups' traces.
        let stream = plain.micro_batch * 16 * 32;
        let count = |r: &Run<f64>, op: &str| -> usize {
            let tp_groups = &r.traces[..plain.dp * plain.pp];
            tp_groups
                .iter()
                .flatten()
                .flatten()
                .filter(|o| *o == op)
                .count()
        };
        let all_reduce = format!("all_reduce Sum {stream}");
        let reduce_scatter = format!("reduce_scatter {stream}");
        let all_gather = format!("all_gather {}", stream / plain.tp);
        assert!(count(&base, &all_reduce) > 0, "{name}: the plain run's g");
        assert_eq!(count(&sp, &all_reduce), 0, "{name}: an all-reduce left");
        assert!(count(&sp, &reduce_scatter) > 0 && count(&sp, &all_gather) > 0);
        assert_plain_run_to_1e12(&name, &sp, &base);
        for (i, traces) in sp.traces.iter().enumerate() {
            for t in &traces[1..] {
                assert_eq!(t, &traces[0], "{name} group {i}: ranks' collectives differ");
            }
        }
    }
}

/// Interleaved 1F1B (2 model chunks of one layer a stage) gives the plain 1F1B run's numbers
/// in f64: the first step's losses bitwise (every layer computes the same micro-batches, and
/// each parameter's gradient adds them in the same order), and the first step's gradients and
/// the parameters after 3 steps within 1e-12 of each tensor's largest magnitude (a stage's
/// share of the global gradient norm sums other layers, so the clipping factor can differ in
/// its last bit). Covered: PP2 with 2 micro-batches (all warm-up) and with 4, TP2 × PP2 × DP2
/// (the data-parallel buckets start as each chunk's gradients become final), and TP2 × PP2
/// with sequence parallelism.
#[test]
fn interleaved_1f1b_equals_the_plain_pipeline() {
    let sp = Grid {
        sequence_parallel: true,
        ..grid(2, 2, 1, 4)
    };
    for plain in [grid(1, 2, 1, 2), grid(1, 2, 1, 4), grid(2, 2, 2, 2), sp] {
        let name = format!(
            "tp{} pp{} dp{} m{}",
            plain.tp, plain.pp, plain.dp, plain.micro_batches
        );
        let base = run::<f64>(plain);
        let interleaved = run::<f64>(Grid { chunks: 2, ..plain });
        assert_plain_run_to_1e12(&format!("{name} interleaved"), &interleaved, &base);
    }
    // The micro-batches must come in whole groups of the stages.
    let cfg = config(Grid {
        chunks: 2,
        ..grid(1, 2, 1, 3)
    });
    let shard = ModelShard {
        tp: 1,
        tp_rank: 0,
        pp: 2,
        pp_rank: 0,
        chunks: 1,
    };
    let groups = Groups::<Cpu<f64>>::single();
    let err = Trainer::<Cpu<f64>>::new(cfg, shard, groups)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("multiple of --pp 2"), "{err}");
}

/// NCCL's ordering on the CPU (`backend::device_order`): a grouped send reads its buffer at
/// the group's end and sends poison if the buffer was released before; a grouped receive holds
/// poison until then; a data-parallel bucket holds poison from its all-reduce to the wait, and
/// writing or releasing it, or another collective on its group, meanwhile is an error. Under
/// it, 1F1B (PP2 with 4 micro-batches, PP4 with 8), interleaved 1F1B, the data-parallel buckets
/// (DP2; TP2 × PP2 × DP2, whose tied-embedding bucket waits for the two ends' exchange) and
/// sequence parallelism give bitwise the CPU backend's numbers, which the tests above hold to
/// the single rank, and no stage sends a released buffer.
#[test]
fn under_nccl_ordering_every_schedule_is_bitwise_the_cpu_run() {
    let grids = [
        grid(1, 2, 1, 4),
        grid(1, 4, 1, 8),
        grid(1, 1, 2, 2),
        grid(2, 2, 2, 2),
        Grid {
            chunks: 2,
            ..grid(1, 2, 1, 4)
        },
        Grid {
            sequence_parallel: true,
            ..grid(2, 2, 1, 4)
        },
    ];
    for g in grids {
        let name = format!(
            "tp{} pp{} dp{} m{} chunks {} sp {}",
            g.tp, g.pp, g.dp, g.micro_batches, g.chunks, g.sequence_parallel
        );
        let poisoned = std::sync::atomic::AtomicUsize::new(0);
        let ordered = run_on(
            g,
            // SAFETY: the trainer holds no view across a group's end or a wait.
            || unsafe { DeviceOrder::<f64>::new() },
            |be| {
                poisoned.fetch_add(be.poisoned_sends(), std::sync::atomic::Ordering::SeqCst);
            },
        );
        let poisoned = poisoned.into_inner();
        assert_eq!(
            poisoned, 0,
            "{name}: {poisoned} grouped sends read buffers released before their group ended"
        );
        let cpu = run::<f64>(g);
        let bits = |v: &[Vec<f64>]| -> Vec<Vec<u64>> {
            v.iter()
                .map(|x| x.iter().map(|f| f.to_bits()).collect())
                .collect()
        };
        assert_eq!(bits(&ordered.losses), bits(&cpu.losses), "{name}: losses");
        assert!(
            bits(&ordered.grads) == bits(&cpu.grads),
            "{name}: gradients"
        );
        assert!(
            bits(&ordered.params) == bits(&cpu.params),
            "{name}: parameters"
        );
        eprintln!("{name}: bitwise the CPU run under NCCL's ordering");
    }
}

/// The loss goes over the data-parallel group after the step's gradient buckets: in each step
/// of a DP2 run the group's trace is the buckets (several, 5,000 elements at most) and then the
/// one-element loss all-reduce, never the loss among the buckets.
#[test]
fn the_loss_is_reduced_after_the_gradient_buckets() {
    let r = run::<f32>(grid(1, 1, 2, 2));
    let dp_trace = &r.traces[2][0];
    let steps: Vec<&[String]> = dp_trace
        .split_inclusive(|op| op == "all_reduce Sum 1")
        .collect();
    assert_eq!(steps.len(), STEPS as usize, "{dp_trace:?}");
    for step in steps {
        let (loss, buckets) = step.split_last().unwrap();
        assert_eq!(loss, "all_reduce Sum 1");
        assert!(buckets.len() > 2, "{step:?}");
        for b in buckets {
            let len: usize = b.strip_prefix("all_reduce Sum ").unwrap().parse().unwrap();
            assert!(len > 1 && len <= 5_000, "{b}");
        }
    }
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
}
