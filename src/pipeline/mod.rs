//! Running stages over shards: the stage trait, the runner, stats, progress, the options every
//! stage command shares, pipeline specs, publishing.

pub mod command;
pub mod global;
pub mod progress;
pub mod publish;
pub mod runner;
pub mod spec;
pub mod stage;
pub mod stats;
pub mod tasks;
pub mod timing;

/// How a command ended, as the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything was processed (bad records are counted, not failures).
    Ok,
    /// Some input files could not be processed; the others were. Exit code 2.
    Partial,
}
