//! End-to-end runs of the CLI: the sample pipeline, determinism across thread counts,
//! shard selection, import, inspect, and the runner's stage accounting.

use std::path::Path;
use std::sync::Arc;

use sieve::doc::Document;
use sieve::io::shards::ShardFormat;
use sieve::io::source::{resolve, InputKind, Resolve};
use sieve::pipeline::runner::{jobs_for, run, RunConfig};
use sieve::pipeline::stage::{Emit, Stage};
use sieve::read::SourceSpec;

use crate::util::{
    assert_same_outputs, assert_same_tree, comparable_tree, docs_of, read_stage, repo, run_expect,
    run_ok, run_sample, sample_web, stats,
};

fn sample_run(dir: &Path, threads: &str) {
    run_sample(dir, &["-j", threads]);
}

#[test]
fn sample_pipeline_output_is_identical_with_one_and_two_threads() {
    let d = tempfile::tempdir().unwrap();
    let (one, two) = (d.path().join("one"), d.path().join("two"));
    sample_run(&one, "1");
    sample_run(&two, "2");
    // Markers name the input location, which for the part after dedup is inside each run.
    assert_same_outputs(&one, &two);
    let s = stats(&one);
    assert_eq!(s["shards"], 5);
    let read = read_stage(&s, "read");
    // 324 HTML pages (two truncated ones kept, flagged) + 220 corpus documents.
    assert_eq!(read["docs_out"], 544, "{read}");
    assert_eq!(read["dropped"]["not_text"], 3, "{read}");
    // It ends with the blend: its manifest lists the stream it wrote.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(one.join("blend/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["tokenizer"]["encoding"], "r50k_base");
    assert_eq!(manifest["streams"]["train"]["samples"], 352, "{manifest}");
    assert!(one.join("blend/stream/train_text_document.bin").exists());
    // A re-run finds every marker and changes nothing.
    let before = comparable_tree(&one);
    let o = sieve_rerun(&one);
    assert!(o.contains("5 shards already finished"), "{o}");
    assert_eq!(before, comparable_tree(&one));
}

fn sieve_rerun(dir: &Path) -> String {
    let spec = repo().join("pipelines/sample.toml");
    let o = run_ok(&[
        "run",
        "--output",
        dir.to_str().unwrap(),
        spec.to_str().unwrap(),
    ]);
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The sample spec without its global and token stages (they cannot run as one of N tasks), with
/// paths made absolute so that it runs from a temporary directory.
fn sample_spec_without_dedup(dir: &Path) -> std::path::PathBuf {
    let mut text = std::fs::read_to_string(repo().join("pipelines/sample.toml")).unwrap();
    for name in ["dedup", "paragraph-dedup", "decontam", "tokenize", "blend"] {
        let start = text.find(&format!("[[stage]]\nname = \"{name}\"")).unwrap();
        let end = text[start + 1..]
            .find("[[stage]]")
            .map_or(text.len(), |e| start + 1 + e);
        text = format!("{}{}", &text[..start], &text[end..]);
    }
    let text = text.replace("\"../", &format!("\"{}/", repo().display()));
    let path = dir.join("no-dedup.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_spec_with_dedup_refuses_shard_tasks() {
    let d = tempfile::tempdir().unwrap();
    let spec = repo().join("pipelines/sample.toml");
    let o = run_expect(
        &[
            "run",
            "-q",
            "--shard",
            "0/2",
            "--output",
            d.path().to_str().unwrap(),
            spec.to_str().unwrap(),
        ],
        1,
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("runs as one task"));
}

#[test]
fn shard_tasks_partition_the_work_and_merge_to_the_full_run() {
    let d = tempfile::tempdir().unwrap();
    let spec = sample_spec_without_dedup(d.path());
    let full = d.path().join("full");
    run_ok(&[
        "run",
        "-q",
        "-j",
        "2",
        "--output",
        full.to_str().unwrap(),
        spec.to_str().unwrap(),
    ]);
    let split = d.path().join("split");
    let total = markers(&full);
    let mut done = 0;
    for task in ["0/3", "1/3", "2/3"] {
        run_ok(&[
            "run",
            "-q",
            "--shard",
            task,
            "--output",
            split.to_str().unwrap(),
            spec.to_str().unwrap(),
        ]);
        // Each task finishes its own share only: some of the shards, never all of them (a
        // task that ignored --shard would do everything and leave the others nothing).
        let now = markers(&split);
        assert!(
            now > done && now - done < total,
            "task {task}: {} of {total} shards",
            now - done
        );
        done = now;
    }
    assert_eq!(done, total);
    assert_same_tree(&full, &split);
}

/// The stage commands' `--shard` (here `sieve warc`): each task reads and writes exactly its
/// own input files, and together they equal the one-shot run.
#[test]
fn warc_shard_tasks_each_do_exactly_their_own_files() {
    let d = tempfile::tempdir().unwrap();
    let one = d.path().join("one");
    let web = sample_web();
    run_ok(&[
        "warc",
        "-q",
        "--output",
        one.to_str().unwrap(),
        web.to_str().unwrap(),
    ]);
    let split = d.path().join("split");
    let units = crate::util::names_in(&one.join("done"));
    crate::util::run_tasks_checking_shares(
        &split,
        &split.join("done"),
        &units,
        &["1/2", "0/2"],
        |task| {
            run_ok(&[
                "warc",
                "-q",
                "--shard",
                task,
                "--output",
                split.to_str().unwrap(),
                web.to_str().unwrap(),
            ]);
        },
    );
    assert_same_tree(&one, &split);
}

/// Completion markers anywhere under `dir` (files in directories named `done`).
fn markers(dir: &std::path::Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            n += if p.file_name().is_some_and(|f| f == "done") {
                std::fs::read_dir(&p).unwrap().count()
            } else {
                markers(&p)
            };
        }
    }
    n
}

#[test]
fn documents_carry_lineage_and_stable_ids() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("o");
    run_ok(&[
        "warc",
        "-q",
        "--dataset",
        "crawl",
        "--output",
        out.to_str().unwrap(),
        sample_web().to_str().unwrap(),
    ]);
    let docs = docs_of(&out.join("sample-web-00000.parquet"));
    let first = &docs[0];
    assert!(
        first.id.starts_with("crawl/sample-web-00000.warc.gz#"),
        "{}",
        first.id
    );
    assert_eq!(first.dataset, "crawl");
    assert_eq!(first.warc_path.as_deref(), Some("sample-web-00000.warc.gz"));
    assert!(first.text.contains("<html"));
    assert_eq!(first.meta["http_status"], "200");
    // The offset is the gzip member: seeking there and reading one record gives it back.
    let bytes = std::fs::read(sample_web().join("sample-web-00000.warc.gz")).unwrap();
    let offset = first.warc_offset.unwrap() as usize;
    let mut reader =
        sieve::io::warc::WarcReader::new(&bytes[offset..], sieve::io::warc::TypeFilter::all());
    let record = reader.next().unwrap().unwrap();
    assert_eq!(record.record_id(), first.warc_record_id.as_deref());
    // The windows-1252 page and the chunked+gzip page are decoded.
    let all: Vec<Document> = docs
        .into_iter()
        .chain(docs_of(&out.join("sample-web-00001.parquet")))
        .collect();
    let cafe = all
        .iter()
        .find(|d| d.url.as_deref() == Some("https://latin.example.fr/cafe"))
        .unwrap();
    assert!(
        cafe.text.contains("Déjà vu à l'été"),
        "{}",
        &cafe.text[..200]
    );
    assert_eq!(cafe.meta["charset"], "windows-1252");
    let enc = all
        .iter()
        .find(|d| d.url.as_deref() == Some("https://encoded.example.com/post"))
        .unwrap();
    assert_eq!(enc.meta["http_decoded"], "chunked,gzip");
    assert!(enc.text.starts_with("<!DOCTYPE html>"));
}

#[test]
fn import_reads_jsonl_and_parquet_with_a_chosen_text_field() {
    let d = tempfile::tempdir().unwrap();
    let jsonl = d.path().join("c.jsonl.gz");
    let lines = [
        r#"{"id": 7, "body": {"content": "first text"}, "src": "a"}"#,
        r#"{"body": {"content": "second text"}, "link": "https://x.org/2"}"#,
        r#"{"body": {}}"#,
        r#"not json"#,
        r#"{"body": {"content": "third"}, "link": "https://x.org/3"}"#,
    ];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, lines.join("\n").as_bytes()).unwrap();
    std::fs::write(&jsonl, gz.finish().unwrap()).unwrap();
    let out = d.path().join("o");
    let o = run_ok(&[
        "import",
        "-q",
        "--dataset",
        "wiki",
        "--text-field",
        "body.content",
        "--url-field",
        "link",
        "--meta-field",
        "src",
        "--output",
        out.to_str().unwrap(),
        jsonl.to_str().unwrap(),
    ]);
    let docs = docs_of(&out.join("c.parquet"));
    assert_eq!(docs.len(), 3);
    assert_eq!(docs[0].id, "wiki/c.jsonl.gz#1");
    assert_eq!(docs[0].meta["source_id"], "7");
    assert_eq!(docs[0].meta["src"], "a");
    assert_eq!(docs[1].url.as_deref(), Some("https://x.org/2"));
    assert_eq!(docs[2].id, "wiki/c.jsonl.gz#5");
    let s = stats(&out);
    let read = read_stage(&s, "read");
    assert_eq!(read["errors"]["missing_text_field"], 1);
    assert_eq!(read["errors"]["bad_json"], 1);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("c.jsonl.gz: line 4 is not JSON"),
        "{stderr}"
    );

    // The imported shard imports again as Parquet, by column name.
    let again = d.path().join("again");
    run_ok(&[
        "import",
        "-q",
        "--dataset",
        "w2",
        "--output",
        again.to_str().unwrap(),
        out.join("c.parquet").to_str().unwrap(),
    ]);
    let docs2 = docs_of(&again.join("c.parquet"));
    assert_eq!(docs2.len(), 3);
    assert_eq!(docs2[1].text, "second text");
    assert_eq!(docs2[1].meta["source_id"], "wiki/c.jsonl.gz#2");
}

#[test]
fn jsonl_output_formats_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let parquet = d.path().join("parquet");
    run_ok(&[
        "warc",
        "-q",
        "--output",
        parquet.to_str().unwrap(),
        sample_web().to_str().unwrap(),
    ]);
    let reference = docs_of(&parquet.join("sample-web-00000.parquet"));
    assert_eq!(reference.len(), 161);
    for (format, ext) in [
        ("jsonl", "jsonl"),
        ("jsonl-gz", "jsonl.gz"),
        ("jsonl-zst", "jsonl.zst"),
    ] {
        let out = d.path().join(format);
        run_ok(&[
            "warc",
            "-q",
            "--format",
            format,
            "--output",
            out.to_str().unwrap(),
            sample_web().to_str().unwrap(),
        ]);
        // The same documents, field for field, as the Parquet shard holds.
        let docs = docs_of(&out.join(format!("sample-web-00000.{ext}")));
        assert_eq!(docs.len(), reference.len(), "{format}");
        for (a, b) in docs.iter().zip(&reference) {
            assert_eq!(a, b, "{format}: document {} differs", b.id);
        }
    }
}

#[test]
fn inspect_summarizes_warcs_shards_and_runs() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("o");
    crate::util::warc_sample_into(&out);
    let warc = sample_web().join("sample-web-00001.warc.gz");
    let o = run_ok(&["inspect", "--json", warc.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["compression"], "gzip");
    assert_eq!(v["types"]["response"], 164);
    assert!(v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "warc_truncated"));
    let o = run_ok(&[
        "inspect",
        "--json",
        out.join("sample-web-00001.parquet").to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["documents"], 163);
    let o = run_ok(&["inspect", "--json", out.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["shards_done"], 2);
}

#[test]
fn spec_errors_are_reported_before_any_work() {
    let d = tempfile::tempdir().unwrap();
    let spec = d.path().join("p.toml");
    std::fs::write(
        &spec,
        format!(
            "[[input]]\nkind='warc'\ndataset='w'\npaths=['{}']\n[output]\ndir='o'\n[[stage]]\nname='no-such-stage'\n",
            sample_web().display()
        ),
    )
    .unwrap();
    let o = run_expect(&["run", spec.to_str().unwrap()], 1);
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown stage `no-such-stage`"));
    assert!(!d.path().join("o").exists());
    let o = run_expect(
        &[
            "warc",
            "--output",
            d.path().join("x").to_str().unwrap(),
            "/no/such/file.warc.gz",
        ],
        1,
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such file"));
}

/// Drops documents mentioning a word and splits the others in two, to exercise the runner's
/// accounting (keep / drop with reason / split) and the rejected sidecar.
struct DropAndSplit;

impl Stage for DropAndSplit {
    fn name(&self) -> &'static str {
        "drop_and_split"
    }
    fn process(&mut self, doc: Document, out: &mut Emit) -> anyhow::Result<()> {
        if doc.text.contains("bakery") {
            out.drop(doc, "mentions_bakery");
        } else if doc.text.len() > 4000 {
            anyhow::bail!("too long for this test stage");
        } else {
            let half = doc
                .text
                .char_indices()
                .nth(doc.text.chars().count() / 2)
                .map_or(0, |(i, _)| i);
            let (a, b) = doc.text.split_at(half);
            let piece = |text: &str, n: usize| Document {
                id: format!("{}~{n}", doc.id),
                text: text.to_string(),
                ..doc.clone()
            };
            out.split([piece(a, 0), piece(b, 1)]);
        }
        Ok(())
    }
}

#[test]
fn runner_counts_keeps_drops_splits_and_stage_errors() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("o");
    let inputs = resolve(
        &[sample_web().to_string_lossy().into_owned()],
        &Resolve {
            kind: InputKind::Warc,
            ..Default::default()
        },
    )
    .unwrap();
    let jobs = jobs_for(
        inputs,
        &SourceSpec::Warc {
            dataset: "web".into(),
        },
        None,
    );
    let cfg = RunConfig {
        output: out.clone(),
        format: ShardFormat::Parquet,
        threads: 2,
        write_rejected: true,
        quiet: true,
        label: "test".into(),
    };
    let factory: sieve::pipeline::stage::StageFactory =
        Arc::new(|_: &str| Ok(vec![Box::new(DropAndSplit) as Box<dyn Stage>]));
    let summary = run(jobs, factory, &cfg).unwrap();
    assert!(summary.failed.is_empty());
    let stage = summary.stats.stage("drop_and_split").unwrap();
    let dropped = stage.dropped["mentions_bakery"];
    let errors = stage.errors["stage_error"];
    assert!(dropped > 0 && errors > 0);
    assert_eq!(stage.docs_in, 324);
    assert_eq!(stage.docs_out, 2 * (324 - dropped - errors));
    let rejected: Vec<Document> = ["sample-web-00000", "sample-web-00001"]
        .iter()
        .flat_map(|s| docs_of(&out.join("rejected").join(format!("{s}.parquet"))))
        .collect();
    assert_eq!(rejected.len() as u64, dropped);
    assert!(rejected
        .iter()
        .all(|d| d.meta["drop_reason"] == "mentions_bakery"
            && d.meta["drop_stage"] == "drop_and_split"));
    let kept = docs_of(&out.join("sample-web-00000.parquet"));
    assert!(kept
        .iter()
        .all(|d| d.id.ends_with("~0") || d.id.ends_with("~1")));
}

/// End stages close a spec: nothing but the end stage that may follow comes after them, and
/// blend needs tokenize right before it. Each misplaced stage is named before any work.
#[test]
fn end_stages_close_a_spec_in_their_order() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("in.jsonl"), "").unwrap();
    let cases = [
        (
            &["tokenize", "clean"][..],
            "`clean` comes after `tokenize`: `tokenize` ends a spec",
        ),
        (
            &["tokenize", "dedup"][..],
            "`dedup` comes after `tokenize`: `tokenize` ends a spec",
        ),
        (
            &["tokenize", "blend", "clean"][..],
            "`clean` comes after `blend`: `blend` ends a spec",
        ),
        (
            &["blend"][..],
            "`blend` must come right after `tokenize`, at the end of the spec",
        ),
        (
            &["blend", "tokenize"][..],
            "`blend` must come right after `tokenize`",
        ),
    ];
    for (stages, message) in cases {
        let mut text =
            "[[input]]\nkind='import'\ndataset='w'\npaths=['in.jsonl']\n[output]\ndir='o'\n"
                .to_string();
        for s in stages {
            text += &format!("[[stage]]\nname='{s}'\n");
            if *s == "blend" {
                text += "spec='b.toml'\n";
            }
        }
        let spec = d.path().join("p.toml");
        std::fs::write(&spec, text).unwrap();
        let o = run_expect(&["run", spec.to_str().unwrap(), "--plan"], 1);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(message), "{stages:?}: {err}");
        assert!(!d.path().join("o").exists());
    }
    // In their order they plan.
    let spec = d.path().join("p.toml");
    std::fs::write(
        &spec,
        "[[input]]\nkind='import'\ndataset='w'\npaths=['in.jsonl']\n[output]\ndir='o'\n[[stage]]\nname='clean'\n[[stage]]\nname='tokenize'\n[[stage]]\nname='blend'\nspec='b.toml'\n",
    )
    .unwrap();
    let o = run_expect(&["run", spec.to_str().unwrap(), "--plan"], 0);
    let steps: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = steps
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pass-1", "finish", "tokenize", "blend", "report"]);
}
