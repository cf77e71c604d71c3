//! Running stages over shards: the stage trait, the runner, stats, progress, pipeline specs.

pub mod progress;
pub mod registry;
pub mod runner;
pub mod spec;
pub mod stage;
pub mod stats;
pub mod tasks;
