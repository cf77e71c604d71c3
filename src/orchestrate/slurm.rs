//! A spec's steps as Slurm job arrays (`sieve slurm submit`), and what Slurm knows of their
//! tasks, for `sieve status OUT`.
//!
//! Each step of the [`Plan`] becomes one `sbatch` array whose task i runs
//! `sieve run SPEC --step NAME --shard i/N`; arrays are throttled with `%N`, split where they
//! would pass the cluster's `MaxArraySize`, and chained with `afterok`, so a step starts when
//! every task of the one before it has succeeded. A task that finishes leaves
//! `OUT/slurm/done/<step>/<task>`; a re-submit leaves those tasks (and finished steps) out.
//! Logs go to `OUT/slurm/logs/<step>-<task>.log`. Slurm is the scheduler: sieve keeps no state
//! of its own beyond these files and the job ids in `OUT/slurm/jobs.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::{Deserialize, Serialize};

use super::plan::{Plan, Step, StepKind};
use crate::io::shards::AtomicFile;
use crate::pipeline::spec::{PipelineSpec, SlurmResources};
use crate::pipeline::Outcome;

#[derive(Debug, Args)]
pub struct SubmitArgs {
    pub spec: PathBuf,
    /// Output directory (overrides the spec's `[output] dir`); must be on storage every node sees.
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Print the scripts and the sbatch commands; submit nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long)]
    pub partition: Option<String>,
    /// Most tasks of one array running at once.
    #[arg(long, value_name = "N")]
    pub array_parallelism: Option<usize>,
    /// Most tasks per step (a map step's shards are spread over them).
    #[arg(long, value_name = "N")]
    pub tasks_per_step: Option<usize>,
    #[arg(long)]
    pub time: Option<String>,
    #[arg(long)]
    pub mem: Option<String>,
    /// The sieve binary the tasks run (default: this one).
    #[arg(long)]
    pub sieve: Option<PathBuf>,
}

/// What `submit` recorded: per step, its task count and the Slurm jobs that run it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Submitted {
    pub steps: Vec<SubmittedStep>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmittedStep {
    pub name: String,
    pub tasks: usize,
    /// `(job id, first task of the array)`: task = first + SLURM_ARRAY_TASK_ID.
    pub jobs: Vec<(String, usize)>,
}

pub fn slurm_dir(out: &Path) -> PathBuf {
    out.join("slurm")
}

pub fn done_dir(out: &Path, step: &str) -> PathBuf {
    slurm_dir(out).join("done").join(step)
}

pub fn log_path(out: &Path, step: &str, task: usize) -> PathBuf {
    slurm_dir(out)
        .join("logs")
        .join(format!("{step}-{task}.log"))
}

/// Tasks of a step once `--tasks-per-step` caps it.
fn task_count(step: &Step, cap: Option<usize>) -> usize {
    match (step.kind, cap) {
        (StepKind::Single, _) => 1,
        (_, Some(c)) if c > 0 => step.tasks.min(c).max(1),
        _ => step.tasks.max(1),
    }
}

/// The largest array index plus one a cluster accepts (`MaxArraySize`), 1001 when unknown.
fn max_array_size() -> usize {
    let out = Command::new("scontrol").args(["show", "config"]).output();
    let Ok(out) = out else { return 1001 };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == "MaxArraySize").then(|| v.trim().parse().ok())?
        })
        .unwrap_or(1001)
}

/// `0-3,7,9-10` for a sorted list.
fn ranges(ids: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            ids[i].to_string()
        } else {
            format!("{}-{}", ids[i], ids[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.to_string_lossy().replace('\'', r"'\''"))
}

fn resources(spec: &PipelineSpec, a: &SubmitArgs, step: &Step) -> SlurmResources {
    let s = &spec.slurm;
    let mut r = SlurmResources {
        time: a.time.clone().or(s.time.clone()),
        mem: a.mem.clone().or(s.mem.clone()),
        cpus: s.cpus,
    };
    let specific = [Some(step.name.as_str()), step.stage.as_deref()];
    for key in specific.into_iter().flatten().rev() {
        if let Some(o) = s.steps.get(key) {
            r.time = o.time.clone().or(r.time);
            r.mem = o.mem.clone().or(r.mem);
            r.cpus = o.cpus.or(r.cpus);
        }
    }
    r
}

/// The batch script of one array of a step.
#[allow(clippy::too_many_arguments)]
fn script(
    sieve: &Path,
    spec: &Path,
    out: &Path,
    step: &str,
    tasks: usize,
    first: usize,
    partition: Option<&str>,
    res: &SlurmResources,
) -> String {
    let mut s = String::from("#!/bin/bash\n");
    s += &format!("#SBATCH --job-name=sieve-{step}\n");
    s += &format!(
        "#SBATCH --output={}\n",
        slurm_dir(out)
            .join("logs")
            .join(format!("{step}-%A_%a.slurm.log"))
            .display()
    );
    if let Some(p) = partition {
        s += &format!("#SBATCH --partition={p}\n");
    }
    if let Some(t) = &res.time {
        s += &format!("#SBATCH --time={t}\n");
    }
    if let Some(m) = &res.mem {
        s += &format!("#SBATCH --mem={m}\n");
    }
    if let Some(c) = res.cpus {
        s += &format!("#SBATCH --cpus-per-task={c}\n");
    }
    s += "set -euo pipefail\n";
    s += &format!("task=$(( {first} + SLURM_ARRAY_TASK_ID ))\n");
    s += &format!(
        "log={}/{step}-$task.log\n",
        quote(&slurm_dir(out).join("logs"))
    );
    s += &format!(
        "{} run {} -o {} --step {step} --shard $task/{tasks} -q -j ${{SLURM_CPUS_PER_TASK:-1}} >\"$log\" 2>&1\n",
        quote(sieve),
        quote(spec),
        quote(out)
    );
    // The task's own completion marker, only after the step's outputs are in place.
    s += &format!(
        "mkdir -p {d} && : > {d}/$task.tmp && mv {d}/$task.tmp {d}/$task\n",
        d = quote(&done_dir(out, step))
    );
    s
}

pub fn submit(a: &SubmitArgs) -> Result<Outcome> {
    let plan = Plan::load(&a.spec, a.output.clone(), None, None, true, &[])?;
    let spec = PipelineSpec::load(&a.spec)?;
    let out = std::path::absolute(&plan.args.output)?;
    let spec_path = std::path::absolute(&a.spec)?;
    let sieve = match &a.sieve {
        Some(p) => std::path::absolute(p)?,
        None => std::env::current_exe().context("cannot find the sieve binary")?,
    };
    let cap = a.tasks_per_step.or(spec.slurm.tasks_per_step);
    let throttle = a.array_parallelism.or(spec.slurm.array_parallelism);
    let partition = a.partition.clone().or(spec.slurm.partition.clone());
    let max_array = if a.dry_run { 1001 } else { max_array_size() };
    std::fs::create_dir_all(slurm_dir(&out).join("logs"))?;
    let mut submitted = Submitted::default();
    let mut previous: Vec<String> = Vec::new();
    for step in &plan.steps {
        let tasks = task_count(step, cap);
        let todo: Vec<usize> = (0..tasks)
            .filter(|t| !done_dir(&out, &step.name).join(t.to_string()).exists())
            .collect();
        if todo.is_empty() {
            eprintln!("sieve slurm: {} is done ({tasks} tasks)", step.name);
            submitted.steps.push(SubmittedStep {
                name: step.name.clone(),
                tasks,
                jobs: Vec::new(),
            });
            continue;
        }
        let res = resources(&spec, a, step);
        let mut jobs = Vec::new();
        // One array per window of MaxArraySize tasks: indices stay below the limit.
        for window in todo.chunk_by(|x, y| x / max_array == y / max_array) {
            let first = window[0] / max_array * max_array;
            let ids: Vec<usize> = window.iter().map(|t| t - first).collect();
            let mut array = ranges(&ids);
            if let Some(p) = throttle {
                array += &format!("%{p}");
            }
            let text = script(
                &sieve,
                &spec_path,
                &out,
                &step.name,
                tasks,
                first,
                partition.as_deref(),
                &res,
            );
            let path = slurm_dir(&out).join(format!("{}-{first}.sbatch", step.name));
            AtomicFile::write_all(&path, text.as_bytes())?;
            let mut cmd = vec!["--parsable".to_string(), format!("--array={array}")];
            if !previous.is_empty() {
                cmd.push(format!("--dependency=afterok:{}", previous.join(":")));
            }
            cmd.push(path.to_string_lossy().into_owned());
            if a.dry_run {
                println!("# sbatch {}\n{text}", cmd.join(" "));
                jobs.push((format!("<{}-{first}>", step.name), first));
                continue;
            }
            let o = Command::new("sbatch")
                .args(&cmd)
                .output()
                .context("cannot run sbatch (is Slurm installed here?)")?;
            if !o.status.success() {
                bail!(
                    "sbatch {} failed: {}",
                    cmd.join(" "),
                    String::from_utf8_lossy(&o.stderr).trim()
                );
            }
            let id = String::from_utf8_lossy(&o.stdout)
                .trim()
                .split(';')
                .next()
                .unwrap_or("")
                .to_string();
            eprintln!(
                "sieve slurm: {} → job {id} (array {array}, {} tasks)",
                step.name,
                window.len()
            );
            jobs.push((id, first));
        }
        previous = jobs.iter().map(|j| j.0.clone()).collect();
        submitted.steps.push(SubmittedStep {
            name: step.name.clone(),
            tasks,
            jobs,
        });
    }
    if !a.dry_run {
        AtomicFile::write_all(
            &slurm_dir(&out).join("jobs.json"),
            &serde_json::to_vec_pretty(&submitted)?,
        )?;
    }
    Ok(Outcome::Ok)
}

/// Array tasks Slurm still knows as pending or running: (step job id, array index) → state.
pub fn queue_states(jobs: &[String]) -> BTreeMap<(String, usize), String> {
    let mut states = BTreeMap::new();
    if jobs.is_empty() {
        return states;
    }
    let Ok(o) = Command::new("squeue")
        .args(["-h", "-r", "-o", "%F %K %T", "-j", &jobs.join(",")])
        .output()
    else {
        return states;
    };
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let [job, index, state] = f[..] {
            if let Ok(i) = index.parse() {
                states.insert((job.to_string(), i), state.to_string());
            }
        }
    }
    states
}

/// Final states of array tasks in Slurm's accounting: (job id, array index) → state
/// (`FAILED`, `TIMEOUT`, `CANCELLED`, …). Empty where `sacct` is missing or accounting is off.
pub fn accounting_states(jobs: &[String]) -> BTreeMap<(String, usize), String> {
    if jobs.is_empty() {
        return BTreeMap::new();
    }
    match Command::new("sacct")
        .args(["-n", "-P", "-X", "-o", "JobID,State", "-j", &jobs.join(",")])
        .output()
    {
        Ok(o) if o.status.success() => parse_sacct(&String::from_utf8_lossy(&o.stdout)),
        _ => BTreeMap::new(),
    }
}

/// `sacct -n -P -X -o JobID,State` lines: `123_4|FAILED`, `123_5|CANCELLED by 0`; lines of
/// tasks not yet split out of their array (`123_[6-9]`) are left out.
fn parse_sacct(text: &str) -> BTreeMap<(String, usize), String> {
    let mut states = BTreeMap::new();
    for line in text.lines() {
        let Some((id, state)) = line.split_once('|') else {
            continue;
        };
        let Some((job, index)) = id.split_once('_') else {
            continue;
        };
        if let (Ok(i), Some(state)) = (index.parse(), state.split_whitespace().next()) {
            states.insert((job.to_string(), i), state.to_string());
        }
    }
    states
}

/// Whether `sieve slurm submit` recorded jobs for this run directory.
pub fn submitted(out: &Path) -> bool {
    slurm_dir(out).join("jobs.json").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sacct_lines_give_each_array_task_its_state() {
        let states =
            parse_sacct("12_0|COMPLETED\n12_3|CANCELLED by 0\n12_[4-9]|PENDING\n13|FAILED\n");
        let got: Vec<(&str, usize, &str)> = states
            .iter()
            .map(|((j, i), s)| (j.as_str(), *i, s.as_str()))
            .collect();
        assert_eq!(got, [("12", 0, "COMPLETED"), ("12", 3, "CANCELLED")]);
    }

    #[test]
    fn task_lists_compress_to_slurm_ranges() {
        assert_eq!(ranges(&[0, 1, 2, 3, 7, 9, 10]), "0-3,7,9-10");
        assert_eq!(ranges(&[5]), "5");
    }

    #[test]
    fn arrays_split_at_the_largest_index_slurm_accepts() {
        // 2,500 tasks with task 1 done: three arrays whose indices stay below 1001.
        let todo: Vec<usize> = (0..2500).filter(|&t| t != 1).collect();
        let windows: Vec<(usize, String)> = todo
            .chunk_by(|x, y| x / 1001 == y / 1001)
            .map(|w| {
                let first = w[0] / 1001 * 1001;
                (
                    first,
                    ranges(&w.iter().map(|t| t - first).collect::<Vec<_>>()),
                )
            })
            .collect();
        assert_eq!(
            windows,
            [
                (0, "0,2-1000".to_string()),
                (1001, "0-1000".to_string()),
                (2002, "0-497".to_string())
            ]
        );
    }
}
