//! The sample pipeline on a real Slurm: a single-node cluster started for the test
//! (`scripts/slurm-local.sh`, which installs Debian's slurm-wlm and munge when missing), the
//! spec submitted with `sieve slurm submit`, its output byte-identical to `sieve run`'s; then
//! one array task cancelled mid-run with `scancel`, the spec re-submitted (only unfinished
//! tasks run), and the bytes checked again. The daemons are stopped whatever happens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::{repo, run_ok, sieve, tree};

struct Cluster {
    dir: PathBuf,
}

impl Cluster {
    fn start() -> Option<Cluster> {
        let dir = tempfile::tempdir().unwrap().keep();
        let status = Command::new(repo().join("scripts/slurm-local.sh"))
            .arg("start")
            .arg(&dir)
            .status()
            .unwrap();
        match status.code() {
            Some(0) => Some(Cluster { dir }),
            Some(3) => {
                eprintln!("skipping: Slurm is not installed and cannot be installed here (needs root and apt-get)");
                None
            }
            _ => panic!(
                "the local Slurm cluster did not start; logs in {}",
                dir.join("log").display()
            ),
        }
    }

    fn conf(&self) -> PathBuf {
        self.dir.join("slurm.conf")
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", self.conf());
        c
    }

    fn queue_len(&self) -> usize {
        let o = self.cmd("squeue").args(["-h", "-r"]).output().unwrap();
        String::from_utf8_lossy(&o.stdout).lines().count()
    }

    fn wait_for_empty_queue(&self, timeout: Duration) {
        let start = Instant::now();
        while self.queue_len() > 0 {
            assert!(
                start.elapsed() < timeout,
                "Slurm jobs still queued after {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.cmd("scancel").args(["-u", "root"]).status();
        let _ = Command::new(repo().join("scripts/slurm-local.sh"))
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

fn submit(cluster: &Cluster, out: &Path) {
    let o = sieve()
        .env("SLURM_CONF", cluster.conf())
        .args(["slurm", "submit", "--array-parallelism", "2"])
        .arg("-o")
        .arg(out)
        .arg(repo().join("pipelines/sample.toml"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "submit failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Outputs without completion markers (they name their input paths), Slurm's own files and
/// the measured step times; the data card (which shows those times) by name only.
fn outputs(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    tree(dir)
        .into_iter()
        .filter(|(k, _)| {
            !k.starts_with("slurm/")
                && !k.starts_with("timings/")
                && !k.split('/').any(|p| p == "done")
        })
        .map(|(k, v)| {
            if k.starts_with("report/") {
                (k, Vec::new())
            } else {
                (k, v)
            }
        })
        .collect()
}

fn assert_same(got: &Path, want: &BTreeMap<String, Vec<u8>>) {
    let g = outputs(got);
    let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&g), names(want), "file lists differ");
    for (k, v) in want {
        assert!(&g[k] == v, "{k} differs from sieve run's");
    }
}

fn status_all_done(cluster: &Cluster, out: &Path) {
    let o = sieve()
        .env("SLURM_CONF", cluster.conf())
        .arg("status")
        .arg(out)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "sieve status reports failures:\n{text}");
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f[1], f[2], "step not done: {line}");
    }
}

#[test]
fn the_sample_pipeline_on_slurm_equals_sieve_run() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let reference = d.path().join("run");
    run_ok(&[
        "run",
        "-q",
        "-o",
        reference.to_str().unwrap(),
        repo().join("pipelines/sample.toml").to_str().unwrap(),
    ]);
    let want = outputs(&reference);
    assert!(want.keys().any(|k| k == "blend/manifest.json"));

    // Straight through.
    let a = d.path().join("slurm-a");
    submit(&cluster, &a);
    cluster.wait_for_empty_queue(Duration::from_secs(600));
    status_all_done(&cluster, &a);
    assert_same(&a, &want);

    // One array task of the dedup reduce cancelled mid-run: the rest of the chain never
    // starts (afterok); a re-submit runs what is left.
    let b = d.path().join("slurm-b");
    submit(&cluster, &b);
    let jobs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("slurm/jobs.json")).unwrap()).unwrap();
    let edges = jobs["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "dedup-edges")
        .unwrap();
    let job = edges["jobs"][0][0].as_str().unwrap().to_string();
    let last = edges["tasks"].as_u64().unwrap() - 1;
    let start = Instant::now();
    while !b.join("slurm/done/dedup-edges/0").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "dedup-edges never started"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let cancelled = cluster
        .cmd("scancel")
        .arg(format!("{job}_{last}"))
        .status()
        .unwrap();
    assert!(cancelled.success());
    // Wait for the array to drain, then clear the chain that can no longer start.
    let start = Instant::now();
    loop {
        let o = cluster
            .cmd("squeue")
            .args(["-h", "-r", "-j", &job])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&o.stdout).trim().is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "dedup-edges did not drain"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(
        !b.join(format!("slurm/done/dedup-edges/{last}")).exists(),
        "the cancelled task ran anyway"
    );
    assert!(
        !b.join("blend/manifest.json").exists(),
        "the chain went on past a cancelled task"
    );
    let _ = cluster.cmd("scancel").args(["-u", "root"]).status();
    cluster.wait_for_empty_queue(Duration::from_secs(60));
    submit(&cluster, &b);
    cluster.wait_for_empty_queue(Duration::from_secs(600));
    status_all_done(&cluster, &b);
    assert_same(&b, &want);
}
