//! `sieve-train selftest --device cpu|cuda`: every kernel against its CPU twin, a few training
//! steps against the CPU backend, then tokens/s and MFU for the GPT-2 124M and 1.3B shapes.

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Serialize;

use crate::backend::{Backend, Cpu};
use crate::selftest::{self, kernels, multi, GradientCheck, StepsCheck, Throughput};

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

#[cfg(feature = "cuda")]
fn cuda(args: &SelftestArgs, part: &mut dyn FnMut(&str)) -> Result<Report> {
    use crate::backend::cuda::Cuda;
    let probe = Cuda::new(args.gpu)?;
    let name = format!(
        "cuda:{} ({}, compute capability {}.{})",
        args.gpu, probe.device_name, probe.compute_capability.0, probe.compute_capability.1
    );
    let peak = args
        .peak_flops
        .or_else(|| selftest::bf16_peak_flops(&probe.device_name));
    let free = probe.free_memory();
    drop(probe);
    let gpu = args.gpu;
    let mut r = report(
        name,
        move || Cuda::new(gpu).expect("the GPU opened a moment ago"),
        args,
        (peak, free),
        part,
    )?;
    let gpus = cudarc::driver::CudaContext::device_count()
        .unwrap_or(1)
        .max(1) as usize;
    if gpus < 2 {
        part("\none GPU visible: the multi-GPU part is skipped\n");
        return Ok(r);
    }
    let m = multi_gpu(gpus.min(8))?;
    part(&render_multi(&m));
    r.passed &= m.passed();
    r.multi_gpu = Some(m);
    Ok(r)
}

/// What one GPU's thread of the multi-GPU part does with its backend, group and rank.
#[cfg(feature = "cuda")]
type OnGpu<'a> = dyn Fn(
        crate::backend::cuda::Cuda,
        &crate::backend::cuda::NcclGroup,
        usize,
    ) -> Result<Vec<multi::RankCheck>>
    + Sync
    + 'a;

/// Runs `f` on GPUs 0..n, one thread and NCCL rank of group `name` each; their checks.
#[cfg(feature = "cuda")]
fn on_each_gpu(n: usize, name: &'static str, f: &OnGpu<'_>) -> Result<Vec<multi::RankCheck>> {
    use crate::backend::cuda::{Cuda, NcclGroup};
    let id = crate::dist::nccl_id::nccl_unique_id()?;
    let per_rank: Vec<Result<Vec<multi::RankCheck>>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..n)
            .map(|r| {
                s.spawn(move || {
                    let cuda = Cuda::new(r)?;
                    let group = NcclGroup::join(&cuda, name, &id, r, n)?;
                    f(cuda, &group, r)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a GPU's thread panicked")))
            })
            .collect()
    });
    Ok(per_rank.into_iter().collect::<Result<Vec<_>>>()?.concat())
}

/// The collectives on `gpus` GPUs, then a 2-stage pipeline step on the first two, against
/// the CPU.
#[cfg(feature = "cuda")]
fn multi_gpu(gpus: usize) -> Result<MultiGpu> {
    let collectives = on_each_gpu(gpus, "selftest", &|cuda, group, _| {
        multi::collectives(&cuda, group)
    })?;
    let stages = std::sync::Mutex::new(Vec::new());
    on_each_gpu(2, "pipeline-parallel", &|cuda, group, stage| {
        let s = multi::pipeline_stage(cuda, group, stage)?;
        stages.lock().unwrap_or_else(|e| e.into_inner()).push(s);
        Ok(Vec::new())
    })?;
    let mut pipeline = stages.into_inner().unwrap_or_else(|e| e.into_inner());
    pipeline.sort_by_key(|s| s.stage);
    Ok(MultiGpu {
        gpus,
        collectives,
        pipeline,
    })
}

#[cfg(not(feature = "cuda"))]
fn cuda(_args: &SelftestArgs, _part: &mut dyn FnMut(&str)) -> Result<Report> {
    bail!("--device cuda: this sieve-train was built without CUDA; rebuild with `cargo build --release -p sieve-trainer --features cuda`")
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
fn render_multi(m: &MultiGpu) -> String {
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
fn render_kernels(checks: &[kernels::Check]) -> String {
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
fn render_gradients(grads: &[GradientCheck]) -> String {
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

fn render_training(t: &StepsCheck) -> String {
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

fn render_throughput(t: &std::result::Result<Throughput, String>) -> String {
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

fn render_verdict(passed: bool) -> String {
    format!("\n{}\n", if passed { "PASSED" } else { "FAILED" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::faulty::{Fault, Faulty};
    use crate::model::GptConfig;

    fn args(throughput: &str) -> SelftestArgs {
        SelftestArgs {
            device: "faulty cpu".into(),
            gpu: 0,
            peak_flops: Some(1e11),
            throughput: throughput.into(),
        }
    }

    /// The selftest on a device made by `make`: its report (or error) and the parts handed out.
    fn selftest(make: impl Fn() -> Faulty<f32>, throughput: &str) -> (Result<Report>, Vec<String>) {
        let mut parts = Vec::new();
        let r = report(
            "faulty cpu".into(),
            make,
            &args(throughput),
            (Some(1e11), None),
            &mut |p| parts.push(p.to_string()),
        );
        (r, parts)
    }

    /// A kernel that fails on the device is named in its own lines with the device's error,
    /// every other kernel passes, and the parts done before a later part fails are handed out.
    #[test]
    fn a_failing_kernel_is_reported_in_its_own_line_before_a_later_part_fails() {
        let (r, parts) = selftest(|| Faulty::new(Fault::Fails("adamw_step")), "");
        let e = r
            .expect_err("the training part synchronizes and fails")
            .to_string();
        assert!(e.contains("adamw_step: an illegal memory access"), "{e}");
        let kernels = &parts[1];
        for line in kernels.lines().filter(|l| l.contains(" elements ")) {
            let adamw = line.contains("adamw_step");
            assert_eq!(line.trim_start().starts_with("FAIL"), adamw, "{line}");
            assert_eq!(
                line.contains("device error: adamw_step: an illegal"),
                adamw,
                "{line}"
            );
        }
        assert_eq!(
            kernels.matches("FAIL").count(),
            3,
            "params, m, v:\n{kernels}"
        );
        assert!(parts[2].contains("gradients after one step"), "{parts:?}");
        assert!(!parts[2].contains("FAIL"), "{}", parts[2]);
    }

    /// A kernel that is silently wrong (here the position embedding's gradient, skipped) fails
    /// its kernel line and exactly the one gradient tensor it writes.
    #[test]
    fn a_wrong_kernel_fails_the_gradient_of_its_own_tensor_only() {
        let (r, _) = selftest(|| Faulty::new(Fault::Skips("add_positions_backward")), "");
        let r = r.unwrap();
        assert!(!r.passed);
        let failed: Vec<&str> = r
            .gradients
            .iter()
            .filter(|g| !g.passed())
            .map(|g| g.tensor.as_str())
            .collect();
        assert_eq!(failed, ["wpe.weight"]);
        let kernel_failures: Vec<&str> = r
            .kernels
            .iter()
            .filter(|c| !c.passed())
            .map(|c| c.function)
            .collect();
        assert_eq!(kernel_failures, ["add_positions_backward"]);
        assert!(r.kernels.iter().all(|c| c.failure.is_none()));
    }

    /// Out of memory in a throughput run is that run's line, naming the bytes asked for; the
    /// checks before it stand and the report completes.
    #[test]
    fn out_of_memory_in_a_throughput_run_names_the_size_and_the_report_goes_on() {
        let limit = 5_000_000;
        let (r, parts) = selftest(|| Faulty::new(Fault::Memory(limit)), "tiny:1x32,small:1x32");
        let r = r.unwrap();
        assert!(r.passed, "{parts:?}");
        assert!(r.throughput[0].is_ok(), "{:?}", r.throughput[0]);
        let e = r.throughput[1].as_ref().unwrap_err();
        // The first buffer above the limit: small's parameters (50,257-token vocabulary).
        let small = GptConfig::preset("small", 50_257).unwrap();
        let params = crate::model::Layout::new(&small, crate::model::ModelShard::SINGLE)
            .unwrap()
            .len;
        assert!(params > limit);
        assert!(
            e.starts_with("small: batch 1 × 32 tokens:")
                && e.contains(&format!(
                    "out of device memory allocating {} bytes",
                    params * 4
                )),
            "{e}"
        );
        assert!(parts.iter().any(|p| p.contains(e.as_str())));
        assert_eq!(parts.concat() + &render_verdict(r.passed), render(&r));
    }

    /// The multi-GPU part's report, from its checks run on two CPU ranks as threads: a line
    /// per collective and rank and per pipeline stage, all ok, the last stage with its loss;
    /// one wrong collective turns its own line and the part to FAIL.
    #[test]
    fn the_multi_gpu_part_reports_each_collective_and_stage() {
        let group = crate::dist::ThreadGroup::new(2);
        let per_rank: Vec<(Vec<multi::RankCheck>, multi::StageCheck)> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..2)
                .map(|r| {
                    let comm = group.comm(r);
                    s.spawn(move || {
                        let c = multi::collectives(&Cpu::<f32>::new(), &comm).unwrap();
                        (
                            c,
                            multi::pipeline_stage(Cpu::<f32>::new(), &comm, r).unwrap(),
                        )
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let (collectives, pipeline): (Vec<_>, Vec<_>) = per_rank.into_iter().unzip();
        let mut m = MultiGpu {
            gpus: 2,
            collectives: collectives.concat(),
            pipeline,
        };
        assert!(m.passed(), "{m:?}");
        let text = render_multi(&m);
        let ok = text
            .lines()
            .filter(|l| l.trim_start().starts_with("ok"))
            .count();
        assert_eq!(ok, 2 * 5 + 2, "{text}");
        assert!(text.contains("ok   rank 1 send to rank 0 and receive from rank 0, grouped"));
        let last = text.lines().last().unwrap();
        assert!(
            last.contains("pipeline stage 1 of 2") && last.contains("loss sum"),
            "{last}"
        );
        m.collectives[7].passed = false;
        assert!(!m.passed());
        let text = render_multi(&m);
        assert_eq!(text.matches("FAIL").count(), 1);
        assert!(
            text.contains("FAIL rank 1 reduce_scatter of 1000 elements"),
            "{text}"
        );
    }

    /// `--throughput auto` halves each default shape's batch until its step fits in 85% of the
    /// free memory, and skips a shape one sample of which does not fit. Sizes by hand
    /// (`step_bytes`' terms): GPT-2 124M (124.4M parameters with the padded vocabulary) at
    /// 8 × 1024 needs 18·124.4M + 12·2·(16·8192·768 + 12·1024²·8) + 8·8192·50304 ≈ 9.3 GB; the
    /// 1.3B (1.31B parameters) at 1 × 2048 about 30.9 GB, at 2 about 38.2 GB, at 4 about 52.7 GB.
    #[test]
    fn auto_throughput_shapes_fit_the_free_memory() {
        let gib = 1u64 << 30;
        let plan = |free: u64| selftest::shapes_for(free, true).unwrap();
        let ok = |p: &str, b: usize, s: usize| Ok((p.to_string(), b, s));
        assert_eq!(
            plan(80 * gib),
            [ok("gpt2-124m", 8, 1024), ok("gpt-1.3b", 4, 2048)]
        );
        assert_eq!(
            plan(40 * gib),
            [ok("gpt2-124m", 8, 1024), ok("gpt-1.3b", 1, 2048)]
        );
        let small = plan(16 * gib);
        assert_eq!(small[0], ok("gpt2-124m", 8, 1024));
        let skipped = small[1].as_ref().unwrap_err();
        assert!(
            skipped.starts_with("gpt-1.3b: skipped: 1 × 2048 tokens needs about 28.")
                && skipped.ends_with("16.0 GiB is free"),
            "{skipped}"
        );
        let cfg = GptConfig::preset("gpt2-124m", 50_257).unwrap();
        let need = selftest::step_bytes(&cfg, 16, 1024, true) as f64;
        assert!((need / 1e9 - 18.5).abs() < 0.3, "{need}");
    }
}
