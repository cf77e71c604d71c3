//! Runs one stage's ops of a pipeline schedule: activations go to the next stage, gradients
//! of activations come back, and each micro-batch's activations live from its forward to its
//! backward (at most `stages` at once under 1F1B).

use std::collections::HashMap;

use anyhow::{Context, Result};

use super::p2p_groups::{grouped, Step};
use super::schedule::Op;
use crate::backend::{Backend, BackendExt, Role};
use crate::model::{Activations, Gpt, GradsReady};

/// What the executor needs from the trainer: how to fill micro-batch `mb`'s tokens/targets.
pub trait MicroBatches {
    fn fill(&self, mb: usize, tokens: &mut Vec<u32>, targets: &mut Vec<u32>) -> Result<()>;
}

/// Runs `ops` (one stage's schedule) and returns the sum of the last stage's losses (zero on
/// other stages). Activation buffers come from and return to `pool`. `ready` hears the
/// gradients become final during the schedule's last backward.
#[allow(clippy::too_many_arguments)]
pub fn run_stage<B: Backend>(
    model: &mut Gpt<B>,
    ops: &[Op],
    batches: &dyn MicroBatches,
    (batch, seq): (usize, usize),
    loss_scale: B::F,
    (tp, pp): (&B::Group, &B::Group),
    pool: &mut Vec<Activations<B>>,
    mut ready: Option<&mut dyn GradsReady<B>>,
) -> Result<f64> {
    let last_backward = ops.iter().rev().find_map(|op| match op {
        Op::Backward(mb) => Some(*mb),
        _ => None,
    });
    let stage = model.shard.pp_rank;
    let last_stage = model.shard.last_stage();
    // A forward-only schedule (evaluation) has no backward to keep activations for: each
    // micro-batch's go back to the pool once its output is sent (on the last stage, once its
    // loss is taken), so a stage holds one micro-batch's at a time, not all of them.
    let forward_only = !ops.iter().any(|op| matches!(op, Op::Backward(_)));
    let width = batch * seq * model.cfg.hidden;
    let mut acts: HashMap<usize, Activations<B>> = HashMap::new();
    let mut inputs: HashMap<usize, B::Buf> = HashMap::new();
    let mut douts: HashMap<usize, B::Buf> = HashMap::new();
    let mut dinputs: HashMap<usize, B::Buf> = HashMap::new();
    let mut loss = 0.0;
    for step in grouped(ops) {
        // A stage's adjacent sends and receives go out as one group (see p2p_groups).
        let (ops, together) = match step {
            Step::Compute(op) => (vec![op], false),
            Step::P2p(group) => {
                let together = group.len() > 1;
                (group, together)
            }
        };
        if together {
            model.backend.p2p_group_start();
        }
        // Micro-batches whose activations this step sends (final once the group ends).
        let mut sent = Vec::new();
        for op in ops {
            match op {
                Op::RecvActivation(mb) => {
                    let be = &model.backend;
                    let mut buf = be.zeros(width, Role::Activation);
                    be.recv(pp, stage - 1, be.whole_mut(&mut buf))
                        .with_context(|| {
                            format!("stage {stage}: receiving activations of micro-batch {mb}")
                        })?;
                    inputs.insert(mb, buf);
                }
                Op::Forward(mb) => {
                    // Reuse a finished micro-batch's buffers when there is one.
                    let mut a = match pool.pop() {
                        Some(a) if a.batch == batch && a.seq == seq => a,
                        _ => Activations::new(batch, seq),
                    };
                    batches.fill(mb, &mut a.tokens, &mut a.targets)?;
                    if let Some(x) = inputs.remove(&mb) {
                        a.input = x;
                    }
                    loss += model.forward(&mut a, tp)?.unwrap_or(0.0);
                    if forward_only && last_stage {
                        pool.push(a);
                    } else {
                        acts.insert(mb, a);
                    }
                }
                Op::SendActivation(mb) => {
                    let be = &model.backend;
                    be.send(pp, stage + 1, be.whole(acts[&mb].output()))
                        .with_context(|| {
                            format!("stage {stage}: sending activations of micro-batch {mb}")
                        })?;
                    sent.push(mb);
                }
                Op::RecvGradient(mb) => {
                    let be = &model.backend;
                    let mut buf = be.zeros(width, Role::Activation);
                    be.recv(pp, stage + 1, be.whole_mut(&mut buf))
                        .with_context(|| {
                            format!("stage {stage}: receiving gradients of micro-batch {mb}")
                        })?;
                    douts.insert(mb, buf);
                }
                Op::Backward(mb) => {
                    let a = acts
                        .remove(&mb)
                        .expect("forward before backward (checked schedule)");
                    let d = douts.remove(&mb);
                    let hook = match last_backward == Some(mb) {
                        true => ready.take(),
                        false => None,
                    };
                    let dinput = model.backward(&a, loss_scale, d, tp, hook)?;
                    dinputs.insert(mb, dinput);
                    pool.push(a);
                }
                Op::SendGradient(mb) => {
                    let d = dinputs
                        .remove(&mb)
                        .expect("backward before sending its gradient");
                    let be = &model.backend;
                    be.send(pp, stage - 1, be.whole(&d)).with_context(|| {
                        format!("stage {stage}: sending gradients of micro-batch {mb}")
                    })?;
                }
            }
        }
        if together {
            model.backend.p2p_group_end()?;
        }
        if forward_only {
            for mb in sent {
                pool.extend(acts.remove(&mb));
            }
        }
    }
    pool.extend(acts.into_values());
    Ok(loss)
}
