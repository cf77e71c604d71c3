//! The selftest's report on CPU devices that fail as GPUs fail, and the multi-GPU part on CPU
//! ranks.

use super::render::{render, render_multi, render_verdict};
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
