//! Learning-rate and batch-size schedules, as Megatron-LM computes them.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// Linear warm-up to `max_lr`, cosine decay to `min_lr` at `decay_iters`, then flat.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    pub max_lr: f64,
    pub min_lr: f64,
    pub warmup_iters: u64,
    pub decay_iters: u64,
}

impl LrSchedule {
    /// The learning rate of iteration `it` (counted from 1, as Megatron's scheduler is
    /// stepped once before the first update).
    pub fn at(&self, it: u64) -> f64 {
        if self.warmup_iters > 0 && it <= self.warmup_iters {
            return self.max_lr * it as f64 / self.warmup_iters as f64;
        }
        if it > self.decay_iters {
            return self.min_lr;
        }
        let span = (self.decay_iters - self.warmup_iters).max(1) as f64;
        let ratio = (it - self.warmup_iters) as f64 / span;
        let coeff = 0.5 * ((std::f64::consts::PI * ratio).cos() + 1.0);
        self.min_lr + coeff * (self.max_lr - self.min_lr)
    }
}

/// Megatron's `--rampup-batch-size START INCREMENT SAMPLES`: the global batch grows from
/// `start` by `increment` every `samples / ((global − start) / increment)` consumed samples
/// until it reaches the full global batch. (MT-NLG: 32 → 1920 over 250B tokens.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchSchedule {
    pub global: u64,
    pub rampup: Option<(u64, u64, u64)>,
    /// Micro-batch size × data-parallel size: every global batch is a multiple of it.
    pub unit: u64,
}

impl BatchSchedule {
    pub fn new(global: u64, rampup: Option<(u64, u64, u64)>, unit: u64) -> Result<Self> {
        if global == 0 || unit == 0 || !global.is_multiple_of(unit) {
            bail!("global batch {global} is not a multiple of micro-batch × data-parallel size {unit}");
        }
        if let Some((start, inc, samples)) = rampup {
            if start == 0
                || inc == 0
                || start > global
                || !(global - start).is_multiple_of(inc)
                || samples == 0
            {
                bail!("batch ramp-up {start},{inc},{samples} does not step evenly to {global}");
            }
            if start % unit != 0 || inc % unit != 0 {
                bail!("batch ramp-up sizes must be multiples of micro-batch × data-parallel size {unit}");
            }
        }
        Ok(BatchSchedule {
            global,
            rampup,
            unit,
        })
    }

    /// The global batch size after `consumed` samples.
    pub fn at(&self, consumed: u64) -> u64 {
        let Some((start, inc, samples)) = self.rampup else {
            return self.global;
        };
        let steps = (self.global - start) / inc;
        if steps == 0 {
            return self.global;
        }
        let per_step = samples / steps;
        let grown = consumed.checked_div(per_step).unwrap_or(steps);
        (start + grown * inc).min(self.global)
    }

    /// Every global batch size the schedule takes: the ramp-up's, then the final one.
    pub fn sizes(&self) -> Vec<u64> {
        match self.rampup {
            None => vec![self.global],
            Some((start, inc, _)) => (start..=self.global).step_by(inc as usize).collect(),
        }
    }

    /// Samples consumed by `iters` iterations from the start.
    pub fn samples_for(&self, iters: u64) -> u64 {
        let mut consumed = 0;
        for _ in 0..iters {
            consumed += self.at(consumed);
        }
        consumed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine_to_the_floor() {
        let s = LrSchedule {
            max_lr: 1.0,
            min_lr: 0.1,
            warmup_iters: 10,
            decay_iters: 110,
        };
        assert_eq!(s.at(5), 0.5);
        assert_eq!(s.at(10), 1.0);
        assert!((s.at(60) - 0.55).abs() < 1e-12);
        assert!((s.at(110) - 0.1).abs() < 1e-12);
        assert_eq!(s.at(500), 0.1);
    }

    #[test]
    fn rampup_grows_in_steps() {
        let b = BatchSchedule::new(64, Some((16, 16, 300)), 8).unwrap();
        assert_eq!(b.at(0), 16);
        assert_eq!(b.at(99), 16);
        assert_eq!(b.at(100), 32);
        assert_eq!(b.at(250), 48);
        assert_eq!(b.at(10_000), 64);
        assert_eq!(b.samples_for(3), 48);
        assert!(BatchSchedule::new(64, Some((16, 20, 300)), 8).is_err());
    }
}
