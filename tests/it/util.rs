//! Test harness: the built `sieve` binary, scratch directories, the shared data directory,
//! and directory comparison.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/data`, or `None` (tests that need it print why they skip).
pub fn shared_data() -> Option<PathBuf> {
    let p = repo().join("../shared/data");
    if p.is_dir() {
        Some(p)
    } else {
        sieve::testing::skip("../shared/data beside the repository");
        None
    }
}

/// The quality classifier the repository ships (`models/quality/`), trained on the paper's
/// curated-versus-crawl split.
pub fn shipped_quality_model() -> PathBuf {
    repo().join("models/quality/mtnlg-quality.ftz")
}

pub fn sieve() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sieve"));
    c.env("SIEVE_PROGRESS_SECS", "3600");
    c
}

/// Runs sieve with `args`, asserting the exit code.
pub fn run_ok(args: &[&str]) -> Output {
    run_expect(args, 0)
}

pub fn run_expect(args: &[&str], code: i32) -> Output {
    let out = sieve().args(args).output().expect("sieve runs");
    assert_eq!(
        out.status.code(),
        Some(code),
        "sieve {args:?}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn sample_web() -> PathBuf {
    repo().join("data-samples/web")
}

/// Every file under `dir` (relative path → bytes).
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// [`tree`] as comparisons of runs see it. Measurements are not outputs: step timings (one
/// file per task, so their names follow the task split) and the run's ledger (process id,
/// times; only `sieve run` keeps one) are left out, and the data card (which shows timings)
/// counts by file name only.
pub fn comparable_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut t = tree(dir);
    t.retain(|name, _| !name.starts_with("timings/") && name != "work/run.json");
    for (name, bytes) in t.iter_mut() {
        if name.starts_with("report/") {
            bytes.clear();
        }
    }
    t
}

/// `sieve run` of the sample spec into `out`, quietly, with `extra` options.
pub fn run_sample(out: &Path, extra: &[&str]) {
    let spec = repo().join("pipelines/sample.toml");
    let mut args = vec!["run", "-q"];
    args.extend_from_slice(extra);
    args.extend(["-o", out.to_str().unwrap(), spec.to_str().unwrap()]);
    run_ok(&args);
}

pub fn assert_same_tree(a: &Path, b: &Path) {
    assert_same_files(a, b, |_| true)
}

/// Like [`assert_same_tree`], but markers (which name the input location) only by name.
pub fn assert_same_outputs(a: &Path, b: &Path) {
    assert_same_files(a, b, |name| {
        !name.starts_with("done/") && !name.contains("/done/")
    })
}

fn assert_same_files(a: &Path, b: &Path, compare_bytes: impl Fn(&str) -> bool) {
    let (mut ta, mut tb) = (comparable_tree(a), comparable_tree(b));
    for t in [&mut ta, &mut tb] {
        for (name, bytes) in t.iter_mut() {
            if !compare_bytes(name) {
                bytes.clear();
            }
        }
    }
    let names_a: Vec<_> = ta.keys().collect();
    let names_b: Vec<_> = tb.keys().collect();
    assert_eq!(
        names_a,
        names_b,
        "different files in {} and {}",
        a.display(),
        b.display()
    );
    for (name, bytes) in &ta {
        assert!(
            bytes == &tb[name],
            "{name} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

pub fn stats(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("stats.json")).unwrap()).unwrap()
}

pub fn read_stage<'a>(stats: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    stats["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no stage {name} in {stats}"))
}

pub fn docs_of(path: &Path) -> Vec<sieve::doc::Document> {
    sieve::io::shards::read_docs(path)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// `sieve warc` over the sample WARCs into `out`.
pub fn warc_sample_into(out: &Path) {
    sample_command_into("warc", out);
}

/// `sieve extract` over the sample WARCs into `out`.
pub fn extract_sample_into(out: &Path) {
    sample_command_into("extract", out);
}

fn sample_command_into(command: &str, out: &Path) {
    run_ok(&[
        command,
        "-q",
        "--output",
        out.to_str().unwrap(),
        sample_web().to_str().unwrap(),
    ]);
}

/// A Python with `modules`: `$SIEVE_TEST_PYTHON` (set by scripts/test.sh to a venv that has
/// them all; missing ones fail the test), else `python3` if it has them, else `None` (the
/// caller's test says why it skips).
pub fn python_with(modules: &[&str]) -> Option<String> {
    let explicit = std::env::var("SIEVE_TEST_PYTHON").ok();
    let python = explicit.clone().unwrap_or_else(|| "python3".into());
    let script = modules
        .iter()
        .map(|m| format!("import {m}"))
        .collect::<Vec<_>>()
        .join("; ");
    let ok = Command::new(&python)
        .args(["-c", &script])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    assert!(
        explicit.is_none(),
        "SIEVE_TEST_PYTHON={python} lacks one of {modules:?}"
    );
    sieve::testing::skip(&format!(
        "a Python with {modules:?} ({python} lacks one; set SIEVE_TEST_PYTHON)"
    ));
    None
}

/// The file names in `dir` (none when it does not exist yet), sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Runs the tasks `I/N` of one step (`run(task)`), one after another, and checks that each
/// finishes exactly its own share of the step's units and writes nothing of anyone else's.
///
/// `units` are the step's completion markers in a one-shot run, sorted: a task `I/N` owns the
/// round-robin share (the units at positions `I`, `I + N`, …; the order `--shard` documents).
/// After each task, the markers new in `done` must be exactly that share, and no file new
/// under `root` may name a unit of another task. A task that ignored `--shard` (did all the
/// work, or someone else's) fails here even though the merged result would look right.
/// After the last task every unit is done.
pub fn run_tasks_checking_shares(
    root: &Path,
    done: &Path,
    units: &[String],
    tasks: &[&str],
    mut run: impl FnMut(&str),
) {
    assert!(!units.is_empty(), "the one-shot run left no markers");
    for task in tasks {
        let (i, n) = task.split_once('/').unwrap();
        let (i, n): (usize, usize) = (i.parse().unwrap(), n.parse().unwrap());
        let (mine, others): (Vec<_>, Vec<_>) =
            units.iter().enumerate().partition(|(k, _)| k % n == i);
        let mine: Vec<String> = mine.into_iter().map(|(_, u)| u.clone()).collect();
        let before_markers = names_in(done);
        let before_files = if root.exists() {
            tree(root)
        } else {
            BTreeMap::new()
        };
        run(task);
        let new_markers: Vec<String> = names_in(done)
            .into_iter()
            .filter(|m| !before_markers.contains(m))
            .collect();
        assert_eq!(
            new_markers, mine,
            "task {task} finished other units than its own share"
        );
        for name in tree(root).keys().filter(|f| !before_files.contains_key(*f)) {
            if let Some((_, unit)) = others.iter().find(|(_, u)| name.contains(u.as_str())) {
                panic!("task {task} wrote {name}, which belongs to unit {unit} of another task");
            }
        }
    }
    assert_eq!(
        names_in(done),
        units,
        "not every unit is done after all tasks"
    );
}

/// The files of two trees that `pick` selects are the same names on both sides (a file
/// missing on either side fails) with the same bytes.
pub fn assert_same_picked(
    a: &BTreeMap<String, Vec<u8>>,
    b: &BTreeMap<String, Vec<u8>>,
    pick: impl Fn(&str) -> bool,
) {
    let names = |t: &BTreeMap<String, Vec<u8>>| -> Vec<String> {
        t.keys().filter(|n| pick(n)).cloned().collect()
    };
    assert_eq!(names(a), names(b), "different files on the two sides");
    for name in names(a) {
        assert!(a[&name] == b[&name], "{name} differs");
    }
}

/// Runs a table generator (`python SCRIPT`, writing Rust source) and asserts that its output,
/// formatted by rustfmt, is the committed file `committed` (relative to the repository).
pub fn assert_generated_file_is_committed(python: &str, script: &str, committed: &str) {
    use std::io::Write;
    let generated = Command::new(python)
        .arg(repo().join(script))
        .output()
        .expect("python runs");
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let mut rustfmt = Command::new("rustfmt")
        .args(["--edition", "2021", "--emit", "stdout"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("rustfmt runs");
    rustfmt
        .stdin
        .take()
        .unwrap()
        .write_all(&generated.stdout)
        .unwrap();
    let formatted = rustfmt.wait_with_output().unwrap();
    let on_disk = std::fs::read_to_string(repo().join(committed)).unwrap();
    assert!(
        String::from_utf8_lossy(&formatted.stdout) == on_disk,
        "{committed} differs from what {script} makes: regenerate it (see the script's header)"
    );
}
