//! `sieve status DIR`: how far a run directory got, for any way it was run.
//!
//! - `sieve run` on one machine keeps a ledger (`work/run.json`, see
//!   [`crate::orchestrate::ledger`]): per step, tasks done of total counted from the step's
//!   completion markers, the step running now when the process is alive, and, when it is not,
//!   whether the run finished, failed or was stopped (killed) part way.
//! - `sieve slurm submit` records its jobs (`slurm/jobs.json`): per step, tasks done, running,
//!   failed and pending, from the markers, `squeue` and `sacct` (see `slurm.rs`).
//! - A stage command (`sieve extract -o DIR …`) leaves only its shard markers: shards done and
//!   the inputs that failed.
//!
//! Either way, failed tasks are listed with their error or the end of their log, and the exit
//! code is 2 when something failed.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::Args;

use super::Outcome;
use crate::orchestrate::ledger::{count_markers, done_tasks, Ledger, Markers, RunState, StepState};
use crate::pipeline::runner::failed_inputs;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The run's output directory.
    pub output: PathBuf,
}

pub fn run(a: &StatusArgs) -> Result<Outcome> {
    let out = &a.output;
    let mut shown = false;
    let mut failed = false;
    if crate::orchestrate::slurm::submitted(out) {
        failed |= super::slurm::print_status(out)?;
        shown = true;
    }
    if let Some(ledger) = Ledger::load(out)? {
        if shown {
            println!();
        }
        failed |= print_local(out, &ledger);
        shown = true;
    }
    if !shown && out.join("done").is_dir() {
        failed |= print_stage_output(out);
        shown = true;
    }
    if !shown {
        bail!(
            "{} is not a sieve run directory: it has no work/run.json (sieve run), \
             slurm/jobs.json (sieve slurm submit) or done/ (a stage command)",
            out.display()
        );
    }
    Ok(if failed {
        Outcome::Partial
    } else {
        Outcome::Ok
    })
}

/// "2m 05s", "1h 02m", "12s".
pub fn duration(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

/// Seconds since the Unix epoch as "2026-12-04 22:30:01 UTC".
pub fn utc(seconds: u64) -> String {
    // Days to a civil date (proleptic Gregorian), after Howard Hinnant's algorithm.
    let days = (seconds / 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let t = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// Prints a local run's progress; true when something failed.
fn print_local(out: &Path, ledger: &Ledger) -> bool {
    let alive = ledger.alive();
    let current = ledger
        .steps
        .iter()
        .find(|s| s.state == StepState::Running)
        .map(|s| s.name.as_str());
    println!(
        "sieve run of {}, started {} on {} (process {})",
        ledger.spec.display(),
        utc(ledger.started),
        ledger.host,
        ledger.pid
    );
    let resume = format!(
        "re-run `sieve run {} -o {}` to go on (finished tasks are kept)",
        ledger.spec.display(),
        out.display()
    );
    let since = crate::orchestrate::ledger::now().saturating_sub(ledger.started);
    let took = ledger.updated.saturating_sub(ledger.started);
    match (ledger.state, alive) {
        (RunState::Running, true) => println!(
            "running for {}, now on step {}",
            duration(since),
            current.unwrap_or("(between steps)")
        ),
        (RunState::Running, false) => println!(
            "stopped: process {} ended {} without finishing the run (killed, or its machine \
             went down); {resume}",
            ledger.pid,
            match current {
                Some(step) => format!("during step {step}"),
                None => "between steps".to_string(),
            },
        ),
        (RunState::Finished, _) => println!("finished in {}", duration(took)),
        (RunState::Failed, _) => println!("ended after {} with failures; {resume}", duration(took)),
    }
    println!();
    println!("{:<20} {:>6} {:>6}  state", "step", "tasks", "done");
    let mut failures = Vec::new();
    for step in &ledger.steps {
        let done = done_tasks(out, step);
        let state = match step.state {
            StepState::Running if alive => "running",
            StepState::Running => "stopped",
            StepState::Failed => "failed",
            StepState::Partial => "some inputs failed",
            _ if done == step.tasks => "done",
            StepState::Done => "done",
            StepState::Pending if done > 0 => "partly done",
            StepState::Pending => "pending",
        };
        println!("{:<20} {:>6} {done:>6}  {state}", step.name, step.tasks);
        if let Some(e) = &step.error {
            failures.push(format!("{}: {e}", step.name));
        }
        if let (true, Markers::Dir(markers)) = (step.name.starts_with("pass-"), &step.markers) {
            let dir = out.join(markers.parent().unwrap_or(Path::new("")));
            for (input, error) in failed_inputs(&dir) {
                failures.push(format!("{}: {input}: {error}", step.name));
            }
        }
    }
    for f in &failures {
        println!("\nfailed: {f}");
    }
    !failures.is_empty()
}

/// Prints a stage command's output directory: shards done and inputs that failed.
fn print_stage_output(out: &Path) -> bool {
    let done = count_markers(&out.join("done"));
    let failed = failed_inputs(out);
    println!(
        "{}: output of a stage command: {done} {} done, {} failed",
        out.display(),
        if done == 1 { "shard" } else { "shards" },
        failed.len()
    );
    for (input, error) in &failed {
        println!("\nfailed: {input}: {error}");
    }
    !failed.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_people_write_them() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        // 2024-02-29 12:34:56 UTC (a leap day), checked with `date -u -d @1709210096`.
        assert_eq!(utc(1_709_210_096), "2024-02-29 12:34:56 UTC");
        assert_eq!(utc(1_798_761_599), "2026-12-31 23:59:59 UTC");
        assert_eq!(duration(12), "12s");
        assert_eq!(duration(125), "2m 05s");
        assert_eq!(duration(3720), "1h 02m");
    }
}
