//! Runs one stage's ops of a pipeline schedule: activations go to the next stage, gradients
//! of activations come back, and each micro-batch's activations live from its forward to its
//! backward (at most `stages` at once under 1F1B).

use std::collections::HashMap;

use anyhow::{Context, Result};

use super::schedule::Op;
use crate::backend::{Cpu, Float};
use crate::dist::Comm;
use crate::model::{Activations, Gpt};

/// What the executor needs from the trainer: how to fill micro-batch `mb`'s tokens/targets.
pub trait MicroBatches<F> {
    fn fill(&self, mb: usize, acts: &mut Activations<F>) -> Result<()>;
}

/// Runs `ops` (one stage's schedule) and returns the sum of the last stage's losses (zero on
/// other stages). Activation buffers come from and return to `pool`.
pub fn run_stage<F: Float>(
    model: &mut Gpt<Cpu<F>>,
    ops: &[Op],
    batches: &dyn MicroBatches<F>,
    (batch, seq): (usize, usize),
    loss_scale: F,
    (tp, pp): (&dyn Comm<F>, &dyn Comm<F>),
    pool: &mut Vec<Activations<F>>,
) -> Result<f64> {
    let stage = model.shard.pp_rank;
    let width = batch * seq * model.cfg.hidden;
    let mut acts: HashMap<usize, Activations<F>> = HashMap::new();
    let mut inputs: HashMap<usize, Vec<F>> = HashMap::new();
    let mut douts: HashMap<usize, Vec<F>> = HashMap::new();
    let mut dinputs: HashMap<usize, Vec<F>> = HashMap::new();
    let mut loss = 0.0;
    for &op in ops {
        match op {
            Op::RecvActivation(mb) => {
                let mut buf = vec![F::ZERO; width];
                pp.recv(stage - 1, &mut buf).with_context(|| {
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
                batches.fill(mb, &mut a)?;
                if let Some(x) = inputs.remove(&mb) {
                    a.input = x;
                }
                loss += model.forward(&mut a, tp)?.unwrap_or(0.0);
                acts.insert(mb, a);
            }
            Op::SendActivation(mb) => {
                pp.send(stage + 1, acts[&mb].output()).with_context(|| {
                    format!("stage {stage}: sending activations of micro-batch {mb}")
                })?;
            }
            Op::RecvGradient(mb) => {
                let mut buf = vec![F::ZERO; width];
                pp.recv(stage + 1, &mut buf).with_context(|| {
                    format!("stage {stage}: receiving gradients of micro-batch {mb}")
                })?;
                douts.insert(mb, buf);
            }
            Op::Backward(mb) => {
                let a = acts
                    .remove(&mb)
                    .expect("forward before backward (checked schedule)");
                let d = douts.remove(&mb);
                let dinput = model.backward(&a, loss_scale, d.as_deref(), tp)?;
                dinputs.insert(mb, dinput);
                pool.push(a);
            }
            Op::SendGradient(mb) => {
                let d = dinputs
                    .remove(&mb)
                    .expect("backward before sending its gradient");
                pp.send(stage - 1, &d).with_context(|| {
                    format!("stage {stage}: sending gradients of micro-batch {mb}")
                })?;
            }
        }
    }
    // Forward-only schedules (evaluation) keep their activations to the end.
    pool.extend(acts.into_values());
    Ok(loss)
}
