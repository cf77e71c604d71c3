//! The ledger of a `sieve run` on one machine, `OUT/work/run.json`: which process runs the
//! spec, which step it is on, how each step ended, and where each step leaves its completion
//! markers. `sieve status OUT` reads it to say how far a run got, whether it is still going,
//! and what failed, without the spec and without re-planning.
//!
//! Progress itself is never stored here: it is counted from the markers the steps write after
//! their outputs, so the ledger cannot claim work that is not on disk. The ledger is state of
//! the process, not an output: it lives under `work/` (never published, not compared between
//! runs).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::io::shards::AtomicFile;

/// Where a step's completion markers are, relative to the run directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Markers {
    /// One marker file per finished task in this directory.
    Dir(PathBuf),
    /// The step is done when this file exists.
    File(PathBuf),
    /// The step leaves nothing in the run directory (publishing goes elsewhere): the ledger's
    /// own record says whether it finished.
    Ledger,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepState {
    Pending,
    Running,
    Done,
    /// Finished with some inputs that could not be read (the others are done).
    Partial,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    pub name: String,
    pub tasks: usize,
    pub markers: Markers,
    pub state: StepState,
    /// Why the step failed, as the run printed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Running,
    Finished,
    /// Ended early: a step failed or some inputs could not be read.
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ledger {
    pub spec: PathBuf,
    pub pid: u32,
    pub host: String,
    /// Seconds since the Unix epoch.
    pub started: u64,
    pub updated: u64,
    pub state: RunState,
    pub steps: Vec<StepRecord>,
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// This machine's name, to tell whether a recorded process could be one of ours.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default()
}

/// Whether process `pid` is alive on this machine (a zombie is not).
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the command name in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

pub fn path(out: &Path) -> PathBuf {
    out.join("work").join("run.json")
}

impl Ledger {
    /// A ledger for this process starting `steps`.
    pub fn start(out: &Path, spec: &Path, steps: Vec<(String, usize, Markers)>) -> Result<Ledger> {
        let spec = std::path::absolute(spec).unwrap_or_else(|_| spec.to_path_buf());
        let t = now();
        let ledger = Ledger {
            spec,
            pid: std::process::id(),
            host: host_name(),
            started: t,
            updated: t,
            state: RunState::Running,
            steps: steps
                .into_iter()
                .map(|(name, tasks, markers)| StepRecord {
                    name,
                    tasks,
                    markers,
                    state: StepState::Pending,
                    error: None,
                })
                .collect(),
        };
        ledger.save(out)?;
        Ok(ledger)
    }

    pub fn load(out: &Path) -> Result<Option<Ledger>> {
        let p = path(out);
        match std::fs::read(&p) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .with_context(|| format!("{} is not a sieve run ledger", p.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", p.display())),
        }
    }

    fn save(&self, out: &Path) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        AtomicFile::write_all(&path(out), &bytes)
    }

    /// Records a step's new state (and why, when it failed), and the run's state with it.
    pub fn set(
        &mut self,
        out: &Path,
        step: &str,
        state: StepState,
        error: Option<String>,
    ) -> Result<()> {
        if let Some(s) = self.steps.iter_mut().find(|s| s.name == step) {
            s.state = state;
            s.error = error;
        }
        self.updated = now();
        self.save(out)
    }

    pub fn end(&mut self, out: &Path, state: RunState) -> Result<()> {
        self.state = state;
        self.updated = now();
        self.save(out)
    }

    /// Whether the process that wrote this ledger is still running it.
    pub fn alive(&self) -> bool {
        self.state == RunState::Running && self.host == host_name() && process_alive(self.pid)
    }
}

/// Marker files in `dir` (temporaries, which start with a dot, are not markers; a missing
/// directory holds none).
pub fn count_markers(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(|e| e.ok())
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .count()
    })
}

/// Finished tasks of a step, counted from its markers (at most its task count).
pub fn done_tasks(out: &Path, step: &StepRecord) -> usize {
    let done = match &step.markers {
        Markers::Dir(dir) => count_markers(&out.join(dir)),
        Markers::File(file) => usize::from(out.join(file).is_file()),
        Markers::Ledger => usize::from(step.state == StepState::Done),
    };
    done.min(step.tasks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_count_finished_tasks_and_the_ledger_round_trips() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path();
        let mut ledger = Ledger::start(
            out,
            Path::new("spec.toml"),
            vec![
                ("pass-1".into(), 3, Markers::Dir("done".into())),
                (
                    "report".into(),
                    1,
                    Markers::File("report/index.html".into()),
                ),
                ("publish".into(), 1, Markers::Ledger),
            ],
        )
        .unwrap();
        std::fs::create_dir_all(out.join("done")).unwrap();
        for name in ["a", "b", ".b.tmp"] {
            std::fs::write(out.join("done").join(name), b"").unwrap();
        }
        ledger.set(out, "publish", StepState::Done, None).unwrap();
        let back = Ledger::load(out).unwrap().unwrap();
        assert_eq!(back.pid, std::process::id());
        assert!(back.alive(), "this process is running");
        let counts: Vec<usize> = back.steps.iter().map(|s| done_tasks(out, s)).collect();
        assert_eq!(counts, [2, 0, 1]);
        ledger.end(out, RunState::Finished).unwrap();
        assert!(!Ledger::load(out).unwrap().unwrap().alive());
    }

    #[test]
    fn a_process_that_ended_is_not_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!process_alive(pid));
        assert!(process_alive(std::process::id()));
    }
}
