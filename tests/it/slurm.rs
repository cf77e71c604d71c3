//! The sample pipeline on a real Slurm: a single-node cluster started for the test
//! (`scripts/slurm-local.sh`, which installs Debian's slurm-wlm and munge when missing), the
//! spec submitted with `sieve slurm submit`, its output byte-identical to `sieve run`'s; then
//! one array task cancelled mid-run with `scancel`, the spec re-submitted (only unfinished
//! tasks run), and the bytes checked again; then the first pass's running tasks killed with
//! SIGKILL while they write, re-submitted, checked again; then two snapshots, the second
//! checked against the first's dedup index, equal to `sieve run`'s. The daemons are stopped
//! whatever happens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::{comparable_tree, repo, run_sample, sieve};

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
                sieve::testing::skip(
                    "Slurm (not installed, and installing it needs root and apt-get)",
                );
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

    /// Whether no task of job `job` is left in the queue.
    fn drained(&self, job: &str) -> bool {
        let o = self
            .cmd("squeue")
            .args(["-h", "-r", "-j", job])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().is_empty()
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
    submit_spec(cluster, out, &repo().join("pipelines/sample.toml"));
}

fn submit_spec(cluster: &Cluster, out: &Path, spec: &Path) {
    let o = sieve()
        .env("SLURM_CONF", cluster.conf())
        .args(["slurm", "submit", "--array-parallelism", "2"])
        .arg("-o")
        .arg(out)
        .arg(spec)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "submit failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Outputs as runs are compared ([`comparable_tree`]), without completion markers (they name
/// their input paths) and Slurm's own files.
fn outputs(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    comparable_tree(dir)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("slurm/") && !k.split('/').any(|p| p == "done"))
        .collect()
}

/// Submits the spec (again), waits for the queue to empty, and checks every step done and the
/// outputs equal to `want`.
fn run_to_end(cluster: &Cluster, out: &Path, want: &BTreeMap<String, Vec<u8>>) {
    submit(cluster, out);
    cluster.wait_for_empty_queue(Duration::from_secs(600));
    status_all_done(cluster, out);
    assert_same(out, want);
}

/// The job ids and task counts `submit` recorded.
fn jobs(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("slurm/jobs.json")).unwrap()).unwrap()
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
    let table = text.lines().skip_while(|l| !l.starts_with("step ")).skip(1);
    for line in table.take_while(|l| !l.is_empty()) {
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
    run_sample(&reference, &[]);
    let want = outputs(&reference);
    assert!(want.keys().any(|k| k == "blend/manifest.json"));

    // Straight through.
    run_to_end(&cluster, &d.path().join("slurm-a"), &want);

    // One array task of the dedup reduce cancelled mid-run: the rest of the chain never
    // starts (afterok); a re-submit runs what is left.
    let b = d.path().join("slurm-b");
    submit(&cluster, &b);
    let edges = jobs(&b)["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "dedup-edges")
        .unwrap()
        .clone();
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
    while !cluster.drained(&job) {
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
    run_to_end(&cluster, &b, &want);

    // The running tasks of the first pass killed with SIGKILL while they write their shards
    // (a temporary output file exists): the killed tasks fail, their partial files are never
    // renamed into place, and a re-submit finishes the run with the same bytes.
    let c = d.path().join("slurm-c");
    submit(&cluster, &c);
    let first = jobs(&c)["steps"][0].clone();
    let pass = first["jobs"][0][0].as_str().unwrap().to_string();
    let writing = c.join("work/before-dedup");
    let start = Instant::now();
    let partial = loop {
        let temp = std::fs::read_dir(&writing).ok().and_then(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .find(|n| n.starts_with('.') && n.ends_with(".tmp"))
        });
        if let Some(t) = temp {
            break t;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "the first pass never wrote"
        );
        std::thread::sleep(Duration::from_millis(1));
    };
    let killed = cluster
        .cmd("scancel")
        .args(["--signal=KILL", "--full", &pass])
        .status()
        .unwrap();
    assert!(killed.success());
    let start = Instant::now();
    while cluster.queue_len() > 0 {
        // The killed tasks' dependents can never start: clear them once the pass has drained.
        if cluster.drained(&pass) {
            let _ = cluster.cmd("scancel").args(["-u", "root"]).status();
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "the queue did not drain"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(
        !c.join("blend/manifest.json").exists(),
        "the chain went on past a killed task (it was writing {partial})"
    );
    let pass_tasks = first["tasks"].as_u64().unwrap() as usize;
    let finished = std::fs::read_dir(c.join("slurm/done/pass-1")).map_or(0, |d| d.count());
    assert!(
        finished < pass_tasks,
        "no task was killed (it was writing {partial})"
    );
    // `sieve status` names each killed task as failed, with its log, and exits with 2.
    let o = sieve()
        .env("SLURM_CONF", cluster.conf())
        .arg("status")
        .arg(&c)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{text}");
    let row: Vec<String> = text
        .lines()
        .find(|l| l.starts_with("pass-1 "))
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect();
    // Killed while running: failed, with a log. Tasks the kill took out of the queue before
    // they started: not run. Nothing is left running or pending.
    let (failed_n, not_run): (usize, usize) = (row[5].parse().unwrap(), row[6].parse().unwrap());
    assert_eq!(
        row[1..5],
        [
            pass_tasks.to_string(),
            finished.to_string(),
            "0".to_string(),
            "0".to_string()
        ],
        "{text}"
    );
    assert!(failed_n >= 1, "no task listed as failed:\n{text}");
    assert_eq!(failed_n + not_run, pass_tasks - finished, "{text}");
    let killed = failed_n;
    let failed: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("failed: pass-1 task "))
        .collect();
    assert_eq!(failed.len(), killed, "{text}");
    for line in failed {
        let task = line["failed: pass-1 task ".len()..]
            .split(' ')
            .next()
            .unwrap();
        assert!(
            !c.join(format!("slurm/done/pass-1/{task}")).exists(),
            "task {task} is done but listed as failed:\n{text}"
        );
        assert!(line.ends_with(&format!("pass-1-{task}.log")), "{line}");
    }
    run_to_end(&cluster, &c, &want);

    against_an_index(&cluster, d.path());
}

/// Two snapshots on Slurm: A's spec writes a dedup index, B's is checked against it. B's
/// output is byte-identical to `sieve run` of the same two specs (whose index lives elsewhere:
/// the runs share no file).
fn against_an_index(cluster: &Cluster, dir: &Path) {
    use crate::dedup_index::{dedup_spec, snapshot_shards};
    let (a, b) = snapshot_shards(&dir.join("snapshots"), 240);
    for (side, run) in [("slurm", true), ("local", false)] {
        let index = dir.join(format!("index-{side}"));
        let write = format!("write_index = {:?}", index.to_str().unwrap());
        let against = format!("against = [{:?}]", index.to_str().unwrap());
        let spec_a = dedup_spec(dir, &format!("a-{side}"), &a, &write);
        let spec_b = dedup_spec(dir, &format!("b-{side}"), &b, &against);
        let (out_a, out_b) = (dir.join(format!("a-{side}")), dir.join(format!("b-{side}")));
        for (s, out) in [(&spec_a, &out_a), (&spec_b, &out_b)] {
            if run {
                submit_spec(cluster, out, s);
                cluster.wait_for_empty_queue(Duration::from_secs(600));
                status_all_done(cluster, out);
            } else {
                crate::util::run_ok(&[
                    "run",
                    "-q",
                    "-o",
                    out.to_str().unwrap(),
                    s.to_str().unwrap(),
                ]);
            }
        }
    }
    let parquet = |d: &Path| -> BTreeMap<String, Vec<u8>> {
        outputs(d)
            .into_iter()
            .filter(|(k, _)| k.ends_with(".parquet") && !k.starts_with("work/"))
            .collect()
    };
    let (slurm, local) = (parquet(&dir.join("b-slurm")), parquet(&dir.join("b-local")));
    assert!(!slurm.is_empty());
    assert_eq!(
        slurm, local,
        "B against the index differs between Slurm and sieve run"
    );
    let stats = crate::util::stats(&dir.join("b-slurm"));
    let dropped = &crate::util::read_stage(&stats, "dedup")["dropped"];
    assert!(
        dropped["duplicate_of_index"].as_u64().unwrap() > 0,
        "{dropped}"
    );
}

/// pipelines/mtnlg-cc.toml, with its listing swapped for a local one of 20,000 WARC paths (no
/// network here), becomes the job arrays the README describes: map steps capped at 9,000
/// tasks and split at MaxArraySize, and the per-step resources of its [slurm] table.
#[test]
fn the_mtnlg_cc_spec_submits_as_capped_job_arrays_with_its_resources() {
    let d = tempfile::tempdir().unwrap();
    let listing = d.path().join("warc.paths.gz");
    let mut paths = String::new();
    for i in 0..20_000 {
        paths.push_str(&format!(
            "crawl-data/CC-MAIN-2024-10/segments/{}/warc/CC-MAIN-{i:05}.warc.gz\n",
            i / 200
        ));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, paths.as_bytes()).unwrap();
    std::fs::write(&listing, gz.finish().unwrap()).unwrap();
    let pipelines = repo().join("pipelines");
    let spec = std::fs::read_to_string(pipelines.join("mtnlg-cc.toml"))
        .unwrap()
        .replace(
            "\"https://data.commoncrawl.org/crawl-data/CC-MAIN-2024-10/warc.paths.gz\"",
            &format!("{:?}", listing.to_str().unwrap()),
        )
        .replace("\"../models/", &format!("\"{}/models/", repo().display()))
        .replace("\"tasks/", &format!("\"{}/tasks/", pipelines.display()));
    let spec_path = d.path().join("mtnlg-cc.toml");
    std::fs::write(&spec_path, spec).unwrap();
    let o = sieve()
        .env("SLURM_CONF", "/nonexistent") // no cluster: MaxArraySize falls back to Slurm's default
        .args(["slurm", "submit", "--dry-run", "-o"])
        .arg(d.path().join("out"))
        .arg(&spec_path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Scripts per step: (array sizes, the script text of the first array).
    let mut steps: BTreeMap<String, (Vec<usize>, String)> = BTreeMap::new();
    for (name, block) in sbatch_scripts(&text) {
        let array = block
            .split("--array=")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        let (lo, hi) = array
            .split('%')
            .next()
            .unwrap()
            .split_once('-')
            .unwrap_or(("0", "0"));
        let n = hi.parse::<usize>().unwrap() - lo.parse::<usize>().unwrap() + 1;
        let e = steps
            .entry(name.to_string())
            .or_insert_with(|| (Vec::new(), block.to_string()));
        e.0.push(n);
    }
    let total = |s: &str| steps[s].0.iter().sum::<usize>();
    for map in [
        "pass-1",
        "dedup-signatures",
        "dedup-lsh",
        "pass-2",
        "decontam-count",
        "pass-3",
        "tokenize",
    ] {
        assert_eq!(total(map), 9000, "{map}");
        assert!(
            steps[map].0.iter().all(|&n| n <= 1001),
            "{map}: an array over MaxArraySize"
        );
    }
    assert_eq!(
        total("dedup-edges"),
        22,
        "one task per band, one for exact and one for URL keys"
    );
    // The snapshot's kept documents join the dedup index as the spec's last dedup steps.
    assert_eq!(total("dedup-index-shards"), 9000);
    assert_eq!(total("dedup-index-partitions"), 22);
    for single in [
        "dedup-components",
        "dedup-index-publish",
        "decontam-merge",
        "finish",
        "report",
    ] {
        assert_eq!(total(single), 1, "{single}");
    }
    let script = |s: &str| steps[s].1.as_str();
    assert!(
        script("pass-1").contains("--cpus-per-task=4") && script("pass-1").contains("--mem=8G")
    );
    assert!(script("dedup-edges").contains("--mem=32G"));
    assert!(script("dedup-components").contains("--mem=96G"));
    assert!(script("dedup-components").contains("--cpus-per-task=8"));
    assert!(script("dedup-components").contains("--time=12:00:00"));
    assert!(script("pass-1").contains("--shard $task/9000"));
}

/// The scripts `sieve slurm submit --dry-run` prints, each as (its step, from `--job-name=sieve-STEP`;
/// the text from its `# sbatch` line to the next).
pub(crate) fn sbatch_scripts(text: &str) -> Vec<(&str, &str)> {
    text.split("# sbatch ")
        .skip(1)
        .map(|block| {
            let step = block.split("--job-name=sieve-").nth(1).unwrap();
            (step.lines().next().unwrap(), block)
        })
        .collect()
}
