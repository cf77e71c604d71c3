//! Runs one stage's ops of a pipeline schedule: activations go to the next virtual stage,
//! gradients of activations come back, and each unit's (micro-batch on a model chunk)
//! activations live from its forward to its backward (at most `stages` at once under 1F1B).
//! With interleaving the neighbours form a ring: the last stage's next is the first stage,
//! which runs the next chunk.

use std::collections::HashMap;

use anyhow::{Context, Result};

use super::p2p_groups::{grouped, Step};
use super::schedule::{Op, Unit};
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
    // Each chunk's last backward makes its gradients final.
    let mut last_backward: HashMap<usize, Unit> = HashMap::new();
    for op in ops {
        if let Op::Backward(u) = op {
            last_backward.insert(u.chunk, *u);
        }
    }
    let stage = model.shard.pp_rank;
    let stages = model.shard.pp;
    let (prev, next) = ((stage + stages - 1) % stages, (stage + 1) % stages);
    // A forward-only schedule (evaluation) has no backward to keep activations for: each
    // micro-batch's go back to the pool once its output is sent (on the last stage, once its
    // loss is taken), so a stage holds one micro-batch's at a time, not all of them.
    let forward_only = !ops.iter().any(|op| matches!(op, Op::Backward(_)));
    // What passes between stages: the residual stream, of this rank's share of the tokens
    // under sequence parallelism.
    let width = model.stream_rows(batch * seq) * model.cfg.hidden;
    let mut acts: HashMap<Unit, Activations<B>> = HashMap::new();
    let mut inputs: HashMap<Unit, B::Buf> = HashMap::new();
    let mut douts: HashMap<Unit, B::Buf> = HashMap::new();
    let mut dinputs: HashMap<Unit, B::Buf> = HashMap::new();
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
            model.backend.p2p_group_start(pp);
        }
        // Units whose activations this step sends (final once the group ends).
        let mut sent = Vec::new();
        // Gradient buffers this step sends: NCCL reads a grouped send's buffer only when the
        // group ends, and a buffer freed before then goes to the next allocation of its size
        // (the group's zeroed receive buffer), so they live until the group has ended.
        let mut sending = Vec::new();
        for op in ops {
            match op {
                Op::RecvActivation(u) => {
                    let be = &model.backend;
                    let mut buf = be.zeros(width, Role::Activation);
                    be.recv(pp, prev, be.whole_mut(&mut buf)).with_context(|| {
                        format!("stage {stage}: receiving activations of {u:?}")
                    })?;
                    inputs.insert(u, buf);
                }
                Op::Forward(u) => {
                    // Reuse a finished unit's buffers when there is one.
                    let mut a = match pool.pop() {
                        Some(a) if a.batch == batch && a.seq == seq => a,
                        _ => Activations::new(batch, seq),
                    };
                    a.chunk = u.chunk;
                    batches.fill(u.mb, &mut a.tokens, &mut a.targets)?;
                    if let Some(x) = inputs.remove(&u) {
                        a.input = x;
                    }
                    loss += model.forward(&mut a, tp)?.unwrap_or(0.0);
                    if forward_only && model.shard.classifies(u.chunk) {
                        pool.push(a);
                    } else {
                        acts.insert(u, a);
                    }
                }
                Op::SendActivation(u) => {
                    let be = &model.backend;
                    be.send(pp, next, be.whole(acts[&u].output()))
                        .with_context(|| format!("stage {stage}: sending activations of {u:?}"))?;
                    sent.push(u);
                }
                Op::RecvGradient(u) => {
                    let be = &model.backend;
                    let mut buf = be.zeros(width, Role::Activation);
                    be.recv(pp, next, be.whole_mut(&mut buf))
                        .with_context(|| format!("stage {stage}: receiving gradients of {u:?}"))?;
                    douts.insert(u, buf);
                }
                Op::Backward(u) => {
                    let a = acts
                        .remove(&u)
                        .expect("forward before backward (checked schedule)");
                    let d = douts.remove(&u);
                    let last = last_backward.get(&u.chunk) == Some(&u);
                    let hook = match last {
                        // A reborrow: every chunk's last backward hears it.
                        true => ready.as_mut().map(|r| &mut **r as &mut dyn GradsReady<B>),
                        false => None,
                    };
                    let dinput = model.backward(&a, loss_scale, d, tp, last, hook)?;
                    dinputs.insert(u, dinput);
                    pool.push(a);
                }
                Op::SendGradient(u) => {
                    let d = dinputs
                        .remove(&u)
                        .expect("backward before sending its gradient");
                    let be = &model.backend;
                    be.send(pp, prev, be.whole(&d))
                        .with_context(|| format!("stage {stage}: sending gradients of {u:?}"))?;
                    sending.push(d);
                }
            }
        }
        if together {
            model.backend.p2p_group_end(pp)?;
        }
        drop(sending);
        if forward_only {
            for u in sent {
                pool.extend(acts.remove(&u));
            }
        }
    }
    pool.extend(acts.into_values());
    Ok(loss)
}
