//! `sieve slurm submit SPEC.toml` (see `orchestrate/slurm.rs`) and the Slurm part of
//! `sieve status OUT`: per step, tasks done, running, pending, failed and not run.

use std::path::Path;

use anyhow::{Context, Result};
use clap::Subcommand;

use crate::orchestrate::slurm::{
    accounting_states, done_dir, log_path, queue_states, slurm_dir, SubmitArgs, Submitted,
};

#[derive(Debug, Subcommand)]
pub enum SlurmCommand {
    /// Submit every unfinished step of a spec as chained job arrays.
    Submit(SubmitArgs),
}

/// Prints a Slurm run's progress per step (tasks done, running, pending in the queue, failed,
/// and out of the queue without having run) and the logs of failed tasks; true when a task
/// failed.
pub fn print_status(out: &Path) -> Result<bool> {
    let path = slurm_dir(out).join("jobs.json");
    let submitted: Submitted = serde_json::from_slice(
        &std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?,
    )
    .with_context(|| format!("{} is not a sieve submission", path.display()))?;
    let ids: Vec<String> = submitted
        .steps
        .iter()
        .flat_map(|s| s.jobs.iter().map(|j| j.0.clone()))
        .collect();
    let queue = queue_states(&ids);
    let accounting = accounting_states(&ids);
    println!("Slurm run (jobs in {})", path.display());
    println!(
        "{:<20} {:>6} {:>6} {:>8} {:>8} {:>7} {:>8}",
        "step", "tasks", "done", "running", "pending", "failed", "not run"
    );
    let mut failures = Vec::new();
    let mut never_ran = 0;
    for s in &submitted.steps {
        let (mut done, mut running, mut failed, mut pending, mut not_run) = (0, 0, 0, 0, 0);
        for t in 0..s.tasks {
            if done_dir(out, &s.name).join(t.to_string()).exists() {
                done += 1;
                continue;
            }
            let job = s.jobs.iter().rev().find(|j| j.1 <= t);
            let key = job.map(|j| (j.0.clone(), t - j.1));
            let queued = key.as_ref().and_then(|k| queue.get(k));
            let ended = key.as_ref().and_then(|k| accounting.get(k));
            let log = log_path(out, &s.name, t);
            match (queued.map(String::as_str), ended.map(String::as_str)) {
                (Some("RUNNING") | Some("COMPLETING"), _) => running += 1,
                (Some(_), _) => pending += 1,
                // Accounting knows the task ended without its marker: it failed.
                (None, Some(state)) if !matches!(state, "PENDING" | "RUNNING" | "REQUEUED") => {
                    failed += 1;
                    failures.push((s.name.clone(), t, state.to_string(), log));
                }
                // No accounting: a task that left a log but no marker ran and failed.
                (None, _) if log.exists() => {
                    failed += 1;
                    failures.push((s.name.clone(), t, "no marker".to_string(), log));
                }
                // Out of the queue with no log: cancelled before it started, or its
                // dependency failed. Nothing will run it until the spec is submitted again.
                (None, _) => not_run += 1,
            }
        }
        never_ran += not_run;
        println!(
            "{:<20} {:>6} {done:>6} {running:>8} {pending:>8} {failed:>7} {not_run:>8}",
            s.name, s.tasks
        );
    }
    if never_ran > 0 {
        println!(
            "\n{never_ran} {} left the queue without running (cancelled, or a step before {} \
             failed); `sieve slurm submit` with the same spec runs what is left",
            if never_ran == 1 { "task" } else { "tasks" },
            if never_ran == 1 { "it" } else { "them" }
        );
    }
    for (step, task, state, log) in &failures {
        println!(
            "\nfailed: {step} task {task} ({state}), log {}",
            log.display()
        );
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(10).collect();
        for l in tail.iter().rev() {
            println!("  {l}");
        }
    }
    Ok(!failures.is_empty())
}
