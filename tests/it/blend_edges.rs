//! The blend's rarely taken branches: a split that one dataset has no documents for, a
//! dataset path that is not a tokenize output, and what `sieve blend` prints.

use std::path::{Path, PathBuf};

use crate::recipe::{doc, json_file, letters, tokenized};
use crate::util::{run_ok, sieve};

/// Two tokenized datasets: `big` (20 documents) and `small` (3), each as dataset `web` of
/// its own tokenize output. Returns their `web` directories.
fn two_datasets(dir: &Path) -> [(String, PathBuf); 2] {
    [("big", 20), ("small", 3)].map(|(name, n)| {
        let docs: Vec<_> = (0..n)
            .map(|i| doc(&format!("{name}{i}"), letters(300 + i, 50)))
            .collect();
        (name.to_string(), tokenized(dir, name, &docs).join("web"))
    })
}

/// A blend spec over `datasets` with `weights`, split 90/10/0, 16-token samples and
/// `target_tokens = 80`: 5 training samples (72 / 16 = 4.5, rounded up) and 1 validation
/// sample (8 / 16 = 0.5, rounded up).
fn spec(dir: &Path, datasets: &[(String, PathBuf); 2], weights: [f64; 2]) -> PathBuf {
    let mut text = "target_tokens = 80\nsplit = \"90,10,0\"\nseq_length = 16\n".to_string();
    for ((name, path), w) in datasets.iter().zip(weights) {
        text += &format!("[[dataset]]\nname = {name:?}\npath = {path:?}\nweight = {w:?}\n");
    }
    let path = dir.join(format!("blend-{}-{}.toml", weights[0], weights[1]));
    std::fs::write(&path, text).unwrap();
    path
}

/// `small`'s 3 documents all fall in train (round(0.9 · 3) = 3), so its validation split is
/// empty. With `big` weighted higher, the one validation sample is `big`'s (the greedy rule's
/// first draw goes to the largest weight): `small` has a validation split of no documents, no
/// tokens, no samples and 0 epochs, and the blend succeeds.
#[test]
fn a_split_without_documents_that_nothing_draws_from_is_zero_epochs() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let datasets = two_datasets(dir);
    let out = dir.join("out");
    crate::tokenize_blend::blend(&spec(dir, &datasets, [0.7, 0.3]), &out);
    let m = json_file(&out.join("manifest.json"));
    let small = &m["datasets"][1];
    assert_eq!(small["name"], "small", "{m}");
    let valid = &small["splits"]["valid"];
    assert_eq!(valid["documents"].as_u64(), Some(0), "{m}");
    assert_eq!(valid["tokens"].as_u64(), Some(0), "{m}");
    assert_eq!(valid["samples"].as_u64(), Some(0), "{m}");
    assert_eq!(valid["epochs"].as_f64(), Some(0.0), "{m}");
    // `big`'s 2 validation documents (18..20) give the one sample.
    let big_valid = &m["datasets"][0]["splits"]["valid"];
    assert_eq!(big_valid["documents"].as_u64(), Some(2), "{m}");
    assert_eq!(big_valid["samples"].as_u64(), Some(1), "{m}");
    // Each stream holds its samples of 16 tokens, and says so.
    for (split, samples) in [("train", 5u64), ("valid", 1)] {
        let s = &m["streams"][split];
        assert_eq!(s["samples"].as_u64(), Some(samples), "{split}: {m}");
        assert_eq!(s["tokens"].as_u64(), Some(samples * 16), "{split}: {m}");
        // GPT-2 ids are written as uint16: 16 tokens a sample, 2 bytes a token.
        let bin = out.join(format!("stream/{split}_text_document.bin"));
        assert_eq!(std::fs::metadata(&bin).unwrap().len(), samples * 16 * 2);
    }
}

/// With `small` weighted higher, the validation sample is wanted from `small`'s empty
/// validation split: refused, naming the dataset and the split, and nothing is vouched for.
#[test]
fn samples_wanted_from_a_split_without_tokens_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let datasets = two_datasets(dir);
    let out = dir.join("out");
    let spec = spec(dir, &datasets, [0.3, 0.7]);
    let run = sieve()
        .args(["blend", "-q", "--spec", spec.to_str().unwrap()])
        .args(["-o", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains(
            "dataset small: 1 samples wanted from its valid split, which has no tokens (3 documents in all)"
        ),
        "{err}"
    );
    assert!(!out.join("manifest.json").exists());
}

/// A dataset path with no `tokenize.json` in it or in its parent is named as such, not
/// reported as a file that could not be read.
#[test]
fn a_dataset_path_that_is_not_a_tokenize_output_is_named() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let [big, _] = two_datasets(dir);
    let stray = dir.join("elsewhere/web");
    std::fs::create_dir_all(&stray).unwrap();
    let spec = spec(dir, &[big, ("small".into(), stray.clone())], [0.5, 0.5]);
    let run = sieve()
        .args(["blend", "-q", "--spec", spec.to_str().unwrap()])
        .args(["-o", dir.join("out").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    let err = String::from_utf8_lossy(&run.stderr);
    let said = format!(
        "dataset small: {} is not a finished `sieve tokenize` output (no tokenize.json in it or its parent)",
        stray.display()
    );
    assert!(err.contains(&said), "{err}");
}

/// `sieve blend` and a pipeline's blend stage print each dataset written, each stream and a
/// summary table, with the manifest's figures; `-q` silences all of it.
#[test]
fn blend_says_what_it_wrote_unless_quiet() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let datasets = two_datasets(dir);
    let spec = spec(dir, &datasets, [0.7, 0.3]);
    let corpus = dir.join("big.jsonl");
    for quiet in [false, true] {
        let out = dir.join(format!("command-{quiet}"));
        let mut args = vec!["blend", "--spec", spec.to_str().unwrap()];
        args.extend(["-o", out.to_str().unwrap()]);
        if quiet {
            args.push("-q");
        }
        let by_command = String::from_utf8(run_ok(&args).stderr).unwrap();
        let m = json_file(&out.join("manifest.json"));
        let big_tokens = m["datasets"][0]["tokens"].as_u64().unwrap();
        let small_tokens = m["datasets"][1]["tokens"].as_u64().unwrap();
        let lines = [
            format!("sieve blend: big — 20 documents, {big_tokens} tokens"),
            format!("sieve blend: small — 3 documents, {small_tokens} tokens"),
            "sieve blend: train stream — 5 samples of 16 tokens".to_string(),
            "sieve blend: valid stream — 1 samples of 16 tokens".to_string(),
            "sieve blend: 80 tokens target, split 90,10,0, seq_length 16".to_string(),
        ];
        // The same blend as a pipeline's stage (after a tokenize whose tokens it does not use).
        let run_out = dir.join(format!("pipeline-{quiet}"));
        let pipeline = dir.join(format!("pipeline-{quiet}.toml"));
        std::fs::write(
            &pipeline,
            format!(
                "[[input]]\nkind = \"import\"\ndataset = \"web\"\npaths = [{corpus:?}]\n\
                 [output]\ndir = {run_out:?}\n[[stage]]\nname = \"tokenize\"\n\
                 [[stage]]\nname = \"blend\"\nspec = {spec:?}\n"
            ),
        )
        .unwrap();
        let mut args = vec!["run"];
        if quiet {
            args.push("-q");
        }
        args.push(pipeline.to_str().unwrap());
        let by_spec = String::from_utf8(run_ok(&args).stderr).unwrap();
        for (way, err) in [("command", &by_command), ("spec", &by_spec)] {
            for line in &lines {
                assert_eq!(
                    err.contains(line.as_str()),
                    !quiet,
                    "{way}, quiet {quiet}: {line:?} in {err}"
                );
            }
        }
        if quiet {
            assert_eq!(by_command, "", "quiet");
        }
    }
}
