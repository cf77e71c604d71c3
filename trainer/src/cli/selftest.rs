//! `sieve-train selftest --device cpu|cuda`: every kernel against its CPU twin, a few training
//! steps against the CPU backend, then tokens/s and MFU for the GPT-2 124M and 1.3B shapes.

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;

use crate::backend::{Backend, Cpu};
use crate::selftest::{self, kernels, StepsCheck, Throughput};

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
    /// Throughput runs, as PRESET:BATCHxSEQ, comma-separated ("" for none).
    #[arg(long, default_value = "gpt2-124m:8x1024,gpt-1.3b:4x2048")]
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
    pub training: StepsCheck,
    pub throughput: Vec<Throughput>,
    pub passed: bool,
}

pub fn run(args: &SelftestArgs) -> Result<Report> {
    match args.device.as_str() {
        "cpu" => report("cpu".into(), Cpu::<f32>::new, args, args.peak_flops),
        "cuda" => cuda(args),
        other => bail!("--device {other:?}: expected cpu or cuda"),
    }
}

#[cfg(feature = "cuda")]
fn cuda(args: &SelftestArgs) -> Result<Report> {
    use crate::backend::cuda::Cuda;
    let probe = Cuda::new(args.gpu)?;
    let name = format!(
        "cuda:{} ({}, compute capability {}.{})",
        args.gpu, probe.device_name, probe.compute_capability.0, probe.compute_capability.1
    );
    let peak = args
        .peak_flops
        .or_else(|| selftest::bf16_peak_flops(&probe.device_name));
    drop(probe);
    let gpu = args.gpu;
    report(
        name,
        move || Cuda::new(gpu).expect("the GPU opened a moment ago"),
        args,
        peak,
    )
}

#[cfg(not(feature = "cuda"))]
fn cuda(_args: &SelftestArgs) -> Result<Report> {
    bail!("--device cuda: this sieve-train was built without CUDA; rebuild with `cargo build --release -p sieve-trainer --features cuda`")
}

/// Runs the three parts on backends made by `make` (one per part, so each starts clean).
fn report<B: Backend<F = f32>>(
    device: String,
    make: impl Fn() -> B,
    args: &SelftestArgs,
    peak: Option<f64>,
) -> Result<Report> {
    let reference = Cpu::<f32>::new();
    let checks = kernels::compare(&reference, &make(), kernels::Shape::default(), 7);
    // The CPU backend against itself would prove nothing: it is checked against the host's
    // own AdamW; a device against the CPU backend.
    let training = if device == "cpu" {
        selftest::training_steps_against_host(Cpu::<f32>::new(), make(), 4)?
    } else {
        selftest::training_steps(Cpu::<f32>::new(), make(), 4)?
    };
    let mut throughput = Vec::new();
    for (preset, batch, seq) in runs(&args.throughput)? {
        throughput.push(selftest::throughput(make(), &preset, batch, seq, 3, peak)?);
    }
    let passed = checks.iter().all(|c| c.passed()) && training.passed();
    Ok(Report {
        device,
        kernels: checks,
        training,
        throughput,
        passed,
    })
}

/// The report as a person reads it: one line per check, then the throughput.
pub fn render(r: &Report) -> String {
    let mut out = format!(
        "selftest on {}\n\nkernels (worst = largest error / tolerance; ≤ 1 passes):\n",
        r.device
    );
    for c in &r.kernels {
        out += &format!(
            "  {:<4} {:<24} {:<14} {:>7} elements  worst {:>8.3}  max |diff| {:.2e}  (rel {:.0e}, abs {:.0e} of max)\n",
            if c.passed() { "ok" } else { "FAIL" },
            c.function,
            c.output,
            c.elements,
            c.worst,
            c.max_abs_diff,
            c.rel,
            c.abs
        );
    }
    let t = &r.training;
    out += &format!(
        "\ntraining steps vs {}: {} (worst relative loss difference {:.2e}, tolerance {:.0e})\n  reference: {:?}\n  device:    {:?}\n",
        t.against,
        if t.passed() { "ok" } else { "FAIL" },
        t.worst_relative,
        t.tolerance,
        t.reference.iter().map(|l| (l * 1e4).round() / 1e4).collect::<Vec<_>>(),
        t.device.iter().map(|l| (l * 1e4).round() / 1e4).collect::<Vec<_>>(),
    );
    for th in &r.throughput {
        out += &format!(
            "\n{}: batch {} × {} tokens: {:.0} tokens/s{}",
            th.preset,
            th.batch,
            th.seq,
            th.tokens_per_second,
            match th.mfu {
                Some(m) => format!(
                    ", MFU {:.1}% of {:.0} TFLOP/s",
                    100.0 * m,
                    th.peak_flops.unwrap_or(0.0) / 1e12
                ),
                None => ", MFU unknown (give --peak-flops)".into(),
            }
        );
    }
    out += &format!("\n\n{}\n", if r.passed { "PASSED" } else { "FAILED" });
    out
}
