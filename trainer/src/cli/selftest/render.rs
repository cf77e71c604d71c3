//! The selftest's report as a person reads it: a line per kernel output, gradient tensor,
//! collective and pipeline stage, the training and throughput runs, and the verdict.

use super::{MultiGpu, Report};
use crate::selftest::{self, kernels, GradientCheck, StepsCheck, Throughput};

/// The report as a person reads it: what `run` hands out part by part, in one piece.
pub fn render(r: &Report) -> String {
    let mut out = format!("selftest on {}\n", r.device);
    out += &render_kernels(&r.kernels);
    out += &render_gradients(&r.gradients);
    out += &render_training(&r.training);
    for t in &r.throughput {
        out += &render_throughput(t);
    }
    if let Some(m) = &r.multi_gpu {
        out += &render_multi(m);
    }
    out + &render_verdict(r.passed)
}

/// The multi-GPU part: a line per collective and rank, then per pipeline stage.
pub(super) fn render_multi(m: &MultiGpu) -> String {
    let mut out = format!("\nmulti-GPU ({} GPUs):\n", m.gpus);
    for c in &m.collectives {
        out += &format!(
            "  {:<4} rank {} {}  max |diff| {:.2e}\n",
            verdict(c.passed),
            c.rank,
            c.what,
            c.max_abs_diff
        );
    }
    for s in &m.pipeline {
        let worst = s.gradients.iter().map(|g| g.worst).fold(0.0, f64::max);
        out += &format!(
            "  {:<4} pipeline stage {} of 2: {} gradients vs the whole model on the CPU, worst {:.3}{}\n",
            verdict(s.passed()),
            s.stage,
            s.gradients.len(),
            worst,
            match &s.loss {
                Some(l) => format!("; {}", l.what),
                None => String::new(),
            }
        );
    }
    out
}

fn verdict(passed: bool) -> &'static str {
    if passed {
        "ok"
    } else {
        "FAIL"
    }
}

/// One line per output of each kernel; a kernel the device failed to run says why.
pub(super) fn render_kernels(checks: &[kernels::Check]) -> String {
    let mut out = "\nkernels (worst = largest error / tolerance; ≤ 1 passes):\n".to_string();
    for c in checks {
        out += &format!(
            "  {:<4} {:<24} {:<14} {:>7} elements  worst {:>8.3}  max |diff| {:.2e}  (rel {:.0e}, abs {:.0e} of max)",
            verdict(c.passed()),
            c.function,
            c.output,
            c.elements,
            c.worst,
            c.max_abs_diff,
            c.rel,
            c.abs
        );
        if let Some(f) = &c.failure {
            out += &format!("  device error: {f}");
        }
        out += "\n";
    }
    out
}

/// One line per parameter tensor's gradient after one step.
pub(super) fn render_gradients(grads: &[GradientCheck]) -> String {
    let t = selftest::GRADIENT;
    let mut out = format!(
        "\ngradients after one step vs the CPU backend (rel {:.0e}, abs {:.0e} of max):\n",
        t.rel, t.abs
    );
    for g in grads {
        out += &format!(
            "  {:<4} {:<28} {:>9} elements  worst {:>8.3}  max |diff| {:.2e}\n",
            verdict(g.passed()),
            g.tensor,
            g.elements,
            g.worst,
            g.max_abs_diff
        );
    }
    out
}

pub(super) fn render_training(t: &StepsCheck) -> String {
    format!(
        "\ntraining steps vs {}: {} (worst relative loss difference {:.2e}, tolerance {:.0e})\n  reference: {:?}\n  device:    {:?}\n",
        t.against,
        verdict(t.passed()),
        t.worst_relative,
        t.tolerance,
        t.reference.iter().map(|l| (l * 1e4).round() / 1e4).collect::<Vec<_>>(),
        t.device.iter().map(|l| (l * 1e4).round() / 1e4).collect::<Vec<_>>(),
    )
}

pub(super) fn render_throughput(t: &std::result::Result<Throughput, String>) -> String {
    let th = match t {
        Ok(th) => th,
        Err(why) => return format!("\n{why}\n"),
    };
    format!(
        "\n{}: batch {} × {} tokens: {:.0} tokens/s{}\n",
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
    )
}

pub(super) fn render_verdict(passed: bool) -> String {
    format!("\n{}\n", if passed { "PASSED" } else { "FAILED" })
}
