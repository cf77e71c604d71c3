//! Learning-rate and batch-size schedules, as Megatron-LM computes them.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// Linear warm-up from 0 to `max_lr`, cosine decay to `min_lr` at `decay_iters`, then flat.
///
/// As Megatron-LM's `OptimizerParamScheduler` with `--train-iters`: its position is the
/// number of samples consumed before the update (the scheduler is stepped by each update's
/// batch after that update), and the warm-up and decay lengths are iterations × the full
/// global batch. So the first update runs at learning rate 0, and under a batch ramp-up the
/// schedule advances by each step's smaller batch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    pub max_lr: f64,
    pub min_lr: f64,
    pub warmup_iters: u64,
    pub decay_iters: u64,
}

impl LrSchedule {
    /// Refuses what Megatron's scheduler asserts against: a warm-up that does not end before
    /// the decay does, or a `min_lr` above `max_lr`.
    pub fn check(&self) -> Result<()> {
        if self.decay_iters == 0 || self.warmup_iters >= self.decay_iters {
            bail!(
                "the warm-up ({} iterations) must end before the decay ({} iterations) does",
                self.warmup_iters,
                self.decay_iters
            );
        }
        if !(0.0 <= self.min_lr && self.min_lr <= self.max_lr) {
            bail!(
                "the minimum learning rate {} is not between 0 and the learning rate {}",
                self.min_lr,
                self.max_lr
            );
        }
        Ok(())
    }

    /// The learning rate of the update made after `consumed` samples, with a full global
    /// batch of `global` samples.
    pub fn at(&self, consumed: u64, global: u64) -> f64 {
        let warmup = self.warmup_iters * global;
        let decay = self.decay_iters * global;
        if warmup > 0 && consumed <= warmup {
            return self.max_lr * consumed as f64 / warmup as f64;
        }
        if consumed > decay {
            return self.min_lr;
        }
        let ratio = (consumed - warmup) as f64 / (decay - warmup) as f64;
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

    /// Values by hand from Megatron's definition (positions in samples, lengths iterations ×
    /// the global batch of 4): warm-up over 40 samples, cosine to the floor at 440.
    #[test]
    fn warmup_then_cosine_to_the_floor_counted_in_samples() {
        let s = LrSchedule {
            max_lr: 1.0,
            min_lr: 0.1,
            warmup_iters: 10,
            decay_iters: 110,
        };
        s.check().unwrap();
        assert_eq!(s.at(0, 4), 0.0, "the first update");
        assert_eq!(s.at(20, 4), 0.5);
        assert_eq!(
            s.at(40, 4),
            1.0,
            "the warm-up's last position is in the warm-up"
        );
        // One sample past the warm-up: the cosine's first step.
        let first = 0.1 + 0.45 * ((std::f64::consts::PI / 400.0).cos() + 1.0);
        assert_eq!(s.at(41, 4), first);
        assert!((s.at(240, 4) - 0.55).abs() < 1e-12);
        assert!((s.at(440, 4) - 0.1).abs() < 1e-12);
        assert_eq!(s.at(441, 4), 0.1);
        assert_eq!(s.at(10_000, 4), 0.1);
        // Under a ramp-up a step of 2 samples advances the schedule by half an iteration.
        assert_eq!(s.at(2, 4), 0.05);
        let no_warmup = LrSchedule {
            warmup_iters: 0,
            ..s
        };
        assert_eq!(no_warmup.at(0, 4), 1.0);
    }

    #[test]
    fn a_warmup_not_ending_before_the_decay_is_refused() {
        let s = |warmup_iters, decay_iters, min_lr| LrSchedule {
            max_lr: 1.0,
            min_lr,
            warmup_iters,
            decay_iters,
        };
        assert!(s(9, 10, 0.1).check().is_ok());
        let e = s(10, 10, 0.1).check().unwrap_err().to_string();
        assert!(
            e.contains("warm-up (10 iterations) must end before the decay (10"),
            "{e}"
        );
        assert!(s(0, 0, 0.1).check().is_err());
        assert!(s(1, 10, 2.0).check().is_err());
        assert!(s(1, 10, -0.1).check().is_err());
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
