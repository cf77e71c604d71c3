//! Dedup against the index of earlier runs (`--write-index`, `--against`): snapshot B run
//! against snapshot A's index keeps exactly what one dedup over (A's kept documents ∪ B), A
//! first, keeps of B — also when B's steps run as separate `--shard` tasks, and after either
//! run is killed with SIGKILL and re-run. Layouts that cannot be compared are refused.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::dedup::{all_docs, long_text, true_jaccard};
use crate::util::{run_expect, run_ok, sieve, tree};

/// One document: id, url, text.
type Doc = (String, String, String);

/// `text` with every `every`-th word from word `from` to word `to` replaced by a word no
/// other text has (`tag` keeps replacements apart).
fn edited(text: &str, from: usize, to: usize, every: usize, tag: &str) -> String {
    text.split(' ')
        .enumerate()
        .map(|(i, w)| {
            if i >= from && i < to && (i - from).is_multiple_of(every) && !w.is_empty() {
                format!("{tag}q{i}x")
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A chain B1 → B2 hanging off an A document X: B1 near X, B2 near B1, B2 not near X.
struct Chain {
    x: String,
    b2: String,
}

/// Two snapshots of `n` documents each. A: unique texts and some copies among themselves.
/// B: 30% duplicates of A (exact copies under new URLs, A's URLs with new text, near copies,
/// and chains B1 ~ X, B2 ~ B1 with B2 not near X), copies among themselves, the rest new.
fn snapshots(n: usize) -> (Vec<Doc>, Vec<Doc>, Vec<Chain>) {
    let mut a: Vec<Doc> = Vec::new();
    let unique_a = n - n / 10;
    for i in 0..unique_a {
        a.push((
            format!("a-{i:05}"),
            format!("https://a.example/{i}"),
            long_text(10_000 + i as u64),
        ));
    }
    for k in 0..n / 10 {
        let src = a[(k * 7) % unique_a].2.clone();
        a.push((
            format!("a-copy-{k:05}"),
            format!("https://a.example/copy/{k}"),
            src,
        ));
    }
    let mut b: Vec<Doc> = Vec::new();
    let mut chains = Vec::new();
    let part = n / 20; // 5% of B per kind, 30% in all
    for k in 0..part {
        let x = &a[(k * 13) % unique_a];
        b.push((
            format!("b-exact-{k:05}"),
            format!("https://b.example/e/{k}"),
            x.2.clone(),
        ));
        let y = &a[(k * 13 + 5) % unique_a];
        b.push((
            format!("b-url-{k:05}"),
            y.1.clone(),
            long_text(90_000 + k as u64),
        ));
        let z = &a[(k * 13 + 9) % unique_a];
        b.push((
            format!("b-near-{k:05}"),
            format!("https://b.example/n/{k}"),
            edited(&z.2, 0, 300, 40, &format!("n{k}")),
        ));
        let x = &a[(k * 13 + 3) % unique_a];
        let b1 = edited(&x.2, 0, 150, 12, &format!("c{k}"));
        let b2 = edited(&b1, 150, 300, 12, &format!("d{k}"));
        b.push((
            format!("b-chain1-{k:05}"),
            format!("https://b.example/c1/{k}"),
            b1,
        ));
        b.push((
            format!("b-chain2-{k:05}"),
            format!("https://b.example/c2/{k}"),
            b2.clone(),
        ));
        chains.push(Chain {
            x: x.0.clone(),
            b2: format!("b-chain2-{k:05}"),
        });
        // A copy of a copy A removed (its text is an A text all the same).
        let c = &a[unique_a + k % (n / 10)];
        b.push((
            format!("b-ofcopy-{k:05}"),
            format!("https://b.example/o/{k}"),
            c.2.clone(),
        ));
    }
    let own_copies = n / 20;
    let fresh = n - b.len() - own_copies;
    for i in 0..fresh {
        b.push((
            format!("b-{i:05}"),
            format!("https://b.example/{i}"),
            long_text(50_000 + i as u64),
        ));
    }
    let first_fresh = b.len() - fresh;
    for k in 0..own_copies {
        let src = b[first_fresh + (k * 3) % fresh].2.clone();
        b.push((
            format!("b-copy-{k:05}"),
            format!("https://b.example/copy/{k}"),
            edited(&src, 0, 300, 40, &format!("o{k}")),
        ));
    }
    (a, b, chains)
}

/// Writes `docs` as JSONL files of `per_file` documents and imports them as `dataset` into
/// `dir/shards`.
fn import(dir: &Path, dataset: &str, docs: &[Doc], per_file: usize) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    for (f, chunk) in docs.chunks(per_file).enumerate() {
        let lines: Vec<String> = chunk
            .iter()
            .map(|(id, url, text)| {
                serde_json::json!({"id": id, "url": url, "text": text}).to_string()
            })
            .collect();
        std::fs::write(
            src.join(format!("{dataset}-{f:03}.jsonl")),
            lines.join("\n") + "\n",
        )
        .unwrap();
    }
    let out = dir.join("shards");
    run_ok(&[
        "import",
        "-q",
        "--dataset",
        dataset,
        "--output",
        out.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    out
}

/// The test's own ids (`import` keeps them as `source_id`) of the documents in `dir`.
fn ids(dir: &Path) -> BTreeSet<String> {
    all_docs(dir).iter().map(source_id).collect()
}

fn source_id(d: &sieve::doc::Document) -> String {
    d.meta["source_id"].clone()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A: 400 documents in 3 shards, B: 400 in 3 shards.
struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    a: PathBuf,
    b: PathBuf,
    a_docs: Vec<Doc>,
    b_docs: Vec<Doc>,
    chains: Vec<Chain>,
}

/// Snapshots A and B of `n` documents each, imported into `root/a/shards` and
/// `root/b/shards` (3 shards each).
pub(crate) fn snapshot_shards(root: &Path, n: usize) -> (PathBuf, PathBuf) {
    let (a_docs, b_docs, _) = snapshots(n);
    (
        import(&root.join("a"), "snap1", &a_docs, n / 3 + 1),
        import(&root.join("b"), "snap2", &b_docs, n / 3 + 1),
    )
}

/// `dir/<name>.toml`: a spec reading the shards at `input` as dataset `name` into `out` (give
/// `-o` to place it) through one dedup stage with `keys`.
pub(crate) fn dedup_spec(dir: &Path, name: &str, input: &Path, keys: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "[[input]]\nkind = \"shards\"\ndataset = \"{name}\"\npaths = [{:?}]\n\n\
             [output]\ndir = \"out\"\n\n[[stage]]\nname = \"dedup\"\n{keys}\n",
            s(input)
        ),
    )
    .unwrap();
    path
}

fn setup(n: usize) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let (a_docs, b_docs, chains) = snapshots(n);
    let a = import(&root.join("a"), "snap1", &a_docs, n / 3 + 1);
    let b = import(&root.join("b"), "snap2", &b_docs, n / 3 + 1);
    Setup {
        _dir: dir,
        root,
        a,
        b,
        a_docs,
        b_docs,
        chains,
    }
}

#[test]
fn a_run_against_the_index_keeps_what_one_dedup_over_both_keeps() {
    let t = setup(400);
    let (root, index) = (&t.root, t.root.join("index"));
    // The chains are real: B1 near X, B2 near B1, B2 not near X.
    let text = |docs: &[Doc], id: &str| docs.iter().find(|d| d.0 == id).unwrap().2.clone();
    for c in &t.chains {
        let b1 = text(&t.b_docs, &c.b2.replace("chain2", "chain1"));
        let (x, b2) = (text(&t.a_docs, &c.x), text(&t.b_docs, &c.b2));
        assert!(true_jaccard(&b1, &x) >= 0.82, "{}", true_jaccard(&b1, &x));
        assert!(true_jaccard(&b2, &b1) >= 0.82, "{}", true_jaccard(&b2, &b1));
        assert!(true_jaccard(&b2, &x) < 0.78, "{}", true_jaccard(&b2, &x));
    }

    // Snapshot A, written into the index.
    let out_a = root.join("out-a");
    run_ok(&[
        "dedup",
        "-q",
        "--write-index",
        s(&index),
        "--output",
        s(&out_a),
        s(&t.a),
    ]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(index.join("index.json")).unwrap()).unwrap();
    let kept_a = ids(&out_a);
    assert_eq!(manifest["segments"].as_array().unwrap().len(), 1);
    assert_eq!(manifest["segments"][0]["documents"], kept_a.len() as u64);
    assert!(kept_a.len() < t.a_docs.len(), "A's own copies are removed");

    // Snapshot B against it.
    let out_b = root.join("out-b");
    run_ok(&[
        "dedup",
        "-q",
        "-j",
        "2",
        "--against",
        s(&index),
        "--write-rejected",
        "--output",
        s(&out_b),
        s(&t.b),
    ]);
    let kept_b = ids(&out_b);

    // The reference: one dedup over A's kept documents and B, A first.
    let out_ref = root.join("out-ref");
    run_ok(&[
        "dedup",
        "-q",
        "--priority",
        "snap1,snap2",
        "--output",
        s(&out_ref),
        s(&out_a),
        s(&t.b),
    ]);
    let kept_ref_b: BTreeSet<String> = ids(&out_ref)
        .into_iter()
        .filter(|id| id.starts_with("b-"))
        .collect();
    assert_eq!(
        kept_b, kept_ref_b,
        "B's kept documents differ from the reference's"
    );

    // What went, and why.
    let rejected = all_docs(&out_b.join("rejected"));
    // Representatives are named by sieve's ids: back to the test's.
    let a_ids: std::collections::BTreeMap<String, String> = all_docs(&out_a)
        .iter()
        .map(|d| (d.id.clone(), source_id(d)))
        .collect();
    let reason = |id: &str| {
        rejected.iter().find(|d| source_id(d) == id).map(|d| {
            let rep = d.meta.get("dedup_representative");
            (
                d.meta["drop_reason"].clone(),
                rep.map(|r| a_ids.get(r).cloned().unwrap_or_else(|| r.clone())),
            )
        })
    };
    let part = 20;
    for k in 0..part {
        for kind in ["exact", "url", "ofcopy"] {
            let id = format!("b-{kind}-{k:05}");
            let (why, rep) = reason(&id).unwrap_or_else(|| panic!("{id} was kept"));
            assert_eq!(why, "duplicate_of_index", "{id}");
            assert!(rep.unwrap().starts_with("a-"), "{id}");
        }
    }
    let index_meta = rejected
        .iter()
        .find(|d| d.meta["drop_reason"] == "duplicate_of_index")
        .unwrap();
    assert_eq!(index_meta.meta["dedup_index"], s(&index));
    let near_gone = (0..part)
        .filter(|k| reason(&format!("b-near-{k:05}")).is_some())
        .count();
    assert!(
        near_gone >= part * 3 / 4,
        "{near_gone} of {part} near copies found"
    );
    // Chains: B2 goes with B1 to X's component, though B2 is not near X.
    let chained = t
        .chains
        .iter()
        .filter(|c| reason(&c.b2) == Some(("duplicate_of_index".into(), Some(c.x.clone()))))
        .count();
    assert!(
        chained >= part / 2,
        "{chained} of {part} chains joined their A document"
    );
    eprintln!(
        "A kept {} of {}; B kept {} of {}; near copies found {near_gone} of {part}; chains {chained} of {part}",
        kept_a.len(),
        t.a_docs.len(),
        kept_b.len(),
        t.b_docs.len()
    );
    // B's own copies are still found among themselves.
    assert!(rejected
        .iter()
        .any(|d| source_id(d).starts_with("b-copy-") && d.meta["drop_reason"] == "near_duplicate"));
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out_b.join("dedup-work/components/report.json")).unwrap(),
    )
    .unwrap();
    let by_index = rejected
        .iter()
        .filter(|d| d.meta["drop_reason"] == "duplicate_of_index")
        .count() as u64;
    assert_eq!(report["removed_by_index"][s(&index)], by_index, "{report}");
    assert_eq!(report["against"][0]["documents"], kept_a.len() as u64);

    // The same run as separate tasks (`--shard`), steps one by one: the same output.
    let work = root.join("work-steps");
    let w = s(&work);
    for task in ["1/2", "0/2"] {
        run_ok(&[
            "dedup",
            "signatures",
            "--work",
            w,
            "--against",
            s(&index),
            "--shard",
            task,
            s(&t.b),
        ]);
    }
    for task in ["0/2", "1/2"] {
        run_ok(&["dedup", "lsh", "--work", w, "--shard", task]);
    }
    for task in ["2/3", "0/3", "1/3"] {
        run_ok(&["dedup", "edges", "-j", "1", "--work", w, "--shard", task]);
    }
    run_ok(&["dedup", "components", "--work", w]);
    let stepwise = root.join("out-steps");
    for task in ["1/2", "0/2"] {
        run_ok(&[
            "dedup",
            "filter",
            "-q",
            "--write-rejected",
            "--work",
            w,
            "--shard",
            task,
            "--output",
            s(&stepwise),
            s(&t.b),
        ]);
    }
    crate::util::assert_same_picked(&tree(&out_b), &tree(&stepwise), |name| {
        name.ends_with(".parquet")
    });

    // B's kept documents extend the index as generation 2; building again adds nothing.
    let b_work = out_b.join("dedup-work");
    for _ in 0..2 {
        run_ok(&["dedup", "index", "-q", "--work", s(&b_work), s(&index)]);
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(index.join("index.json")).unwrap()).unwrap();
    let segments = manifest["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 2);
    assert_eq!(segments[1]["documents"], kept_b.len() as u64);
    // A third snapshot made of B's kept documents is entirely a duplicate of generation 2.
    let out_c = root.join("out-c");
    run_ok(&[
        "dedup",
        "-q",
        "--against",
        s(&index),
        "--output",
        s(&out_c),
        s(&out_b),
    ]);
    assert!(
        ids(&out_c).is_empty(),
        "documents kept against their own index"
    );

    // An index made with another layout is refused, saying why.
    let o = run_expect(
        &[
            "dedup",
            "-q",
            "--preset",
            "fineweb",
            "--against",
            s(&index),
            "--output",
            s(&root.join("out-x")),
            s(&t.b),
        ],
        1,
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("14 × 8") && err.contains("20 bands × 13 rows"),
        "{err}"
    );
}

/// Runs `args` and kills it with SIGKILL once `target` exists (plus up to 20 ms), or lets it
/// finish; returns whether it was killed before finishing.
fn kill_when(args: &[&str], target: &dyn Fn() -> bool, u: f64) -> bool {
    let mut child = sieve()
        .args(args)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !target() && child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < Duration::from_secs(300), "no progress");
        std::thread::sleep(Duration::from_micros(200));
    }
    std::thread::sleep(Duration::from_secs_f64(0.02 * u));
    let finished = child.try_wait().unwrap().is_some();
    child.kill().unwrap();
    child.wait().unwrap();
    !finished
}

/// The files of every segment of an index, by path inside the segment (segment names carry
/// the run's work path), and the documents each holds.
fn index_contents(index: &Path) -> Vec<(u64, std::collections::BTreeMap<String, Vec<u8>>)> {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(index.join("index.json")).unwrap()).unwrap();
    m["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|seg| {
            let dir = index.join(seg["name"].as_str().unwrap());
            (seg["documents"].as_u64().unwrap(), tree(&dir))
        })
        .collect()
}

#[test]
fn killed_index_builds_and_against_runs_resume_to_the_same_result() {
    let t = setup(900);
    let root = &t.root;
    let index = root.join("index");
    let out_a = root.join("out-a");
    run_ok(&[
        "dedup",
        "-q",
        "-j",
        "1",
        "--write-index",
        s(&index),
        "--output",
        s(&out_a),
        s(&t.a),
    ]);
    let want_index = index_contents(&index);
    let out_b = root.join("out-b");
    run_ok(&[
        "dedup",
        "-q",
        "-j",
        "1",
        "--against",
        s(&index),
        "--output",
        s(&out_b),
        s(&t.b),
    ]);
    let want_b = tree(&out_b);
    let parquet = |name: &str| name.ends_with(".parquet") || name == "stats.json";

    let mut rng = sieve::rng::SplitMix(0x1dec5);
    let mut killed = 0;
    for trial in 0..8 {
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        // Index builds: killed while the dedup runs, while the segment is staged, merged or
        // published.
        let idx = root.join(format!("index-{trial}"));
        let out = root.join(format!("a-{trial}"));
        let args = [
            "dedup",
            "-q",
            "-j",
            "1",
            "--write-index",
            s(&idx),
            "--output",
            s(&out),
            s(&t.a),
        ];
        let work = out.join("dedup-work");
        let targets: [&dyn Fn() -> bool; 4] = [
            &|| work.join("edges").exists(),
            &|| work.join("index/shards/done").exists(),
            &|| work.join("index/partitions/done").exists(),
            &|| idx.join("index.json").exists(),
        ];
        killed += kill_when(&args, targets[trial % 4], u) as usize;
        run_ok(&args);
        assert_eq!(
            index_contents(&idx),
            want_index,
            "trial {trial}: the index differs"
        );
        crate::util::assert_same_picked(&tree(&out_a), &tree(&out), parquet);

        // Runs against the index: killed in dedup's steps or in the filter.
        let out = root.join(format!("b-{trial}"));
        let args = [
            "dedup",
            "-q",
            "-j",
            "1",
            "--against",
            s(&index),
            "--output",
            s(&out),
            s(&t.b),
        ];
        let work = out.join("dedup-work");
        let targets: [&dyn Fn() -> bool; 2] = [&|| work.join("lsh").exists(), &|| {
            work.join("components/done").exists()
        }];
        killed += kill_when(&args, targets[trial % 2], u) as usize;
        run_ok(&args);
        crate::util::assert_same_picked(&want_b, &tree(&out), parquet);
    }
    assert!(
        killed >= 8,
        "only {killed} of 16 runs were killed before finishing"
    );
}

/// A spec's dedup stage writes (`write_index`) and uses (`against`) an index as the command's
/// flags do: snapshot B against A's index keeps the same documents either way, and the two
/// indexes hold the same entries. Its components step prints the summary of the report it
/// wrote, and nothing under `-q`.
#[test]
fn a_spec_writes_and_uses_the_index_as_the_command_does() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    let (a, b) = snapshot_shards(&root.join("snapshots"), 240);
    let (cmd_index, spec_index) = (root.join("index-cmd"), root.join("index-spec"));
    let dedup = |flag: &str, index: &Path, out: &str, input: &Path| {
        let out = root.join(out);
        run_ok(&[
            "dedup",
            "-q",
            "-j",
            "1",
            flag,
            s(index),
            "--output",
            s(&out),
            s(input),
        ]);
        out
    };
    dedup("--write-index", &cmd_index, "a-cmd", &a);
    let b_cmd = dedup("--against", &cmd_index, "b-cmd", &b);

    let spec_a = dedup_spec(
        root,
        "a-spec",
        &a,
        &format!("write_index = {:?}", s(&spec_index)),
    );
    let a_spec = root.join("a-spec");
    let loud = run_ok(&["run", "-j", "1", "-o", s(&a_spec), s(&spec_a)]);
    let spec_b = dedup_spec(
        root,
        "b-spec",
        &b,
        &format!("against = [{:?}]", s(&spec_index)),
    );
    let b_spec = root.join("b-spec");
    let quiet = run_ok(&["run", "-q", "-j", "1", "-o", s(&b_spec), s(&spec_b)]);

    assert_eq!(index_contents(&spec_index), index_contents(&cmd_index));
    assert_eq!(ids(&b_spec), ids(&b_cmd));
    let stats = crate::util::stats(&b_spec);
    let dropped = &crate::util::read_stage(&stats, "dedup")["dropped"]["duplicate_of_index"];
    assert!(dropped.as_u64().unwrap() > 0, "{stats}");

    let report = crate::recipe::json_file(&a_spec.join("work/dedup/components/report.json"));
    let summary = format!(
        "sieve dedup: {} documents, {} groups of duplicates, {} removed",
        report["documents"], report["components"], report["removed"]
    );
    let said = String::from_utf8_lossy(&loud.stderr);
    assert!(said.contains(&summary), "{summary:?} not in:\n{said}");
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "");
}
