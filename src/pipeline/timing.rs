//! How long each task of a plan step took: `OUT/timings/<step>/<i>-of-<n>.json`.
//!
//! Times are measurements, not results, so they live apart from the outputs (which are
//! byte-identical from run to run) and feed only the data card's throughput table. A task
//! that is run again adds its time to the file: a step re-run after a crash counts the
//! attempts that finished, and a re-run that finds everything done adds almost nothing.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::io::shards::AtomicFile;

/// The accumulated time of one task of one step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskTiming {
    pub step: String,
    /// The step's place in its plan (0 = first), to list steps in the order they run.
    pub position: usize,
    pub task: usize,
    pub tasks: usize,
    /// Finished attempts added up here.
    pub attempts: u32,
    pub wall_seconds: f64,
    /// User + system CPU time of the process during the task.
    pub cpu_seconds: f64,
    pub threads: usize,
}

/// CPU seconds (user + system) this process has used so far.
pub fn process_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut u) != 0 {
            return 0.0;
        }
        u
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// A running measurement of one task.
pub struct Stopwatch {
    wall: Instant,
    cpu: f64,
}

impl Stopwatch {
    pub fn start() -> Stopwatch {
        Stopwatch {
            wall: Instant::now(),
            cpu: process_cpu_seconds(),
        }
    }

    /// Adds this attempt to the task's timing file.
    pub fn record(
        &self,
        out: &Path,
        (step, position): (&str, usize),
        (task, tasks): (usize, usize),
        threads: usize,
    ) -> Result<()> {
        let path = timing_path(out, step, task, tasks);
        let mut t = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            Err(_) => TaskTiming::default(),
        };
        t.step = step.to_string();
        t.position = position;
        t.task = task;
        t.tasks = tasks;
        t.attempts += 1;
        t.wall_seconds += self.wall.elapsed().as_secs_f64();
        t.cpu_seconds += (process_cpu_seconds() - self.cpu).max(0.0);
        t.threads = threads;
        let mut bytes = serde_json::to_vec_pretty(&t)?;
        bytes.push(b'\n');
        AtomicFile::write_all(&path, &bytes)
    }
}

fn timing_path(out: &Path, step: &str, task: usize, tasks: usize) -> PathBuf {
    out.join("timings")
        .join(step)
        .join(format!("{task}-of-{tasks}.json"))
}

/// Every task timing under `OUT/timings/`, in step-directory then file-name order.
pub fn load_all(out: &Path) -> Result<Vec<TaskTiming>> {
    let dir = out.join("timings");
    let mut found = Vec::new();
    if !dir.is_dir() {
        return Ok(found);
    }
    let mut steps: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    steps.sort();
    for step in steps {
        let mut files: Vec<_> = std::fs::read_dir(&step)?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f)?;
            found.push(
                serde_json::from_slice(&bytes)
                    .with_context(|| format!("{} is not a task timing", f.display()))?,
            );
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_add_up_and_cpu_time_is_measured() {
        let d = tempfile::tempdir().unwrap();
        for _ in 0..2 {
            let w = Stopwatch::start();
            // Burn a little CPU so the measurement has something to see.
            let mut x = 0u64;
            for i in 0..20_000_000u64 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
            }
            std::hint::black_box(x);
            w.record(d.path(), ("pass-0", 0), (1, 3), 2).unwrap();
        }
        let all = load_all(d.path()).unwrap();
        assert_eq!(all.len(), 1);
        let t = &all[0];
        assert_eq!(
            (t.step.as_str(), t.task, t.tasks, t.attempts),
            ("pass-0", 1, 3, 2)
        );
        assert!(t.cpu_seconds > 0.0 && t.wall_seconds > 0.0, "{t:?}");
        assert!(d.path().join("timings/pass-0/1-of-3.json").is_file());
    }
}
