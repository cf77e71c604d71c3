//! `sieve-train selftest --device cpu|cuda`: every kernel against its CPU twin, a few training
//! steps against the CPU backend, then tokens/s and MFU for the GPT-2 124M and 1.3B shapes.

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;

use crate::backend::{Backend, Cpu};
use crate::selftest::{self, kernels, multi, GradientCheck, StepsCheck, Throughput};

mod gpu;
mod render;
#[cfg(test)]
mod tests;

use gpu::cuda;
pub use render::render;
use render::{
    render_gradients, render_kernels, render_throughput, render_training, render_verdict,
};

#[derive(Args, Debug)]
pub struct SelftestArgs {
    /// cpu, or cuda (needs the `cuda` build and an NVIDIA GPU with its driver).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Which GPU (with --device cuda).
    #[arg(long, default_value_t = 0)]
    pub gpu: usize,
    /// Peak FLOP/s for the MFU (default: the GPU's bf16 dense peak from its name).
    #[arg(long)]
    pub peak_flops: Option<f64>,
    /// Throughput runs, as PRESET:BATCHxSEQ, comma-separated ("" for none); `auto` runs
    /// GPT-2 124M at 8 × 1024 and 1.3B at 4 × 2048 tokens, each batch halved until the step
    /// fits in the device's free memory (skipped, saying so, if one sample does not fit).
    #[arg(long, default_value = "auto")]
    pub throughput: String,
}

/// `PRESET:BATCHxSEQ,…` as (preset, batch, seq).
fn runs(spec: &str) -> Result<Vec<(String, usize, usize)>> {
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|item| {
            let parse = || -> Option<(String, usize, usize)> {
                let (preset, shape) = item.trim().split_once(':')?;
                let (b, t) = shape.split_once('x')?;
                Some((preset.to_string(), b.parse().ok()?, t.parse().ok()?))
            };
            parse().with_context(|| format!("--throughput {item:?}: expected PRESET:BATCHxSEQ"))
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub device: String,
    pub kernels: Vec<kernels::Check>,
    pub gradients: Vec<GradientCheck>,
    pub training: StepsCheck,
    /// Each run's throughput, or why it did not run (skipped for memory, or its error).
    pub throughput: Vec<std::result::Result<Throughput, String>>,
    /// With more than one GPU visible: the collectives on every GPU and a 2-stage pipeline.
    pub multi_gpu: Option<MultiGpu>,
    pub passed: bool,
}

/// The multi-GPU part: each collective on each rank, and each stage of the pipeline step.
#[derive(Debug, Serialize)]
pub struct MultiGpu {
    pub gpus: usize,
    pub collectives: Vec<multi::RankCheck>,
    pub pipeline: Vec<multi::StageCheck>,
}

impl MultiGpu {
    pub fn passed(&self) -> bool {
        self.collectives.iter().all(|c| c.passed) && self.pipeline.iter().all(|s| s.passed())
    }
}

/// Runs the selftest, handing each part's lines to `part` as soon as the part is done (a
/// later part that fails or hangs must not take the earlier ones' diagnosis with it).
pub fn run(args: &SelftestArgs, part: &mut dyn FnMut(&str)) -> Result<Report> {
    let report = match args.device.as_str() {
        "cpu" => {
            let free = available_host_memory();
            report(
                "cpu".into(),
                Cpu::<f32>::new,
                args,
                (args.peak_flops, free),
                part,
            )?
        }
        "cuda" => cuda(args, part)?,
        other => bail!("--device {other:?}: expected cpu or cuda"),
    };
    part(&render_verdict(report.passed));
    Ok(report)
}

/// The host's available memory (`MemAvailable` of /proc/meminfo), for `--throughput auto` on
/// the CPU.
fn available_host_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Runs the parts on backends made by `make` (one per part, so each starts clean), handing
/// each part's lines to `part` when it is done. `free` is the device's free memory, for
/// `--throughput auto`.
pub fn report<B: Backend<F = f32>>(
    device: String,
    make: impl Fn() -> B,
    args: &SelftestArgs,
    (peak, free): (Option<f64>, Option<u64>),
    part: &mut dyn FnMut(&str),
) -> Result<Report> {
    let planned: Vec<selftest::PlannedRun> = match (args.throughput.as_str(), free) {
        ("auto", Some(free)) => selftest::shapes_for(free, device != "cpu")?,
        ("auto", None) => runs("gpt2-124m:8x1024,gpt-1.3b:4x2048")?
            .into_iter()
            .map(Ok)
            .collect(),
        (spec, _) => runs(spec)?.into_iter().map(Ok).collect(),
    };
    part(&format!("selftest on {device}\n"));
    let reference = Cpu::<f32>::new();
    let checks = kernels::compare(&reference, &make(), kernels::Shape::default(), 7);
    part(&render_kernels(&checks));
    let gradients = selftest::gradients(Cpu::<f32>::new(), make())?;
    part(&render_gradients(&gradients));
    // The CPU backend against itself would prove nothing: it is checked against the host's
    // own AdamW; a device against the CPU backend.
    let training = if device == "cpu" {
        selftest::training_steps_against_host(Cpu::<f32>::new(), make(), 4)?
    } else {
        selftest::training_steps(Cpu::<f32>::new(), make(), 4)?
    };
    part(&render_training(&training));
    let mut throughput = Vec::new();
    for run in planned {
        let result = run.and_then(|(preset, batch, seq)| {
            selftest::throughput(make(), &preset, batch, seq, 3, peak)
                .map_err(|e| format!("{preset}: batch {batch} × {seq} tokens: {e:#}"))
        });
        part(&render_throughput(&result));
        throughput.push(result);
    }
    let passed = checks.iter().all(|c| c.passed())
        && gradients.iter().all(|g| g.passed())
        && training.passed();
    Ok(Report {
        device,
        kernels: checks,
        gradients,
        training,
        throughput,
        multi_gpu: None,
        passed,
    })
}
