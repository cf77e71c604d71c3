//! Training the quality classifier (MT-NLG §2): a supervised fastText model on word bigrams,
//! curated text (`__label__hq`) against raw crawl text (`__label__lq`), balanced by
//! down-sampling the larger class, 10% of each class held out (seeded), and evaluated on the
//! held-out part: accuracy, precision and recall of `hq`, and a calibration table.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;

use crate::rng::shuffle;

use crate::io::shards::decompress;
use crate::io::source::{resolve, Input, InputKind, Resolve};
use crate::read::corpus::ImportSpec;
use crate::read::{ReadItem, SourceSpec};
use crate::stages::quality::{
    classifier_text, QualityModel, HIGH_QUALITY_LABEL, LOW_QUALITY_LABEL,
};

/// Training settings. Defaults give a small model (a few MB quantized) that trains in
/// seconds on one thread, which also makes it reproducible.
#[derive(Debug, Clone, Serialize)]
pub struct TrainConfig {
    pub positives: Vec<String>,
    pub negatives: Vec<String>,
    pub text_field: String,
    pub output: PathBuf,
    pub seed: u64,
    pub holdout: f64,
    /// Lines of a `.txt` input that make one document.
    pub txt_lines: usize,
    pub dim: i32,
    pub epoch: i32,
    pub lr: f64,
    pub bucket: i32,
    pub min_count: i32,
    pub word_ngrams: i32,
    /// Quantize (write a `.ftz`); chosen by the output's extension.
    pub quantize: bool,
}

impl TrainConfig {
    pub fn new(positives: Vec<String>, negatives: Vec<String>, output: PathBuf) -> TrainConfig {
        let quantize = output.extension().is_some_and(|e| e == "ftz");
        TrainConfig {
            positives,
            negatives,
            text_field: "text".into(),
            output,
            seed: 1,
            holdout: 0.1,
            txt_lines: 20,
            dim: 32,
            epoch: 10,
            lr: 0.3,
            bucket: 500_000,
            min_count: 2,
            word_ngrams: 2,
            quantize,
        }
    }
}

/// One bin of the calibration table: predictions in [lo, hi).
#[derive(Debug, Clone, Serialize)]
pub struct CalibrationBin {
    pub lo: f32,
    pub hi: f32,
    pub count: usize,
    pub mean_score: f64,
    pub positive_rate: f64,
}

/// Held-out evaluation of a trained model.
#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    pub train_docs: usize,
    pub heldout_docs: usize,
    pub per_class_available: (usize, usize),
    pub accuracy: f64,
    pub precision: f64,
    pub recall: f64,
    pub calibration: Vec<CalibrationBin>,
    pub model_bytes: u64,
}

/// Reads the texts of the inputs: JSONL/Parquet corpora and sieve shards by `text_field`
/// (rows marked `"tokenized": true` are skipped), `.txt` files in chunks of `txt_lines`.
fn read_texts(args: &[String], cfg: &TrainConfig) -> Result<Vec<String>> {
    let opts = Resolve {
        kind: InputKind::Shards,
        ..Default::default()
    };
    let mut texts = Vec::new();
    for input in resolve(args, &opts)? {
        if input.key.ends_with(".txt") {
            texts.extend(read_txt(&input, cfg.txt_lines)?);
            continue;
        }
        let mut spec = ImportSpec::new("train");
        spec.text_field = cfg.text_field.clone();
        spec.meta_fields = vec!["tokenized".into()];
        for item in SourceSpec::Import(spec).open(&input)? {
            match item {
                ReadItem::Doc(d)
                    if d.meta.get("tokenized").map(String::as_str) != Some("true")
                        && !d.text.trim().is_empty() =>
                {
                    texts.push(d.text);
                }
                ReadItem::Fatal(m) => bail!("{m}"),
                _ => {}
            }
        }
    }
    Ok(texts)
}

fn read_txt(input: &Input, lines_per_doc: usize) -> Result<Vec<String>> {
    let mut bytes = Vec::new();
    decompress(input.open()?)?
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {input}"))?;
    // Old web text is often latin-1: decode like a page without a declared charset.
    let text = crate::text::charset::decode(&bytes, None).text;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    Ok(lines
        .chunks(lines_per_doc.max(1))
        .map(|c| c.join("\n"))
        .collect())
}

fn write_lines(path: &Path, docs: &[(&str, &String)]) -> Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for (label, text) in docs {
        writeln!(f, "{label} {}", classifier_text(text))?;
    }
    f.flush()?;
    Ok(())
}

/// Trains, evaluates on the held-out part, saves the model and `<model>.metrics.json`.
pub fn train(cfg: &TrainConfig) -> Result<Metrics> {
    let mut pos = read_texts(&cfg.positives, cfg)?;
    let mut neg = read_texts(&cfg.negatives, cfg)?;
    if pos.is_empty() || neg.is_empty() {
        bail!(
            "need both positives ({}) and negatives ({})",
            pos.len(),
            neg.len()
        );
    }
    let available = (pos.len(), neg.len());
    shuffle(&mut pos, cfg.seed);
    shuffle(&mut neg, cfg.seed ^ 0x5bd1e995);
    let n = pos.len().min(neg.len());
    pos.truncate(n);
    neg.truncate(n);
    let held = ((n as f64) * cfg.holdout).round() as usize;
    let mut train_set: Vec<(&str, &String)> = pos[held..]
        .iter()
        .map(|t| (HIGH_QUALITY_LABEL, t))
        .chain(neg[held..].iter().map(|t| (LOW_QUALITY_LABEL, t)))
        .collect();
    shuffle(&mut train_set, cfg.seed ^ 0x27d4eb2f);
    let test_set: Vec<(bool, &String)> = pos[..held]
        .iter()
        .map(|t| (true, t))
        .chain(neg[..held].iter().map(|t| (false, t)))
        .collect();

    let work = tempfile::tempdir().context("cannot create a temporary directory")?;
    let train_file = work.path().join("train.txt");
    write_lines(&train_file, &train_set)?;
    let mut args = fasttext::Args::new();
    args.set_input(&train_file.to_string_lossy())
        .map_err(|e| anyhow!(e))?;
    args.set_model(fasttext::ModelName::SUP);
    args.set_loss(fasttext::LossName::SOFTMAX);
    args.set_word_ngrams(cfg.word_ngrams);
    args.set_bucket(cfg.bucket);
    args.set_dim(cfg.dim);
    args.set_epoch(cfg.epoch);
    args.set_lr(cfg.lr);
    args.set_min_count(cfg.min_count);
    args.set_minn(0);
    args.set_maxn(0);
    args.set_thread(1);
    args.set_verbose(0);
    let mut ft = fasttext::FastText::new();
    ft.train(&args)
        .map_err(|e| anyhow!("fastText training failed: {e}"))?;
    if cfg.quantize {
        args.set_qnorm(true);
        args.set_cutoff(100_000);
        args.set_dsub(2);
        ft.quantize(&args)
            .map_err(|e| anyhow!("fastText quantization failed: {e}"))?;
    }
    if let Some(dir) = cfg.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    ft.save_model(&cfg.output.to_string_lossy())
        .map_err(|e| anyhow!("cannot save {}: {e}", cfg.output.display()))?;

    let model = QualityModel::from_fasttext(Arc::new(ft));
    let scored: Vec<(bool, f32)> = test_set.iter().map(|(y, t)| (*y, model.score(t))).collect();
    let metrics = evaluate(
        &scored,
        train_set.len(),
        available,
        std::fs::metadata(&cfg.output)?.len(),
    );
    let mut json =
        serde_json::to_vec_pretty(&serde_json::json!({ "config": cfg, "metrics": metrics }))?;
    json.push(b'\n');
    let metrics_path = PathBuf::from(format!("{}.metrics.json", cfg.output.display()));
    crate::io::shards::AtomicFile::write_all(&metrics_path, &json)?;
    Ok(metrics)
}

fn evaluate(
    scored: &[(bool, f32)],
    train_docs: usize,
    available: (usize, usize),
    model_bytes: u64,
) -> Metrics {
    let (mut tp, mut fp, mut tn, mut fneg) = (0usize, 0usize, 0usize, 0usize);
    for &(y, s) in scored {
        match (y, s >= 0.5) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (false, false) => tn += 1,
            (true, false) => fneg += 1,
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let calibration = (0..10)
        .map(|b| {
            let (lo, hi) = (b as f32 / 10.0, (b + 1) as f32 / 10.0);
            let in_bin: Vec<&(bool, f32)> = scored
                .iter()
                .filter(|(_, s)| *s >= lo && (*s < hi || (b == 9 && *s <= 1.0)))
                .collect();
            let count = in_bin.len();
            CalibrationBin {
                lo,
                hi,
                count,
                mean_score: if count == 0 {
                    0.0
                } else {
                    in_bin.iter().map(|(_, s)| *s as f64).sum::<f64>() / count as f64
                },
                positive_rate: ratio(in_bin.iter().filter(|(y, _)| *y).count(), count),
            }
        })
        .collect();
    Metrics {
        train_docs,
        heldout_docs: scored.len(),
        per_class_available: available,
        accuracy: ratio(tp + tn, scored.len()),
        precision: ratio(tp, tp + fp),
        recall: ratio(tp, tp + fneg),
        calibration,
        model_bytes,
    }
}

/// The metrics as the table `sieve quality train` prints.
pub fn report(m: &Metrics) -> String {
    let mut s = format!(
        "held-out: {} docs (train {}; available hq {}, lq {})\naccuracy {:.4}  precision(hq) {:.4}  recall(hq) {:.4}  model {:.1} MB\n\ncalibration:\n  score bin     docs  mean score  share hq\n",
        m.heldout_docs, m.train_docs, m.per_class_available.0, m.per_class_available.1, m.accuracy, m.precision, m.recall,
        m.model_bytes as f64 / 1e6
    );
    for b in &m.calibration {
        s.push_str(&format!(
            "  [{:.1}, {:.1})  {:>6}  {:>10.3}  {:>8.3}\n",
            b.lo, b.hi, b.count, b.mean_score, b.positive_rate
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffles_are_seeded_permutations() {
        let mut a: Vec<u32> = (0..100).collect();
        let mut b = a.clone();
        shuffle(&mut a, 5);
        shuffle(&mut b, 5);
        assert_eq!(a, b);
        let mut c: Vec<u32> = (0..100).collect();
        shuffle(&mut c, 6);
        assert_ne!(a, c);
        a.sort();
        assert_eq!(a, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn trains_balances_holds_out_and_reports() {
        let dir = tempfile::tempdir().unwrap();
        let pos = dir.path().join("pos.jsonl");
        let neg = dir.path().join("neg.txt");
        let mut p = String::new();
        for i in 0..300 {
            p.push_str(&format!("{{\"text\": \"The council published a careful report on the history of the valley, volume {i}.\"}}\n"));
        }
        p.push_str("{\"text\": \"tokenized row\", \"tokenized\": true}\n");
        std::fs::write(&pos, p).unwrap();
        let n: String = (0..2000)
            .map(|i| format!("lol click here free stuff {i}\n"))
            .collect();
        std::fs::write(&neg, n).unwrap();
        let mut cfg = TrainConfig::new(
            vec![pos.to_string_lossy().into_owned()],
            vec![neg.to_string_lossy().into_owned()],
            dir.path().join("m.bin"),
        );
        cfg.dim = 8;
        cfg.bucket = 10_000;
        cfg.txt_lines = 10;
        cfg.min_count = 1;
        let m = train(&cfg).unwrap();
        assert_eq!(m.per_class_available, (300, 200));
        assert_eq!(m.heldout_docs, 40);
        assert_eq!(m.train_docs, 360);
        assert!(m.accuracy > 0.95, "{}", report(&m));
        assert!(dir.path().join("m.bin.metrics.json").exists());
        assert!(QualityModel::load(&dir.path().join("m.bin")).is_ok());
    }
}
