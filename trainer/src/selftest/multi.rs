//! The selftest's multi-GPU part, written over any backend and process group so that its
//! logic runs on the CPU too (ranks as threads): each collective the trainer uses against
//! values computed on the host, then one step of a 2-stage pipeline (1F1B, 4 micro-batches)
//! against the same step of the whole model on the CPU backend.

use anyhow::Result;
use serde::Serialize;

use super::{compare_tensors, model, random_tokens, GradientCheck};
use crate::backend::{Backend, BackendExt, Cpu, Role};
use crate::dist::{Comm, ReduceOp, Solo};
use crate::model::{Activations, GptConfig, ModelShard};
use crate::parallel::pipeline::{run_stage, MicroBatches};
use crate::parallel::schedule::one_f_one_b;

/// One collective (or the pipeline step's loss) on one rank, against what it must give.
#[derive(Debug, Clone, Serialize)]
pub struct RankCheck {
    pub rank: usize,
    pub what: String,
    pub max_abs_diff: f64,
    pub passed: bool,
}

/// A value every rank can compute for element `i` of rank `r`'s buffer: small multiples of a
/// half, so that sums in any order are exact.
fn value(r: usize, i: usize) -> f32 {
    ((r + 1) * (i % 13)) as f32 * 0.5 - 3.0
}

fn check(rank: usize, what: &str, got: &[f32], want: &[f32]) -> RankCheck {
    let max_abs_diff = got
        .iter()
        .zip(want)
        .map(|(a, b)| f64::from((a - b).abs()))
        .fold(0.0, f64::max);
    RankCheck {
        rank,
        what: what.to_string(),
        max_abs_diff,
        passed: got.len() == want.len() && got == want,
    }
}

/// All-reduce (sum and max), reduce-scatter, all-gather, and a ring of grouped sends and
/// receives, on `group`, each against the host's result.
pub fn collectives<B: Backend<F = f32>>(be: &B, group: &B::Group) -> Result<Vec<RankCheck>> {
    let (rank, size) = (be.group_rank(group), be.group_size(group));
    let n = 1000;
    let mine: Vec<f32> = (0..n).map(|i| value(rank, i)).collect();
    let of = |r: usize| -> Vec<f32> { (0..n).map(|i| value(r, i)).collect() };
    let mut checks = Vec::new();

    for op in [ReduceOp::Sum, ReduceOp::Max] {
        let mut buf = be.uploaded(&mine, Role::Grad);
        be.all_reduce(group, be.whole_mut(&mut buf), op)?;
        be.synchronize()?;
        let want: Vec<f32> = (0..n)
            .map(|i| {
                let all = (0..size).map(|r| value(r, i));
                match op {
                    ReduceOp::Sum => all.sum(),
                    ReduceOp::Max => all.fold(f32::MIN, f32::max),
                }
            })
            .collect();
        let what = format!("all_reduce {op:?} of {n} elements");
        checks.push(check(rank, &what, &be.to_host(be.whole(&buf), n), &want));
    }

    let k = n / size;
    let input = be.uploaded(&mine[..k * size], Role::Grad);
    let mut out = be.zeros(k, Role::Grad);
    be.reduce_scatter(group, be.whole(&input), be.whole_mut(&mut out))?;
    be.synchronize()?;
    let want: Vec<f32> = (0..k)
        .map(|i| (0..size).map(|r| value(r, rank * k + i)).sum())
        .collect();
    let what = format!("reduce_scatter of {} elements", k * size);
    checks.push(check(rank, &what, &be.to_host(be.whole(&out), k), &want));

    let local = be.uploaded(&mine[..k], Role::Grad);
    let mut all = be.zeros(k * size, Role::Grad);
    be.all_gather(group, be.whole(&local), be.whole_mut(&mut all))?;
    be.synchronize()?;
    let want: Vec<f32> = (0..size).flat_map(|r| of(r)[..k].to_vec()).collect();
    let what = format!("all_gather of {k} elements");
    checks.push(check(
        rank,
        &what,
        &be.to_host(be.whole(&all), k * size),
        &want,
    ));

    // Each rank sends to the next and receives from the previous, in one group (as the
    // pipeline's neighbours exchange).
    let (next, prev) = ((rank + 1) % size, (rank + size - 1) % size);
    let sent = be.uploaded(&mine, Role::Activation);
    let mut got = be.zeros(n, Role::Activation);
    be.p2p_group_start(group);
    be.send(group, next, be.whole(&sent))?;
    be.recv(group, prev, be.whole_mut(&mut got))?;
    be.p2p_group_end(group)?;
    be.synchronize()?;
    // Activations travel in bf16 on a GPU: the half-multiples below 128 are exact in it.
    let what = format!("send to rank {next} and receive from rank {prev}, grouped");
    checks.push(check(
        rank,
        &what,
        &be.to_host(be.whole(&got), n),
        &of(prev),
    ));
    Ok(checks)
}

/// The pipeline step's micro-batches: 4 of 2 × 64 tokens of the selftest's model.
const MICRO_BATCHES: usize = 4;
const BATCH: usize = 2;
const SEQ: usize = 64;

struct Tokens(Vec<u32>);

impl MicroBatches for Tokens {
    fn fill(&self, mb: usize, tokens: &mut Vec<u32>, targets: &mut Vec<u32>) -> Result<()> {
        tokens.clear();
        targets.clear();
        let rows = self.0.chunks_exact(SEQ + 1).skip(mb * BATCH).take(BATCH);
        for row in rows {
            tokens.extend_from_slice(&row[..SEQ]);
            targets.extend_from_slice(&row[1..]);
        }
        Ok(())
    }
}

/// What one pipeline stage's step gave: the last stage's loss, and each of the stage's
/// parameter tensors' gradients against the whole model's on the CPU backend.
#[derive(Debug, Clone, Serialize)]
pub struct StageCheck {
    pub stage: usize,
    pub loss: Option<RankCheck>,
    pub gradients: Vec<GradientCheck>,
}

impl StageCheck {
    pub fn passed(&self) -> bool {
        self.loss.as_ref().is_none_or(|l| l.passed) && self.gradients.iter().all(|g| g.passed())
    }
}

/// The loss tolerance of the pipeline step: bf16 activations passed between stages.
pub const PIPELINE_LOSS_TOLERANCE: f64 = 2e-2;

/// Stage `stage` of a 2-stage pipeline of the selftest's model on `be`, its neighbour over
/// `pp`: one 1F1B step of 4 micro-batches, against the whole model's step on the CPU. The tied
/// embedding is left out: each end holds part of its gradient until the trainer adds them.
pub fn pipeline_stage<B: Backend<F = f32>>(
    be: B,
    pp: &B::Group,
    stage: usize,
) -> Result<StageCheck> {
    let cfg = GptConfig::preset("tiny", 500)?;
    let tokens = Tokens(random_tokens(
        MICRO_BATCHES * BATCH * (SEQ + 1),
        cfg.vocab_size,
        21,
    ));
    let scale = 1.0 / (MICRO_BATCHES * BATCH * SEQ) as f32;
    let shard = ModelShard {
        pp: 2,
        pp_rank: stage,
        ..ModelShard::SINGLE
    };
    let mut m = model(be, &cfg, 5, shard)?;
    let tp = m.backend.single_group();
    let ops = one_f_one_b(2, stage, MICRO_BATCHES);
    let mut pool: Vec<Activations<B>> = Vec::new();
    m.zero_grads();
    let loss = run_stage(
        &mut m,
        &ops,
        &tokens,
        (BATCH, SEQ),
        scale,
        (&*tp, pp),
        &mut pool,
        None,
    )?;
    m.backend.synchronize()?;
    let grads = m.backend.to_host(m.backend.whole(&m.grads), m.layout.len);

    let mut whole = model(Cpu::<f32>::new(), &cfg, 5, ModelShard::SINGLE)?;
    let solo: &dyn Comm<f32> = &Solo;
    whole.zero_grads();
    let mut pool: Vec<Activations<Cpu<f32>>> = Vec::new();
    let want_loss = run_stage(
        &mut whole,
        &one_f_one_b(1, 0, MICRO_BATCHES),
        &tokens,
        (BATCH, SEQ),
        scale,
        (solo, solo),
        &mut pool,
        None,
    )?;
    let pairs: Vec<(String, Vec<f32>, Vec<f32>)> = m
        .layout
        .tensors
        .iter()
        .filter(|t| t.name != "wte.weight")
        .map(|t| {
            let full = whole.layout.get(&t.name).range();
            (
                t.name.clone(),
                whole.grads[full].to_vec(),
                grads[t.range()].to_vec(),
            )
        })
        .collect();
    let loss = m.shard.last_stage().then(|| {
        let diff = (loss - want_loss).abs();
        RankCheck {
            rank: stage,
            what: format!("loss sum {loss:.4} against {want_loss:.4}"),
            max_abs_diff: diff,
            passed: diff <= PIPELINE_LOSS_TOLERANCE * want_loss.abs(),
        }
    });
    Ok(StageCheck {
        stage,
        loss,
        gradients: compare_tensors(&pairs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::device_order::DeviceOrder;
    use crate::dist::ThreadGroup;

    /// Runs `f(rank, comm)` on `size` ranks as threads.
    fn ranks<T: Send>(
        size: usize,
        f: impl Fn(usize, &(dyn Comm<f32> + 'static)) -> T + Sync,
    ) -> Vec<T> {
        let group = ThreadGroup::new(size);
        std::thread::scope(|s| {
            let hs: Vec<_> = (0..size)
                .map(|r| {
                    let (comm, f) = (group.comm(r), &f);
                    s.spawn(move || f(r, &comm))
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    /// On 2 and 3 ranks, on the CPU and under NCCL's ordering, every collective gives the
    /// host's values.
    #[test]
    fn collectives_give_the_hosts_values_on_every_rank() {
        for size in [2, 3] {
            let checks = ranks(size, |_, comm| {
                let cpu = collectives(&Cpu::<f32>::new(), comm).unwrap();
                // SAFETY: the check holds no view across a group's end.
                let ordered = collectives(&unsafe { DeviceOrder::<f32>::new() }, comm).unwrap();
                [cpu, ordered].concat()
            });
            for c in checks.iter().flatten() {
                assert!(c.passed, "{size} ranks: {c:?}");
            }
            assert_eq!(checks[0].len(), 10);
        }
    }

    /// The check is not blind: a rank whose buffer is off by one element's value fails.
    #[test]
    fn a_wrong_value_fails_the_check() {
        let want: Vec<f32> = (0..10).map(|i| value(1, i)).collect();
        let mut got = want.clone();
        got[7] += 0.5;
        let c = check(0, "x", &got, &want);
        assert!(!c.passed && c.max_abs_diff == 0.5);
        assert!(check(0, "x", &want, &want).passed);
    }

    /// Two CPU stages (under NCCL's ordering) give the whole model's loss and gradients.
    #[test]
    fn a_two_stage_pipeline_step_matches_the_whole_model() {
        let stages = ranks(2, |stage, comm| {
            // SAFETY: the schedule holds no view across a group's end.
            pipeline_stage(unsafe { DeviceOrder::<f32>::new() }, comm, stage).unwrap()
        });
        assert!(stages[0].loss.is_none() && stages[1].loss.is_some());
        for s in &stages {
            assert!(s.passed(), "{s:?}");
            assert!(s.gradients.len() > 5, "{s:?}");
            assert!(s.gradients.iter().all(|g| g.tensor != "wte.weight"));
        }
    }
}
