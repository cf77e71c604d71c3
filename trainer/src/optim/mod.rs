//! The optimiser (AdamW, global-norm clipping lives with the trainer) and the schedules.

pub mod adamw;
pub mod schedule;

pub use adamw::{AdamConfig, AdamState, AdamStep};
pub use schedule::{BatchSchedule, LrSchedule};
