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
use crate::decontam::passes::{count_pass, merge_pass, strip_index, DecontamConfig};
use crate::dedup::config::DedupConfig;
use crate::dedup::files::WorkDir;
use crate::dedup::{components, edges, lsh, signatures};
use crate::io::shards::{AtomicFile, ShardFormat};
use crate::io::source::select_shard;
use crate::pipeline::command::{execute, shard_jobs, RunArgs};
use crate::pipeline::runner::Job;
use crate::pipeline::spec::{PipelineSpec, StageSpec};
use crate::pipeline::stage::StageFactory;
use crate::pipeline::stats::RunStats;
use crate::pipeline::tasks::record_expected;
use crate::pipeline::Outcome;
use crate::stages::registry;

const GLOBAL_STAGES: &[&str] = &["dedup", "decontam"];
/// Stages that turn the final documents into tokens; they end a spec, in this order.
const TOKEN_STAGES: &[&str] = &["tokenize", "blend"];

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Pass(usize),
    DedupSignatures(usize),
    DedupLsh(usize),
    DedupEdges(usize),
    DedupComponents(usize),
    DecontamCount(usize),
    DecontamMerge(usize),
    Finish,
    Tokenize,
    Blend,
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

pub struct Plan {
    spec: PipelineSpec,
    pub args: RunArgs,
    passes: Vec<Pass>,
    globals: Vec<StageSpec>,
    /// Work directory of each global stage.
    work: Vec<PathBuf>,
    token_stages: Vec<StageSpec>,
    pub steps: Vec<Step>,
}

/// Splits a spec's stages into document stages and the token stages that end it.
fn split_token_stages(stages: &[StageSpec]) -> Result<(Vec<StageSpec>, Vec<StageSpec>)> {
    let first = stages
        .iter()
        .position(|s| TOKEN_STAGES.contains(&s.name.as_str()))
        .unwrap_or(stages.len());
    let (docs, tail) = stages.split_at(first);
    let names: Vec<&str> = tail.iter().map(|s| s.name.as_str()).collect();
    if !names.is_empty() && names != ["tokenize"] && names != ["tokenize", "blend"] {
        bail!("a spec ends with `tokenize`, optionally followed by `blend` (found {names:?} at the end)");
    }
    Ok((docs.to_vec(), tail.to_vec()))
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

fn step(
    name: impl Into<String>,
    kind: StepKind,
    tasks: usize,
    stage: Option<&str>,
    action: Action,
) -> Step {
    Step {
        name: name.into(),
        kind,
        tasks,
        stage: stage.map(str::to_string),
        action,
    }
}

impl Plan {
    /// The plan of `spec` writing to `args.output`.
    pub fn new(spec: PipelineSpec, args: RunArgs) -> Result<Plan> {
        crate::pipeline::command::refuse_remote_output(&args.output)?;
        let (doc_stages, token_stages) = split_token_stages(&spec.stages)?;
        let shards = spec.jobs()?.len();
        let out = args.output.clone();
        let mut passes = Vec::new();
        let mut globals = Vec::new();
        let mut work = Vec::new();
        let mut pending = Vec::new();
        let mut input = None;
        let mut lead = None;
        for stage in &doc_stages {
            if !GLOBAL_STAGES.contains(&stage.name.as_str()) {
                pending.push(stage.clone());
                continue;
            }
            let output = out.join("work").join(format!("before-{}", stage.name));
            passes.push(Pass {
                stages: std::mem::take(&mut pending),
                lead,
                input: input.take(),
                output: output.clone(),
                format: ShardFormat::Parquet,
            });
            input = Some(output);
            lead = Some(globals.len());
            work.push(out.join("work").join(&stage.name));
            globals.push(stage.clone());
        }
        passes.push(Pass {
            stages: pending,
            lead,
            input,
            output: out.clone(),
            format: args.format,
        });

        // Unknown stages and bad options are errors of the spec: reported before any step
        // starts (or writes anything).
        for pass in &passes {
            registry::factory(&pass.stages)?;
        }
        let mut steps = Vec::new();
        for (k, _) in passes.iter().enumerate() {
            steps.push(step(
                format!("pass-{}", k + 1),
                StepKind::Map,
                shards,
                None,
                Action::Pass(k),
            ));
            let Some(g) = globals.get(k) else { continue };
            match g.name.as_str() {
                "dedup" => {
                    let cfg = DedupConfig::from_table(&g.options)?;
                    let parts = edges::partitions(&cfg).len();
                    let s = Some("dedup");
                    steps.push(step(
                        "dedup-signatures",
                        StepKind::Map,
                        shards,
                        s,
                        Action::DedupSignatures(k),
                    ));
                    steps.push(step(
                        "dedup-lsh",
                        StepKind::Map,
                        shards,
                        s,
                        Action::DedupLsh(k),
                    ));
                    steps.push(step(
                        "dedup-edges",
                        StepKind::Reduce,
                        parts,
                        s,
                        Action::DedupEdges(k),
                    ));
                    steps.push(step(
                        "dedup-components",
                        StepKind::Single,
                        1,
                        s,
                        Action::DedupComponents(k),
                    ));
                }
                _ => {
                    let s = Some("decontam");
                    steps.push(step(
                        "decontam-count",
                        StepKind::Map,
                        shards,
                        s,
                        Action::DecontamCount(k),
                    ));
                    steps.push(step(
                        "decontam-merge",
                        StepKind::Single,
                        1,
                        s,
                        Action::DecontamMerge(k),
                    ));
                }
            }
        }
        steps.push(step("finish", StepKind::Single, 1, None, Action::Finish));
        if !token_stages.is_empty() {
            steps.push(step(
                "tokenize",
                StepKind::Map,
                shards,
                Some("tokenize"),
                Action::Tokenize,
            ));
            if token_stages.len() > 1 {
                steps.push(step(
                    "blend",
                    StepKind::Single,
                    1,
                    Some("blend"),
                    Action::Blend,
                ));
            }
        }
        steps.push(step("report", StepKind::Single, 1, None, Action::Report));
        if let Some(dest) = &spec.output.publish {
            crate::io::s3::S3Url::parse(dest).context("[output] publish")?;
            steps.push(step("publish", StepKind::Single, 1, None, Action::Publish));
        }
        Ok(Plan {
            spec,
            args,
            passes,
            globals,
            work,
            token_stages,
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
    ) -> Result<Plan> {
        let spec = PipelineSpec::load(spec)?;
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
        let work = &self.work[g];
        Ok(Some(match self.globals[g].name.as_str() {
            "dedup" => crate::dedup::filter::filter_factory(WorkDir::new(work), None),
            _ => {
                let cfg = DecontamConfig::from_table(&self.globals[g].options)?;
                crate::stages::decontam::strip_factory(strip_index(work)?, &cfg)
            }
        }))
    }

    /// The shards a global stage reads: the output of the pass before it.
    fn global_jobs(&self, g: usize) -> Result<Vec<Job>> {
        shard_jobs(
            &[self.passes[g].output.to_string_lossy().into_owned()],
            &self.args,
        )
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
            Action::DedupSignatures(g) => {
                let cfg = DedupConfig::from_table(&self.globals[g].options)?;
                let all = self.global_jobs(g)?;
                let mine = select(all.clone());
                signatures::run(
                    &WorkDir::new(&self.work[g]),
                    &cfg,
                    &all,
                    &mine,
                    threads,
                    quiet,
                )?;
            }
            Action::DedupLsh(g) => lsh::run(&WorkDir::new(&self.work[g]), part, threads, quiet)?,
            Action::DedupEdges(g) => {
                edges::run(&WorkDir::new(&self.work[g]), part, threads, quiet)?
            }
            Action::DedupComponents(g) => {
                let work = WorkDir::new(&self.work[g]);
                let report = components::run(&work)?;
                if !quiet {
                    crate::dedup::components::print_report(&report, &work);
                }
            }
            Action::DecontamCount(g) => {
                let cfg = DecontamConfig::from_table(&self.globals[g].options)?;
                let work = &self.work[g];
                let all = self.global_jobs(g)?;
                cfg.save_or_check(work)?;
                record_expected(&crate::decontam::passes::expected_path(work), &all)?;
                let index = cfg.build_index()?;
                count_pass(work, &cfg, &index, &select(all), threads, quiet)?;
            }
            Action::DecontamMerge(g) => {
                let work = &self.work[g];
                let cfg = DecontamConfig::load(work)?;
                let index = cfg.build_index()?;
                let report = merge_pass(work, &index, &crate::decontam::passes::expected(work)?)?;
                if !quiet {
                    eprintln!(
                        "sieve decontam: {} task n-grams, {} found in the corpus, {} in ≥ {} documents (kept as common phrases)",
                        report.index_ngrams, report.ngrams_found, report.frequent, cfg.df_threshold
                    );
                }
            }
            Action::Finish => self.finish()?,
            Action::Tokenize => self.tokenize(task)?,
            Action::Blend => self.blend()?,
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
            if self.globals.is_empty() {
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
        if self.globals.iter().any(|s| s.name == "decontam") {
            let summary = crate::decontam::summary::summarize(&self.args.output)?;
            if !self.args.quiet {
                crate::decontam::summary::print_summary(&summary, &self.args.output);
            }
        }
        Ok(())
    }

    fn tokenize(&self, task: Option<(usize, usize)>) -> Result<()> {
        let tokenize = &self.token_stages[0];
        let text = |key: &str, default: &str| -> Result<String> {
            match tokenize.options.get(key) {
                None => Ok(default.to_string()),
                Some(toml::Value::String(s)) => Ok(s.clone()),
                Some(other) => bail!("tokenize: `{key}` must be a string, not {other}"),
            }
        };
        let tokenizer = crate::tokenize::Tokenizer::by_name(&text("tokenizer", "gpt2")?)?;
        let seed = match tokenize.options.get("seed") {
            None => 1234,
            Some(toml::Value::Integer(n)) if *n >= 0 => *n as u64,
            Some(other) => bail!("tokenize: `seed` must be a non-negative integer, not {other}"),
        };
        let tokens = self.args.output.join("tokens");
        let all = shard_jobs(
            &[self.args.output.to_string_lossy().into_owned()],
            &self.args,
        )?;
        let mine = match task {
            Some((i, n)) => select_shard(all.clone(), i, n),
            None => all.clone(),
        };
        let manifest = crate::tokenize::step::tokenize_all(
            &tokens,
            &tokenizer,
            seed,
            &all,
            &mine,
            self.args.threads(),
            self.args.quiet,
        )?;
        if let (Some(m), false) = (manifest, self.args.quiet) {
            crate::tokenize::step::print_summary(&m, &tokens);
        }
        Ok(())
    }

    fn blend(&self) -> Result<()> {
        let blend = &self.token_stages[1];
        let Some(toml::Value::String(spec_path)) = blend.options.get("spec") else {
            bail!("blend: give the blend spec as `spec = \"BLEND.toml\"`");
        };
        let spec = crate::blend::spec::BlendSpec::load(Path::new(spec_path))?;
        let out = self.args.output.join("blend");
        let opts = crate::blend::build::BlendOptions {
            default_root: Some(self.args.output.join("tokens")),
            no_stream: false,
            quiet: self.args.quiet,
        };
        let manifest = crate::blend::build::build_blend(&spec, &out, &opts)?;
        if !self.args.quiet {
            crate::blend::build::print_summary(&manifest, &out);
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
            Action::DedupSignatures(g) => Markers::Dir(rel(self.work[g].join("signatures/done"))),
            Action::DedupLsh(g) => Markers::Dir(rel(self.work[g].join("lsh/done"))),
            Action::DedupEdges(g) => Markers::Dir(rel(self.work[g].join("edges/done"))),
            Action::DedupComponents(g) => Markers::Dir(rel(self.work[g].join("components/done"))),
            Action::DecontamCount(g) => Markers::Dir(rel(self.work[g].join("counts/done"))),
            Action::DecontamMerge(g) => Markers::File(rel(self.work[g].join("merge.json"))),
            // The step's timing is written once it has succeeded.
            Action::Finish => Markers::File(PathBuf::from("timings/finish/0-of-1.json")),
            Action::Tokenize => Markers::Dir(PathBuf::from("tokens/done")),
            Action::Blend => Markers::File(PathBuf::from("blend/manifest.json")),
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
            if !self.globals.is_empty() || !self.token_stages.is_empty() {
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
