//! Global stages: stages that need every document before they can decide about any (dedup,
//! decontam) or that turn the finished documents into something else (tokenize, blend).
//!
//! A global stage is a list of steps. Each step is partitioned in one of three ways (one task
//! per input shard, a number of key-space partitions the stage computes from its settings, or
//! one task), and its tasks pass files to the next step through the stage's work directory,
//! leaving completion markers there. A stage placed between document stages then hands the
//! next pass a per-document stage (the dedup filter, the decontam strip) that reads the work
//! directory's result. The plan (`orchestrate::plan`) only puts steps in order and runs them;
//! what a step does is here, in each stage's implementation.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use super::runner::Job;
use super::stage::StageFactory;

/// How a step's tasks are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// Tasks over document shards.
    Map,
    /// Tasks over partitions of a global step's key space.
    Reduce,
    /// One task.
    Single,
}

/// Where a global stage sits in a spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Between document stages: the documents before it are written to a pass of their own,
    /// its steps run over them, and its per-document part leads the next pass.
    Between,
    /// At the end of the spec, over the finished documents (`OUT`), after the stats are final.
    /// `after`: the end stage that must come right before it, if any.
    End { after: Option<&'static str> },
}

/// One step of a global stage.
#[derive(Debug, Clone)]
pub struct GlobalStep {
    /// The step's name in the plan (`dedup-edges`, `tokenize`).
    pub name: String,
    pub kind: StepKind,
    /// Tasks of a `Reduce` step (a `Map` step has one per shard, a `Single` step one).
    pub partitions: usize,
    /// Where a finished task leaves its marker, relative to the stage's work directory.
    pub done: Completion,
}

impl GlobalStep {
    pub fn map(name: impl Into<String>, done: Completion) -> GlobalStep {
        GlobalStep {
            name: name.into(),
            kind: StepKind::Map,
            partitions: 0,
            done,
        }
    }

    pub fn reduce(name: impl Into<String>, partitions: usize, done: Completion) -> GlobalStep {
        GlobalStep {
            name: name.into(),
            kind: StepKind::Reduce,
            partitions,
            done,
        }
    }

    pub fn single(name: impl Into<String>, done: Completion) -> GlobalStep {
        GlobalStep {
            name: name.into(),
            kind: StepKind::Single,
            partitions: 1,
            done,
        }
    }

    /// Tasks of this step when the stage reads `shards` shards.
    pub fn tasks(&self, shards: usize) -> usize {
        match self.kind {
            StepKind::Map => shards,
            StepKind::Reduce => self.partitions,
            StepKind::Single => 1,
        }
    }
}

/// The marker a finished task leaves, relative to the stage's work directory: one file per
/// task in a directory, or one file for the whole step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    Dir(PathBuf),
    File(PathBuf),
}

/// What a step's task is given.
pub struct StepContext<'a> {
    /// The run's output directory.
    pub out: &'a Path,
    /// The stage's work directory ([`GlobalStage::work_dir`]).
    pub work: &'a Path,
    /// Every shard the stage reads, and the ones of this task (a `Map` step's share).
    pub all: &'a [Job],
    pub mine: &'a [Job],
    /// This task of the step's tasks: (i, n).
    pub part: (usize, usize),
    pub threads: usize,
    pub quiet: bool,
}

/// A stage that works on the whole corpus in steps. Registered beside the streaming stages
/// (`stages/registry.rs`), built from its `[[stage]]` table.
pub trait GlobalStage: Send + Sync {
    fn name(&self) -> &'static str;

    fn placement(&self) -> Placement {
        Placement::Between
    }

    /// Where its steps pass files to each other, inside the run's output directory.
    fn work_dir(&self, out: &Path) -> PathBuf {
        out.join("work").join(self.name())
    }

    /// Its steps, in the order they run.
    fn steps(&self) -> Vec<GlobalStep>;

    /// Runs one task of step `step` (an index into [`GlobalStage::steps`]).
    fn run_step(&self, step: usize, cx: &StepContext) -> Result<()>;

    /// The per-document stage that leads the next pass, reading the finished work directory
    /// (`Between` stages only).
    fn lead(&self, _work: &Path) -> Result<Option<StageFactory>> {
        Ok(None)
    }

    /// Called once the whole chain's stats are written, with the run's output directory
    /// (decontam sums up what it cut).
    fn after_finish(&self, _out: &Path, _quiet: bool) -> Result<()> {
        Ok(())
    }
}
