//! Ranks as processes over TCP: runs started by `sieve-train launch` are bitwise the threaded
//! runs of the same grid (which tests/parallel.rs proves equal to the single rank), resuming
//! TP2×PP2×DP2 from a checkpoint in fresh processes is bitwise an uninterrupted run, and
//! killing one rank makes the others exit with an error naming it.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use sieve_trainer::ckpt;
use sieve_trainer::data::{BlendDir, SampleSource, Split};
use sieve_trainer::dist::grid::RankGrid;
use sieve_trainer::dist::{Comm, ThreadGroup};
use sieve_trainer::train::{Groups, Trainer};

const BASE: &[&str] = &[
    "--model",
    "tiny",
    "--seq-len",
    "32",
    "--micro-batch",
    "1",
    "--global-batch",
    "8",
    "--train-iters",
    "4",
    "--warmup-iters",
    "1",
    "--lr",
    "3e-3",
    "--eval-interval",
    "0",
    "--peak-flops",
    "1e9",
    "-j",
    "1",
    "-q",
];

fn launch(n: usize, extra: &[&str]) {
    let blend = common::sample_blend();
    let n = n.to_string();
    let mut args = vec!["launch", "--nproc-per-node", &n, "--", "train", "--data"];
    args.push(blend.to_str().unwrap());
    args.extend(BASE);
    args.extend(common::no_save_unless_saving(extra));
    common::sieve_train_ok(&args);
}

/// The same run as threads, saved with the same checkpoint code.
fn threaded(config_from: &Path, save: &Path) {
    let (_, config, _) = ckpt::open(config_from).unwrap();
    let cfg = config.train;
    let world = cfg.tp * cfg.pp * cfg.dp;
    let blend = BlendDir::open(&common::sample_blend(), false).unwrap();
    let src = SampleSource::blended(
        &blend,
        Split::Train,
        cfg.train_samples(),
        cfg.seq,
        cfg.seed as u32,
    )
    .unwrap();
    let groups_of =
        |n: usize, size: usize| -> Vec<_> { (0..n).map(|_| ThreadGroup::new(size)).collect() };
    let (tpg, dpg, ppg) = (
        groups_of(cfg.dp * cfg.pp, cfg.tp),
        groups_of(cfg.tp * cfg.pp, cfg.dp),
        groups_of(cfg.tp * cfg.dp, cfg.pp),
    );
    let worldg = ThreadGroup::new(world);
    std::thread::scope(|s| {
        for r in 0..world {
            let g = RankGrid::new(r, cfg.tp, cfg.pp, world);
            let tp: Box<dyn Comm<f32>> = Box::new(tpg[g.tp_group()].comm(g.shard.tp_rank));
            let groups: Groups = Groups {
                tp,
                pp: Box::new(ppg[g.pp_group()].comm(g.shard.pp_rank)) as Box<dyn Comm<f32>>,
                dp: Box::new(dpg[g.dp_group()].comm(g.dp_rank)) as Box<dyn Comm<f32>>,
            };
            let (cfg, src, w, data, tok) = (
                cfg.clone(),
                &src,
                worldg.comm(r),
                config.data_sha256.clone(),
                config.tokenizer.clone(),
            );
            s.spawn(move || {
                let mut t = Trainer::new(cfg.clone(), g.shard, groups).unwrap();
                for _ in 0..cfg.train_iters {
                    t.train_step(src).unwrap();
                }
                ckpt::save(&t, save, data, tok, &w).unwrap();
            });
        }
    });
}

fn same_files(a: &Path, b: &Path) {
    let mut names: Vec<_> = std::fs::read_dir(a)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert!(names.len() >= 4, "{names:?}");
    for n in names {
        let (x, y) = (
            std::fs::read(a.join(&n)).unwrap(),
            std::fs::read(b.join(&n)).unwrap(),
        );
        assert!(
            x == y,
            "{} differs between {} and {}",
            n.to_string_lossy(),
            a.display(),
            b.display()
        );
    }
}

#[test]
fn tcp_processes_are_bitwise_the_threaded_runs() {
    for (name, extra) in [
        ("dp2", vec![]),
        ("tp2", vec!["--tp", "2"]),
        ("pp2 zero1", vec!["--pp", "2", "--zero1"]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (procs, threads) = (dir.path().join("procs"), dir.path().join("threads"));
        let mut args: Vec<&str> = extra.clone();
        args.extend(["--save", procs.to_str().unwrap()]);
        launch(2, &args);
        threaded(&procs, &threads);
        eprintln!("{name}: processes over TCP and threads agree bitwise");
        same_files(&procs.join("iter_0000004"), &threads.join("iter_0000004"));
    }
}

#[test]
fn tp2_pp2_dp2_resumed_in_fresh_processes_is_bitwise() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let grid = ["--tp", "2", "--pp", "2", "--zero1"];
    let mut straight = grid.to_vec();
    straight.extend(["--save", a.to_str().unwrap()]);
    launch(8, &straight);
    let mut first = grid.to_vec();
    first.extend(["--save", b.to_str().unwrap(), "--exit-after", "2"]);
    launch(8, &first);
    assert!(b.join("iter_0000002/state.json").exists());
    let mut second = grid.to_vec();
    second.extend(["--save", b.to_str().unwrap(), "--load", b.to_str().unwrap()]);
    launch(8, &second);
    same_files(&a.join("iter_0000004"), &b.join("iter_0000004"));
}

#[test]
fn killing_one_rank_stops_the_others_with_a_clear_error() {
    let blend = common::sample_blend();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let spawn = |rank: usize| {
        let mut cmd = common::sieve_train();
        let mut args: Vec<&str> = BASE.to_vec();
        let at = args.iter().position(|&a| a == "--train-iters").unwrap();
        args[at + 1] = "100000";
        cmd.args(["train", "--data"]).arg(&blend).args(args);
        cmd.args(["--comm-timeout", "60", "--no-save"]);
        cmd.env("RANK", rank.to_string())
            .env("WORLD_SIZE", "2")
            .env("MASTER_ADDR", "127.0.0.1")
            .env("MASTER_PORT", port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        cmd.spawn().unwrap()
    };
    let rank0 = spawn(0);
    let mut rank1 = spawn(1);
    std::thread::sleep(Duration::from_secs(3));
    rank1.kill().unwrap();
    rank1.wait().unwrap();
    let started = Instant::now();
    let out = rank0.wait_with_output().unwrap();
    let waited = started.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "rank 0 kept going after rank 1 died");
    assert!(
        err.contains("lost rank 1"),
        "rank 0's error does not name rank 1: {err}"
    );
    assert!(
        waited < Duration::from_secs(30),
        "rank 0 took {waited:?} to notice"
    );
    eprintln!(
        "rank 0 stopped {waited:?} after rank 1 was killed: {}",
        err.trim()
    );
}

#[test]
fn the_launcher_fails_when_a_rank_fails() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-blend");
    let out = common::sieve_train()
        .args(["launch", "--nproc-per-node", "2", "--", "train", "--data"])
        .arg(&missing)
        .args(BASE)
        .arg("--no-save")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("manifest.json"),
        "the rank's own error is shown: {err}"
    );
    assert!(
        err.contains("failed") && err.contains("rank"),
        "the launcher names the rank: {err}"
    );
}

/// MFU on four ranks (TP2 × PP2) is the model's FLOPs per second over four devices' peak, with
/// the FLOPs Megatron-LM's `num_floating_point_operations` counts, written out here term by
/// term: the figure in the metrics file and the one printed in the progress line agree with it.
#[test]
fn mfu_is_model_flops_over_the_whole_worlds_peak() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("m.jsonl");
    let blend = common::sample_blend();
    let mut cmd = common::sieve_train();
    cmd.args(["launch", "--nproc-per-node", "4", "--", "train", "--data"]);
    cmd.arg(&blend);
    // BASE without -q (the progress lines are read) and with ten steps (a line every ten).
    let mut base: Vec<&str> = BASE.iter().copied().filter(|a| *a != "-q").collect();
    let iters = base.iter().position(|a| *a == "--train-iters").unwrap();
    base[iters + 1] = "10";
    cmd.args(&base);
    cmd.args(["--tp", "2", "--pp", "2", "--no-save", "--metrics"]);
    cmd.arg(&metrics);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");

    // The tiny preset: 2 layers, hidden 64, GPT-2's vocabulary padded to a multiple of 128;
    // BASE trains on 32 tokens.
    let (l, h, s) = (2.0, 64.0, 32.0);
    let v = (50257f64 / 128.0).ceil() * 128.0;
    let (fwd_bwd, fma) = (3.0, 2.0);
    let attention = fwd_bwd * fma * (h * 3.0 * h + h * s / 2.0 * 2.0 + h * h);
    let mlp = fwd_bwd * fma * h * (4.0 * h * 2.0);
    let logits = fwd_bwd * fma * h * v;
    let per_token = l * (attention + mlp) + logits;
    let (world, peak) = (4.0, 1e9);

    let records: Vec<serde_json::Value> = std::fs::read_to_string(&metrics)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 10);
    for r in &records {
        let tps = r["tokens_per_s"].as_f64().unwrap();
        let want = tps * per_token / (world * peak);
        let got = r["mfu"].as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-12 * want,
            "{r}: mfu {got}, want {want}"
        );
    }
    // The progress line of step 10: "... grad norm G T tok/s mfu M%".
    let line = stderr
        .lines()
        .find(|l| l.starts_with("step 10 loss"))
        .unwrap_or_else(|| panic!("no progress line for step 10 in\n{stderr}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let after = |w: &str| words[words.iter().position(|x| *x == w).unwrap() + 1];
    let printed_mfu: f64 = after("mfu").trim_end_matches('%').parse().unwrap();
    let last = &records[9];
    let want = 100.0 * last["tokens_per_s"].as_f64().unwrap() * per_token / (world * peak);
    assert!(
        (printed_mfu - want).abs() <= 0.05 + 1e-9,
        "{line}: want {want:.3}%"
    );
    let printed_norm: f64 = words[words.iter().position(|x| *x == "norm").unwrap() + 1]
        .parse()
        .unwrap();
    let norm = last["grad_norm"].as_f64().unwrap();
    assert!(
        (printed_norm - norm).abs() <= 0.0005 + 1e-12,
        "{line}: grad norm {norm}"
    );
    assert!(
        line.contains(&format!("loss {:.4}", last["loss"].as_f64().unwrap())),
        "{line}"
    );
}

/// SIGTERM to the launcher (what Slurm sends before a time limit) reaches every rank; they
/// finish the step, agree on it, save it and stop, saying so even under -q: the checkpoint is
/// the step the metrics end at.
#[test]
fn sigterm_saves_the_finished_step_and_stops_every_rank() {
    let dir = tempfile::tempdir().unwrap();
    let (save, metrics) = (dir.path().join("ck"), dir.path().join("m.jsonl"));
    let blend = common::sample_blend();
    let mut args: Vec<&str> = BASE.to_vec();
    let at = args.iter().position(|&a| a == "--train-iters").unwrap();
    args[at + 1] = "100000";
    let mut cmd = common::sieve_train();
    cmd.args(["launch", "--nproc-per-node", "2", "--", "train", "--data"])
        .arg(&blend)
        .args(args)
        .arg("--save")
        .arg(&save)
        .arg("--metrics")
        .arg(&metrics)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let launcher = cmd.spawn().unwrap();
    let started = Instant::now();
    let steps = || {
        std::fs::read_to_string(&metrics)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    while steps() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no steps recorded"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &launcher.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = launcher.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("SIGTERM: stopped after step"))
        .unwrap_or_else(|| panic!("no SIGTERM message in\n{stderr}"));
    let step: u64 = line.split_whitespace().nth(5).unwrap().parse().unwrap();
    assert!(
        line.contains(&format!(
            "of 100000; saved {}",
            save.join(format!("iter_{step:07}")).display()
        )),
        "{line}"
    );
    assert!(
        line.contains(&format!("resume with --load {}", save.display())),
        "{line}"
    );
    assert_eq!(steps() as u64, step, "the metrics end at the saved step");
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(save.join(format!("iter_{step:07}/state.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(state["step"], step);
    // Both ranks' optimizer shards of that step are there (each rank saved).
    assert!(save
        .join(format!("iter_{step:07}/optim_tp0_pp0_dp1.safetensors"))
        .exists());
}

/// Over TCP too, TP2 × PP2 with selective or full recomputation saves bitwise the plain run's
/// parameters and optimizer state.
#[test]
fn recomputation_over_tcp_is_bitwise_the_plain_run() {
    let dir = tempfile::tempdir().unwrap();
    let grid = ["--tp", "2", "--pp", "2"];
    let save = |name: &str, extra: &[&str]| {
        let path = dir.path().join(name);
        let mut args = grid.to_vec();
        args.extend(extra);
        args.extend(["--save", path.to_str().unwrap()]);
        launch(4, &args);
        path.join("iter_0000004")
    };
    let plain = save("plain", &[]);
    for (name, extra) in [
        ("selective", ["--recompute-granularity", "selective"]),
        ("full", ["--recompute-granularity", "full"]),
    ] {
        let other = save(name, &extra);
        let mut tensors: Vec<_> = std::fs::read_dir(&plain)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".safetensors"))
            .collect();
        tensors.sort();
        assert_eq!(tensors.len(), 8, "{tensors:?}");
        for t in tensors {
            let same =
                std::fs::read(plain.join(&t)).unwrap() == std::fs::read(other.join(&t)).unwrap();
            assert!(same, "{name}: {t} differs from the plain run's");
        }
    }
}

/// Runs TP2 × PP2 over 4 processes with `extra` and plain, and checks the first against the
/// same grid as threads (bitwise) and against the plain run's losses (the first bitwise, the
/// later within 1e-5: f32, whose parameters after Adam steps are not comparable element by
/// element, see docs/trainer.md on tolerances). Returns the first run's checkpoint config.
fn over_tcp_against_threads_and_plain(extra: &[&str]) -> ckpt::CheckpointConfig {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let run = |save: &str, extra: &[&str]| {
        let (save, metrics) = (path(save), path(&format!("{save}.jsonl")));
        let mut args = vec!["--tp", "2", "--pp", "2", "--layers", "4"];
        args.extend(extra);
        args.extend(["--save", save.to_str().unwrap()]);
        args.extend(["--metrics", metrics.to_str().unwrap()]);
        launch(4, &args);
        let losses: Vec<f64> = std::fs::read_to_string(&metrics)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"]
                    .as_f64()
                    .unwrap()
            })
            .collect();
        losses
    };
    let changed = run("changed", extra);
    let (_, config, _) = ckpt::open(&path("changed")).unwrap();
    threaded(&path("changed"), &path("threads"));
    same_files(&path("changed/iter_0000004"), &path("threads/iter_0000004"));
    let plain = run("plain", &[]);
    assert_eq!(changed.len(), 4);
    assert_eq!(
        changed[0].to_bits(),
        plain[0].to_bits(),
        "{extra:?}: first loss"
    );
    for (s, (a, b)) in changed.iter().zip(&plain).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * b.abs(),
            "{extra:?} step {s}: {a} vs plain {b}"
        );
    }
    config
}

/// Sequence parallelism over TCP: TP2 × PP2 processes save bitwise what the same grid run as
/// threads saves (which `parallel::sequence_parallelism_equals_the_plain_tensor_parallel_run`
/// holds to the plain run in f64), with the plain run's losses.
#[test]
fn sequence_parallelism_over_tcp_is_the_threaded_run_with_the_plain_losses() {
    let config = over_tcp_against_threads_and_plain(&["--sequence-parallel"]);
    assert!(
        config.train.sequence_parallel,
        "the flag did not reach the run"
    );
}

/// Interleaved 1F1B over TCP (TP2 × PP2, two chunks of one layer a stage): bitwise the threaded
/// run (which `parallel::interleaved_1f1b_equals_the_plain_pipeline` holds to the plain
/// pipeline in f64), with the plain 1F1B run's losses.
#[test]
fn interleaved_1f1b_over_tcp_is_the_threaded_run_with_the_plain_losses() {
    let config =
        over_tcp_against_threads_and_plain(&["--num-layers-per-virtual-pipeline-stage", "1"]);
    assert_eq!(
        config.train.virtual_stages, 2,
        "the flag did not reach the run"
    );
}

/// NCCL's ordering over TCP: PP2 × DP2 in four processes on `--device cpu-nccl-order` (grouped
/// sends read their buffers at the group's end, poison if released; the data-parallel buckets
/// reduced at their wait, poison until then) saves bitwise what the cpu device saves.
#[test]
fn nccl_ordering_over_tcp_is_bitwise_the_cpu_device() {
    let dir = tempfile::tempdir().unwrap();
    let save = |name: &str, extra: &[&str]| {
        let path = dir.path().join(name);
        let mut args = vec!["--pp", "2"];
        args.extend(extra);
        args.extend(["--save", path.to_str().unwrap()]);
        launch(4, &args);
        path.join("iter_0000004")
    };
    let ordered = save("ordered", &["--device", "cpu-nccl-order"]);
    let cpu = save("cpu", &[]);
    same_files(&ordered, &cpu);
}
