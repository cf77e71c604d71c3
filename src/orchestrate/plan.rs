//! A pipeline spec as an ordered list of steps, each a set of independent tasks: the shape
//! `sieve run` executes on one box and `sieve slurm submit` turns into job arrays.
//!
//! Global stages (`dedup`, `decontam`) need every document before they can decide about any,
//! so the document stages run in passes split at them: the stages before the first global stage
//! write `OUT/work/before-<stage>/`; the global stage's own steps run over those shards in
//! `OUT/work/<stage>/`; its per-document part (the dedup filter, the decontam strip) then leads
//! the next pass, and the last pass writes `OUT/`. `tokenize` and `blend` end a spec.
//!
//! | step | kind | tasks |
//! |---|---|---|
//! | `pass-K` | map | one per input shard |
//! | `dedup-signatures`, `dedup-lsh` | map | one per shard |
//! | `dedup-edges` | reduce | one per band × key range |
//! | `dedup-components` | single | 1 |
//! | `decontam-count` | map | one per shard |
//! | `decontam-merge` | single | 1 |
//! | `finish` | single | 1 (every pass's and the whole chain's stats) |
//! | `tokenize` | map | one per output shard |
//! | `blend` | single | 1 |
//! | `report` | single | 1 (the data card, `OUT/report/`) |
//! | `publish` | single | 1 (with `[output] publish = "s3://…"`: the run copied there) |
//!
//! Every task writes completion markers after its outputs, so any step can be re-run, and the
//! bytes do not depend on how a step's tasks were split. Each finished task also adds its wall
//! and CPU time to `OUT/timings/` (measurements, kept apart from the outputs).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::ledger::{Ledger, Markers, RunState, StepState};
use crate::io::shards::{AtomicFile, ShardFormat};
use crate::io::source::select_shard;
use crate::pipeline::command::{execute, shard_jobs, RunArgs};
pub use crate::pipeline::global::StepKind;
use crate::pipeline::global::{Completion, GlobalStage, Placement, StepContext};
use crate::pipeline::runner::Job;
use crate::pipeline::spec::{PipelineSpec, StageSpec};
use crate::pipeline::stage::StageFactory;
use crate::pipeline::stats::RunStats;
use crate::pipeline::Outcome;
use crate::stages::registry;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Pass(usize),
    /// Step `step` of global stage `g`.
    Global {
        g: usize,
        step: usize,
    },
    Finish,
    Report,
    Publish,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: String,
    pub kind: StepKind,
    pub tasks: usize,
    /// The spec stage whose options may name resources for this step (`slurm_mem`, …).
    pub stage: Option<String>,
    #[serde(skip)]
    action: Action,
}

/// One pass of document stages.
#[derive(Debug, Clone)]
struct Pass {
    stages: Vec<StageSpec>,
    /// The global stage (index into `globals`) whose per-document part leads this pass.
    lead: Option<usize>,
    /// The previous pass's output, or None for the spec's own inputs.
    input: Option<PathBuf>,
    output: PathBuf,
    format: ShardFormat,
}

/// A global stage of the spec, where it works and what it reads.
struct Global {
    stage: Box<dyn GlobalStage>,
    work: PathBuf,
    /// The directory of the shards it reads: the pass before it, or `OUT` for end stages.
    input: PathBuf,
}

pub struct Plan {
    spec: PipelineSpec,
    pub args: RunArgs,
    passes: Vec<Pass>,
    globals: Vec<Global>,
    pub steps: Vec<Step>,
}

/// `first` then `then`, per shard.
fn chain(first: Option<StageFactory>, then: StageFactory) -> StageFactory {
    match first {
        None => then,
        Some(first) => std::sync::Arc::new(move |stem: &str| {
            let mut stages = first(stem)?;
            stages.extend(then(stem)?);
            Ok(stages)
        }),
    }
}

fn step(name: impl Into<String>, kind: StepKind, tasks: usize, action: Action) -> Step {
    Step {
        name: name.into(),
        kind,
        tasks,
        stage: None,
        action,
    }
}

/// Checks where a stage of the spec may go: nothing but another end stage follows an end
/// stage, and an end stage comes right after the end stage it names (or first among them when
/// it names none).
fn check_order(name: &str, placement: Option<Placement>, ends: &[Global]) -> Result<()> {
    let last_end = ends.last().map(|e| e.stage.name());
    let Some(Placement::End { after }) = placement else {
        if let Some(end) = last_end {
            bail!("`{name}` comes after `{end}`: `{end}` ends a spec");
        }
        return Ok(());
    };
    if last_end != after {
        match after {
            Some(a) => bail!("`{name}` must come right after `{a}`, at the end of the spec"),
            None => bail!(
                "`{name}` must come before `{}`, at the end of the spec",
                last_end.unwrap_or_default()
            ),
        }
    }
    Ok(())
}

impl Plan {
    /// The plan of `spec` writing to `args.output`.
    pub fn new(spec: PipelineSpec, args: RunArgs) -> Result<Plan> {
        crate::pipeline::command::refuse_remote_output(&args.output)?;
        let shards = spec.jobs()?.len();
        let out = args.output.clone();
        let mut passes = Vec::new();
        let mut globals: Vec<Global> = Vec::new();
        let mut ends: Vec<Global> = Vec::new();
        let mut pending = Vec::new();
        let mut input = None;
        let mut lead = None;
        // Unknown stages and bad options are errors of the spec: reported before any step
        // starts (or writes anything).
        for spec_stage in &spec.stages {
            let stage = registry::global(spec_stage)?;
            let placement = stage.as_ref().map(|s| s.placement());
            check_order(&spec_stage.name, placement, &ends)?;
            let Some(stage) = stage else {
                pending.push(spec_stage.clone());
                continue;
            };
            if let Placement::End { .. } = stage.placement() {
                ends.push(Global {
                    work: stage.work_dir(&out),
                    input: out.clone(),
                    stage,
                });
                continue;
            }
            let output = out.join("work").join(format!("before-{}", stage.name()));
            passes.push(Pass {
                stages: std::mem::take(&mut pending),
                lead,
                input: input.take(),
                output: output.clone(),
                format: ShardFormat::Parquet,
            });
            input = Some(output.clone());
            lead = Some(globals.len());
            globals.push(Global {
                work: stage.work_dir(&out),
                input: output,
                stage,
            });
        }
        passes.push(Pass {
            stages: pending,
            lead,
            input,
            output: out.clone(),
            format: args.format,
        });
        for pass in &passes {
            registry::factory(&pass.stages)?;
        }

        let between = globals.len();
        let mut steps = Vec::new();
        let global_steps = |steps: &mut Vec<Step>, g: usize, global: &Global| {
            for (i, s) in global.stage.steps().into_iter().enumerate() {
                steps.push(Step {
                    stage: Some(global.stage.name().to_string()),
                    ..step(
                        s.name.clone(),
                        s.kind,
                        s.tasks(shards),
                        Action::Global { g, step: i },
                    )
                });
            }
        };
        for (k, _) in passes.iter().enumerate() {
            steps.push(step(
                format!("pass-{}", k + 1),
                StepKind::Map,
                shards,
                Action::Pass(k),
            ));
            if let Some(global) = globals.get(k) {
                global_steps(&mut steps, k, global);
            }
        }
        steps.push(step("finish", StepKind::Single, 1, Action::Finish));
        for (e, end) in ends.iter().enumerate() {
            global_steps(&mut steps, between + e, end);
        }
        globals.extend(ends);
        steps.push(step("report", StepKind::Single, 1, Action::Report));
        if let Some(dest) = &spec.output.publish {
            crate::io::s3::S3Url::parse(dest).context("[output] publish")?;
            steps.push(step("publish", StepKind::Single, 1, Action::Publish));
        }
        Ok(Plan {
            spec,
            args,
            passes,
            globals,
            steps,
        })
    }

    /// The plan of the spec file `spec`: output in `output` (default: the spec's
    /// `[output] dir`), with these threads, task selection and quietness.
    pub fn load(
        spec: &Path,
        output: Option<PathBuf>,
        threads: Option<usize>,
        shard: Option<String>,
        quiet: bool,
        inputs: &[String],
    ) -> Result<Plan> {
        let mut spec = PipelineSpec::load(spec)?;
        spec.override_inputs(inputs)?;
        let args = RunArgs {
            output: output.unwrap_or_else(|| spec.output_dir()),
            threads,
            shard,
            format: spec.output.format,
            write_rejected: spec.output.write_rejected,
            base_url: String::new(),
            quiet,
        };
        Plan::new(spec, args)
    }

    /// Every setting each stage of the spec will use: its `[[stage]]` tables again, with the
    /// defaults filled in (a spec that gives the same run).
    pub fn settings_toml(&self) -> Result<String> {
        let mut out = String::new();
        for stage in &self.spec.stages {
            let name = toml::Value::from(stage.name.as_str());
            out += &format!("[[stage]]\nname = {name}\n");
            out += &toml::to_string(&registry::settings(stage)?)?;
            out += "\n";
        }
        Ok(out)
    }

    pub fn step(&self, name: &str) -> Result<&Step> {
        self.steps.iter().find(|s| s.name == name).with_context(|| {
            let names: Vec<&str> = self.steps.iter().map(|s| s.name.as_str()).collect();
            format!(
                "no step {name:?} in this spec (steps: {})",
                names.join(", ")
            )
        })
    }

    /// The options table of the spec stage a step belongs to.
    pub fn stage_options(&self, step: &Step) -> Option<&toml::Table> {
        let name = step.stage.as_deref()?;
        self.spec
            .stages
            .iter()
            .find(|s| s.name == name)
            .map(|s| &s.options)
    }

    fn pass_jobs(&self, pass: &Pass) -> Result<Vec<Job>> {
        match &pass.input {
            None => self.spec.jobs(),
            Some(dir) => shard_jobs(&[dir.to_string_lossy().into_owned()], &self.args),
        }
    }

    fn lead_factory(&self, pass: &Pass) -> Result<Option<StageFactory>> {
        let Some(g) = pass.lead else { return Ok(None) };
        let global = &self.globals[g];
        global.stage.lead(&global.work)
    }

    /// Runs task `task` = (i, n) of a step (None: all of it) and, when it succeeds, records
    /// its time.
    pub fn execute(&self, step: &Step, task: Option<(usize, usize)>) -> Result<Outcome> {
        let watch = crate::pipeline::timing::Stopwatch::start();
        let outcome = self.perform(step, task)?;
        if outcome == Outcome::Ok && !matches!(step.action, Action::Report | Action::Publish) {
            let position = self.steps.iter().position(|s| s.name == step.name);
            watch.record(
                &self.args.output,
                (&step.name, position.unwrap_or(usize::MAX)),
                task.unwrap_or((0, 1)),
                self.args.threads(),
            )?;
        }
        Ok(outcome)
    }

    fn perform(&self, step: &Step, task: Option<(usize, usize)>) -> Result<Outcome> {
        let args = &self.args;
        let threads = args.threads();
        let quiet = args.quiet;
        let select = |jobs: Vec<Job>| match task {
            Some((i, n)) => select_shard(jobs, i, n),
            None => jobs,
        };
        let part = task.unwrap_or((0, 1));
        match step.action {
            Action::Pass(k) => {
                let pass = &self.passes[k];
                let jobs = select(self.pass_jobs(pass)?);
                let stages = chain(self.lead_factory(pass)?, registry::factory(&pass.stages)?);
                let pass_args = RunArgs {
                    output: pass.output.clone(),
                    format: pass.format,
                    shard: None,
                    ..args.clone()
                };
                return execute("run", jobs, stages, &pass_args);
            }
            Action::Global { g, step } => {
                let global = &self.globals[g];
                let all = shard_jobs(&[global.input.to_string_lossy().into_owned()], args)?;
                let mine = select(all.clone());
                global.stage.run_step(
                    step,
                    &StepContext {
                        out: &args.output,
                        work: &global.work,
                        all: &all,
                        mine: &mine,
                        part,
                        threads,
                        quiet,
                    },
                )?;
            }
            Action::Finish => self.finish()?,
            Action::Report => {
                let written = crate::report::write(
                    &self.args.output,
                    &self.args.output.join("report"),
                    &crate::report::SpecFacts::of(&self.spec),
                )?;
                if !quiet {
                    eprintln!("sieve report: data card {}", written.html.display());
                }
            }
            Action::Publish => {
                let dest = self.spec.output.publish.as_deref().unwrap_or_default();
                let r = crate::pipeline::publish::publish(&self.args.output, dest, quiet)?;
                if !quiet {
                    crate::pipeline::publish::print_report(&r);
                }
            }
        }
        Ok(Outcome::Ok)
    }

    /// Every pass's stats summed again from its per-shard files (tasks that ran at once may
    /// each have seen only part of them), the whole chain's counters (the first pass's
    /// reading, then every stage once) and the decontamination summary.
    fn finish(&self) -> Result<()> {
        let mut total = RunStats::default();
        for (i, pass) in self.passes.iter().enumerate() {
            let s = crate::pipeline::runner::merge_stats(&pass.output)?;
            if self.passes.len() == 1 {
                return Ok(());
            }
            if i == 0 {
                total = s;
            } else {
                total
                    .stages
                    .extend(s.stages.into_iter().filter(|s| s.name != "read"));
            }
        }
        AtomicFile::write_all(&self.args.output.join("stats.json"), &total.to_json())?;
        if !self.args.quiet {
            eprint!("whole pipeline:\n{}", total.table());
        }
        for global in &self.globals {
            global
                .stage
                .after_finish(&self.args.output, self.args.quiet)?;
        }
        Ok(())
    }

    /// Where step `step` leaves its completion markers, relative to the run directory: what
    /// `sieve status` counts.
    pub fn markers(&self, step: &Step) -> Markers {
        let out = &self.args.output;
        let rel = |p: PathBuf| p.strip_prefix(out).map(Path::to_path_buf).unwrap_or(p);
        match step.action {
            Action::Pass(k) => Markers::Dir(rel(self.passes[k].output.join("done"))),
            Action::Global { g, step } => {
                let global = &self.globals[g];
                match &global.stage.steps()[step].done {
                    Completion::Dir(d) => Markers::Dir(rel(global.work.join(d))),
                    Completion::File(f) => Markers::File(rel(global.work.join(f))),
                }
            }
            // The step's timing is written once it has succeeded.
            Action::Finish => Markers::File(PathBuf::from("timings/finish/0-of-1.json")),
            Action::Report => Markers::File(PathBuf::from("report/index.html")),
            Action::Publish => Markers::Ledger,
        }
    }

    /// Runs every step in order on this machine, keeping the run's ledger (`OUT/work/run.json`,
    /// what `sieve status` reads) as it goes. After a pass in which some shards failed, only
    /// the chain's stats are still merged (finished shards are kept for the re-run).
    pub fn run_all(&self, spec_path: &Path) -> Result<Outcome> {
        let out = &self.args.output;
        let steps = self
            .steps
            .iter()
            .map(|s| (s.name.clone(), s.tasks, self.markers(s)))
            .collect();
        let mut ledger = Ledger::start(out, spec_path, steps)?;
        let result = self.run_steps(&mut ledger);
        let end = match &result {
            Ok(Outcome::Ok) => RunState::Finished,
            _ => RunState::Failed,
        };
        ledger.end(out, end)?;
        result
    }

    fn run_steps(&self, ledger: &mut Ledger) -> Result<Outcome> {
        let out = &self.args.output;
        let mut task = None;
        if let Some(spec) = &self.args.shard {
            if !self.globals.is_empty() {
                bail!(
                    "a spec with dedup, decontam or tokenize runs as one task per step: name the step too \
                     (`sieve run --step NAME --shard I/N`; `sieve run --plan` lists the steps), or \
                     submit them all with `sieve slurm submit`"
                );
            }
            task = Some(crate::io::source::parse_shard_spec(spec)?);
        }
        let last_pass = self.passes.len() - 1;
        let mut outcome = Outcome::Ok;
        for s in &self.steps {
            if outcome == Outcome::Partial && s.action != Action::Finish {
                continue;
            }
            ledger.set(out, &s.name, StepState::Running, None)?;
            let result = self.execute(s, task);
            let state = match &result {
                Ok(Outcome::Ok) => StepState::Done,
                Ok(Outcome::Partial) => StepState::Partial,
                Err(_) => StepState::Failed,
            };
            let error = result.as_ref().err().map(|e| format!("{e:#}"));
            ledger.set(out, &s.name, state, error)?;
            if result? == Outcome::Partial {
                outcome = Outcome::Partial;
                if s.action != Action::Pass(last_pass) {
                    eprintln!(
                        "sieve run: some shards failed in {}; fix them and re-run (finished shards are kept)",
                        s.name
                    );
                    return Ok(outcome);
                }
            }
        }
        Ok(outcome)
    }
}
