//! The pipeline's point-to-point messages as NCCL will issue them. The CPU communicators
//! buffer sends, so a stage never waits to send; NCCL's `ncclSend` does not complete until the
//! peer's `ncclRecv` is posted, and in 1F1B's steady state two neighbouring stages each send
//! to the other at once (activations forward, gradients back), which deadlocks if each send
//! waits alone. As in Megatron (`send_forward_recv_backward`, `send_backward_recv_forward`),
//! a send and the receive that follows it in a stage's schedule are issued together, between
//! `ncclGroupStart` and `ncclGroupEnd`. [`check_rendezvous`] simulates NCCL's semantics to
//! prove the grouped schedule completes.

use anyhow::{bail, Result};

use super::schedule::{Op, Unit};

/// One step of a stage as the device backend issues it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A forward or backward computation.
    Compute(Op),
    /// Sends and receives issued as one NCCL group (one op: no group needed).
    P2p(Vec<Op>),
}

fn is_p2p(op: &Op) -> bool {
    !matches!(op, Op::Forward(_) | Op::Backward(_))
}

/// A stage's schedule with every run of adjacent sends and receives made one group.
pub fn grouped(ops: &[Op]) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for &op in ops {
        match (steps.last_mut(), is_p2p(&op)) {
            (Some(Step::P2p(group)), true) => group.push(op),
            (_, true) => steps.push(Step::P2p(vec![op])),
            (_, false) => steps.push(Step::Compute(op)),
        }
    }
    steps
}

/// Every message on its own (what issuing each send and receive separately would do).
pub fn ungrouped(ops: &[Op]) -> Vec<Step> {
    ops.iter()
        .map(|&op| {
            if is_p2p(&op) {
                Step::P2p(vec![op])
            } else {
                Step::Compute(op)
            }
        })
        .collect()
}

/// The stage and operation that match `op` of stage `s` of `n`: the neighbouring virtual
/// stage's (chunk c of stage s is virtual stage `c·n + s`; the last stage's neighbour is the
/// first stage's next chunk).
fn counterpart(n: usize, s: usize, op: Op) -> Option<(usize, Op)> {
    let u = op.unit();
    let vs = u.chunk * n + s;
    let at = |vs: usize| (vs % n, vs / n);
    let (peer, chunk, want): (usize, usize, fn(Unit) -> Op) = match op {
        Op::SendActivation(_) => {
            let (p, c) = at(vs + 1);
            (p, c, Op::RecvActivation)
        }
        Op::RecvActivation(_) => {
            let (p, c) = at(vs.checked_sub(1)?);
            (p, c, Op::SendActivation)
        }
        Op::SendGradient(_) => {
            let (p, c) = at(vs.checked_sub(1)?);
            (p, c, Op::RecvGradient)
        }
        Op::RecvGradient(_) => {
            let (p, c) = at(vs + 1);
            (p, c, Op::SendGradient)
        }
        Op::Forward(_) | Op::Backward(_) => return None,
    };
    Some((peer, want(Unit { chunk, mb: u.mb })))
}

/// Runs the stages under NCCL's point-to-point semantics: a stage at a group posts all of its
/// operations; an operation completes when its counterpart is posted by the peer at the same
/// time; the stage moves on when every operation of its group has completed. Computation
/// never waits. Fails, naming where each stage stood, if the stages cannot all finish.
pub fn check_rendezvous(stages: &[Vec<Step>]) -> Result<()> {
    let n = stages.len();
    let mut pc = vec![0usize; n];
    // Operations of each stage's current group that have completed.
    let mut done: Vec<Vec<Op>> = vec![Vec::new(); n];
    loop {
        let mut progressed = false;
        for s in 0..n {
            while let Some(Step::Compute(_)) = stages[s].get(pc[s]) {
                pc[s] += 1;
                progressed = true;
            }
        }
        // Match posted operations pairwise.
        for s in 0..n {
            let Some(Step::P2p(group)) = stages[s].get(pc[s]) else {
                continue;
            };
            for &op in group {
                if done[s].contains(&op) {
                    continue;
                }
                let Some((peer, want)) = counterpart(n, s, op) else {
                    continue;
                };
                let posted =
                    matches!(stages[peer].get(pc[peer]), Some(Step::P2p(g)) if g.contains(&want));
                if posted && !done[peer].contains(&want) {
                    done[s].push(op);
                    done[peer].push(want);
                    progressed = true;
                }
            }
        }
        for s in 0..n {
            if let Some(Step::P2p(group)) = stages[s].get(pc[s]) {
                if group.iter().all(|op| done[s].contains(op)) {
                    pc[s] += 1;
                    done[s].clear();
                    progressed = true;
                }
            }
        }
        if (0..n).all(|s| pc[s] == stages[s].len()) {
            return Ok(());
        }
        if !progressed {
            let at: Vec<String> = (0..n)
                .map(|s| match stages[s].get(pc[s]) {
                    Some(step) => format!("stage {s} waits at {step:?}"),
                    None => format!("stage {s} finished"),
                })
                .collect();
            bail!("the pipeline deadlocks: {}", at.join("; "));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::schedule::{forward_only, one_f_one_b, pipeline};
    use super::*;

    fn u(mb: usize) -> Unit {
        Unit::mb(mb)
    }

    #[test]
    fn grouping_pairs_each_send_with_the_receive_after_it() {
        // Stage 1 of 3, 4 micro-batches: warm-up forward, then steady 1F1B.
        let steps = grouped(&one_f_one_b(3, 1, 4));
        let groups: Vec<&Vec<Op>> = steps
            .iter()
            .filter_map(|s| match s {
                Step::P2p(g) => Some(g),
                _ => None,
            })
            .collect();
        assert!(groups.iter().all(|g| g.len() <= 2));
        assert!(groups.contains(&&vec![Op::SendActivation(u(1)), Op::RecvGradient(u(0))]));
        assert!(groups.contains(&&vec![Op::SendGradient(u(0)), Op::RecvActivation(u(2))]));
    }

    #[test]
    fn sends_waiting_alone_deadlock_in_the_steady_state() {
        let schedule: Vec<Vec<Step>> = pipeline(2, 1, 4)
            .unwrap()
            .iter()
            .map(|ops| ungrouped(ops))
            .collect();
        let err = check_rendezvous(&schedule).unwrap_err().to_string();
        assert!(err.contains("deadlocks"), "{err}");
    }

    #[test]
    fn grouped_schedules_complete_under_nccl_semantics() {
        for stages in 1..=8 {
            for micro_batches in 1..=12 {
                let schedule: Vec<Vec<Step>> = pipeline(stages, 1, micro_batches)
                    .unwrap()
                    .iter()
                    .map(|ops| grouped(ops))
                    .collect();
                check_rendezvous(&schedule).unwrap_or_else(|e| {
                    panic!("{stages} stages, {micro_batches} micro-batches: {e}")
                });
                let eval: Vec<Vec<Step>> = (0..stages)
                    .map(|s| grouped(&forward_only(one_f_one_b(stages, s, micro_batches))))
                    .collect();
                check_rendezvous(&eval)
                    .unwrap_or_else(|e| panic!("forward only, {stages} stages: {e}"));
            }
        }
    }

    /// Interleaved 1F1B (2 to 4 chunks, up to 8 stages, micro-batches in groups of the
    /// stages) with its sends and receives grouped as the executor issues them completes under
    /// NCCL's semantics, training and evaluation.
    #[test]
    fn grouped_interleaved_schedules_complete_under_nccl_semantics() {
        for stages in 2..=8 {
            for chunks in 2..=4 {
                for m in (stages..=3 * stages).step_by(stages) {
                    let schedule = pipeline(stages, chunks, m).unwrap();
                    let steps: Vec<Vec<Step>> = schedule.iter().map(|ops| grouped(ops)).collect();
                    check_rendezvous(&steps)
                        .unwrap_or_else(|e| panic!("p {stages} v {chunks} m {m}: {e}"));
                    let eval: Vec<Vec<Step>> = schedule
                        .into_iter()
                        .map(|ops| grouped(&forward_only(ops)))
                        .collect();
                    check_rendezvous(&eval).unwrap_or_else(|e| {
                        panic!("forward only p {stages} v {chunks} m {m}: {e}")
                    });
                }
            }
        }
    }
}
