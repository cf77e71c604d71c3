//! Running stages over shards: the stage trait, the runner, stats, progress, pipeline specs.

pub mod ledger;
pub mod progress;
pub mod publish;
pub mod registry;
pub mod runner;
pub mod spec;
pub mod stage;
pub mod stats;
pub mod tasks;
pub mod timing;
