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

/// A blend spec that gives only its target and datasets has Megatron-style defaults: split
/// 98/2/0, seed 1234, 2,048-token samples (GPT-3's and MT-NLG's sequence length), Megatron's
/// blending order. Read by the loader, and recorded so in a blend's manifest.
#[test]
fn a_blend_spec_naming_only_its_target_and_datasets_has_the_defaults() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let docs: Vec<_> = (0..50)
        .map(|i| doc(&format!("d{i}"), letters(500 + i, 40)))
        .collect();
    let tokens = tokenized(dir, "docs", &docs);
    let spec = dir.join("blend.toml");
    std::fs::write(
        &spec,
        format!(
            "target_tokens = 4096\n[[dataset]]\nname = \"web\"\npath = {:?}\nweight = 1.0\n",
            tokens.join("web")
        ),
    )
    .unwrap();
    let loaded = sieve::blend::spec::BlendSpec::load(&spec).unwrap();
    assert_eq!(loaded.split, "98,2,0");
    assert_eq!(loaded.seed, 1234);
    assert_eq!(loaded.seq_length, 2048);
    assert_eq!(loaded.rule, sieve::blend::indices::BlendRule::Megatron);
    let out = dir.join("out");
    crate::tokenize_blend::blend(&spec, &out);
    let m = json_file(&out.join("manifest.json"));
    assert_eq!(m["split"], "98,2,0", "{m}");
    assert_eq!(m["split_fractions"], serde_json::json!([0.98, 0.02, 0.0]));
    assert_eq!(m["seed"], 1234);
    assert_eq!(m["seq_length"], 2048);
    assert_eq!(m["rule"], "megatron");
    // ceil(4096 · 0.98 / 2048) = 2 training samples, ceil(4096 · 0.02 / 2048) = 1 validation.
    assert_eq!(m["streams"]["train"]["samples"], 2);
    assert_eq!(m["streams"]["valid"]["samples"], 1);
}

/// Specs that cannot make a blend are refused when read, each with its reason; the values
/// next to each refused one are accepted.
#[test]
fn blend_specs_that_cannot_make_a_blend_are_refused_with_the_reason() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let one = |weight: &str, extra: &str| {
        format!("[[dataset]]\nname = \"a\"\npath = \"a\"\nweight = {weight}\n{extra}")
    };
    let cases: Vec<(String, Option<&str>)> = vec![
        ("target_tokens = 10\n".to_string() + &one("1.0", ""), None),
        (
            "target_tokens = 10\ndataset = []\n".into(),
            Some("a blend needs at least one [[dataset]]"),
        ),
        (
            "target_tokens = 0\n".to_string() + &one("1.0", ""),
            Some("seq_length and target_tokens must be positive"),
        ),
        (
            "target_tokens = 10\nseq_length = 0\n".to_string() + &one("1.0", ""),
            Some("seq_length and target_tokens must be positive"),
        ),
        (
            "target_tokens = 10\nseq_length = 1\n".to_string() + &one("1.0", ""),
            None,
        ),
        (
            "target_tokens = 10\nsplit = \"a\"\n".to_string() + &one("1.0", ""),
            Some("expected one to three numbers"),
        ),
        (
            "target_tokens = 10\n".to_string() + &one("1e-300", ""),
            None,
        ),
        (
            "target_tokens = 10\n".to_string() + &one("0.0", ""),
            Some("dataset a: weight must be a positive number"),
        ),
        (
            "target_tokens = 10\n".to_string() + &one("-1.0", ""),
            Some("dataset a: weight must be a positive number"),
        ),
        (
            "target_tokens = 10\n".to_string() + &one("inf", ""),
            Some("dataset a: weight must be a positive number"),
        ),
        (
            "target_tokens = 10\n".to_string() + &one("nan", ""),
            Some("dataset a: weight must be a positive number"),
        ),
        (
            "target_tokens = 10\n".to_string() + &one("1.0", "max_epochs = 1e-9\n"),
            None,
        ),
        (
            "target_tokens = 10\n".to_string() + &one("1.0", "max_epochs = 0.0\n"),
            Some("dataset a: max_epochs must be positive"),
        ),
        (
            "target_tokens = 10\n".to_string() + &one("1.0", "max_epochs = -2.0\n"),
            Some("dataset a: max_epochs must be positive"),
        ),
        (
            "target_tokens = 10\n".to_string() + &one("1.0", "max_epochs = nan\n"),
            Some("dataset a: max_epochs must be positive"),
        ),
        (
            "target_tokens = 10\n".to_string() + &one("1.0", "") + &one("2.0", ""),
            Some("dataset a is listed twice"),
        ),
    ];
    for (k, (text, refusal)) in cases.iter().enumerate() {
        let path = dir.join(format!("spec-{k}.toml"));
        std::fs::write(&path, text).unwrap();
        let loaded = sieve::blend::spec::BlendSpec::load(&path);
        match (refusal, loaded) {
            (None, Ok(spec)) => {
                // Relative paths are the spec's directory's.
                assert_eq!(spec.datasets[0].path, Some(dir.join("a")), "{text}");
            }
            (Some(reason), Err(e)) => {
                let said = format!("{e:#}");
                assert!(said.contains(reason), "{text}: {said}");
                assert!(said.contains(&path.display().to_string()), "{said}");
            }
            (refusal, loaded) => panic!("{text}: expected {refusal:?}, got {loaded:?}"),
        }
    }
    // Megatron keeps a blend's dataset index in int16 and asserts fewer than 32,767
    // datasets: 32,766 are accepted, 32,767 refused.
    for (n, ok) in [(32_766, true), (32_767, false)] {
        let mut text = "target_tokens = 10\n".to_string();
        for i in 0..n {
            text += &format!("[[dataset]]\nname = \"d{i}\"\npath = \"d\"\nweight = 1.0\n");
        }
        let path = dir.join(format!("many-{n}.toml"));
        std::fs::write(&path, text).unwrap();
        let loaded = sieve::blend::spec::BlendSpec::load(&path);
        assert_eq!(loaded.is_ok(), ok, "{n}: {loaded:?}");
        if let Err(e) = loaded {
            assert!(
                format!("{e:#}").contains("at most 32,766 datasets"),
                "{e:#}"
            );
        }
    }
}

/// Every epoch after the first goes through the split's documents in a new order of its own.
/// Ten documents repeated four times: the stream, cut back into documents at the
/// end-of-document token, is the dataset's order, then three permutations of it, all
/// different (two equal by chance: about 1 in 600,000 for this fixed seed's outcome).
#[test]
fn each_later_epoch_has_its_own_order() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let docs: Vec<_> = (0..10)
        .map(|i| doc(&format!("d{i}"), letters(700 + i, 30)))
        .collect();
    let tokens = tokenized(dir, "docs", &docs);
    let total = json_file(&tokens.join("tokenize.json"))["datasets"]["web"]["tokens"]
        .as_u64()
        .unwrap();
    let spec = dir.join("blend.toml");
    std::fs::write(
        &spec,
        format!(
            "target_tokens = {}\nsplit = \"100,0,0\"\nseq_length = 8\n\
             [[dataset]]\nname = \"web\"\npath = {:?}\nweight = 1.0\n",
            4 * total,
            tokens.join("web")
        ),
    )
    .unwrap();
    let out = dir.join("out");
    crate::tokenize_blend::blend(&spec, &out);
    let documents_of = |bin: &Path, limit: usize| -> Vec<Vec<u16>> {
        let bytes = std::fs::read(bin).unwrap();
        let ids: Vec<u16> = bytes
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take(limit)
            .collect();
        ids.split_inclusive(|&t| t == 50256)
            .map(<[u16]>::to_vec)
            .collect()
    };
    let first = documents_of(&out.join("datasets/web_text_document.bin"), usize::MAX);
    assert_eq!(first.len(), 10);
    let stream = documents_of(
        &out.join("stream/train_text_document.bin"),
        4 * total as usize,
    );
    let epochs: Vec<&[Vec<u16>]> = stream.chunks(10).collect();
    assert_eq!(epochs.len(), 4);
    assert_eq!(
        epochs[0],
        &first[..],
        "the first epoch is the dataset's order"
    );
    let mut sorted_first = first.clone();
    sorted_first.sort();
    for (e, epoch) in epochs.iter().enumerate() {
        let mut sorted = epoch.to_vec();
        sorted.sort();
        assert_eq!(sorted, sorted_first, "epoch {e} is the split's documents");
        for (f, other) in epochs.iter().enumerate().take(e) {
            assert_ne!(epoch, other, "epochs {f} and {e} in the same order");
        }
    }
}
