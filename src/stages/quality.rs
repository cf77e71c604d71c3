//! The `quality` stage: a fastText classifier's probability that a document is high quality
//! goes into `quality`, then either a Pareto sampling filter (MT-NLG, α = 3) or a threshold
//! decides whether it stays.
//!
//! Pareto mode keeps a document iff `U^(-1/α) − 1 > 1 − score`, i.e. a Pareto(α) draw (as
//! `numpy.random.pareto`) exceeds `1 − score`, so P(keep | s) = (2 − s)^(−α). U comes from a
//! hash of (seed, document id), never from a generator's state: the decision is the same
//! whatever the thread count, shard split or order, and it is recorded in `meta`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::doc::Document;
use crate::pipeline::stage::{Emit, Stage};
use crate::stages::fasttext_infer::{SupervisedModel, Unsupported};
use crate::stages::fasttext_model::{load_shared, load_supervised_shared, one_line};

/// The label of high-quality text in sieve's quality models.
pub const HIGH_QUALITY_LABEL: &str = "__label__hq";
/// The label of other (raw crawl) text.
pub const LOW_QUALITY_LABEL: &str = "__label__lq";

/// The quality filter's settings: the `sieve quality filter` flags and the spec's `[[stage]]`
/// keys are these fields, with the defaults of `Default` for both (`model` has none: it is
/// required).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct QualityOptions {
    /// The quality model (labels __label__hq / __label__lq).
    #[arg(long, required = true)]
    pub model: PathBuf,
    /// Pareto shape; MT-NLG and NeMo Curator use 3. Ignored when `threshold` is set.
    #[arg(long, default_value_t = QualityOptions::default().alpha, conflicts_with = "threshold")]
    pub alpha: f64,
    /// Keep documents scoring at least this instead of sampling.
    #[arg(long)]
    pub threshold: Option<f32>,
    /// Seed of the per-document draws.
    #[arg(long, default_value_t = QualityOptions::default().seed)]
    pub seed: u64,
}

impl Default for QualityOptions {
    fn default() -> Self {
        QualityOptions {
            model: PathBuf::new(),
            alpha: 3.0,
            threshold: None,
            seed: 0,
        }
    }
}

/// A uniform draw in (0, 1) from (seed, document id): 53 bits of xxh3, never 0.
pub fn uniform_draw(seed: u64, id: &str) -> f64 {
    let h = xxhash_rust::xxh3::xxh3_64_with_seed(id.as_bytes(), seed);
    ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

/// A Pareto(α) draw (numpy's parameterisation: Lomax, support [0, ∞)) from a uniform one.
pub fn pareto_draw(u: f64, alpha: f64) -> f64 {
    u.powf(-1.0 / alpha) - 1.0
}

/// The Pareto filter's decision for a document of this score.
pub fn pareto_keeps(score: f32, draw: f64) -> bool {
    draw > 1.0 - score as f64
}

/// Bins of the score histogram in the stats: 20 of width 0.05, named by their lower edge
/// ("0.00" … "0.95"), so that the names sort in score order.
pub const SCORE_BINS: usize = 20;

pub fn score_bin(score: f32) -> String {
    let i = ((score.clamp(0.0, 1.0) * SCORE_BINS as f32) as usize).min(SCORE_BINS - 1);
    format!("{:.2}", i as f64 / SCORE_BINS as f64)
}

/// A document as the classifier sees it, in training and in scoring alike: one line, and
/// no token that fastText would take for a label.
pub fn classifier_text(text: &str) -> String {
    one_line(text).replace("__label__", "label__")
}

/// Scores text with a quality model: P(high quality).
pub enum QualityModel {
    /// sieve's own reader (supervised word/bigram models): same results, faster.
    Rust {
        model: Arc<SupervisedModel>,
        hq: usize,
    },
    /// The C++ library, for models the Rust reader does not handle.
    Cpp(Arc<fasttext::FastText>),
}

impl QualityModel {
    /// Wraps a model already in memory (just trained), through the C++ library.
    pub fn from_fasttext(model: Arc<fasttext::FastText>) -> QualityModel {
        QualityModel::Cpp(model)
    }

    pub fn load(path: &std::path::Path) -> Result<QualityModel> {
        match load_supervised_shared(path) {
            Ok(model) => {
                let Some(hq) = model.labels().iter().position(|l| l == HIGH_QUALITY_LABEL) else {
                    bail!(
                        "{} is not a quality model: it has no {HIGH_QUALITY_LABEL} label (labels: {:?})",
                        path.display(),
                        model.labels()
                    );
                };
                Ok(QualityModel::Rust { model, hq })
            }
            // Only a model this reader does not serve goes to the C++ library: that one reads
            // a damaged file without noticing.
            Err(e) if e.downcast_ref::<Unsupported>().is_some() => QualityModel::load_cpp(path),
            Err(e) => Err(e),
        }
    }

    /// Loads through the C++ library.
    pub fn load_cpp(path: &std::path::Path) -> Result<QualityModel> {
        let model = load_shared(path)?;
        let labels = model.get_labels().map_err(|e| anyhow::anyhow!("{e}"))?.0;
        if !labels.iter().any(|l| l == HIGH_QUALITY_LABEL) {
            bail!(
                "{} is not a quality model: it has no {HIGH_QUALITY_LABEL} label (labels: {labels:?})",
                path.display()
            );
        }
        Ok(QualityModel::Cpp(model))
    }

    pub fn score(&self, text: &str) -> f32 {
        // The trailing newline gives the end-of-sentence token `</s>`, as in training lines
        // and in the Python bindings; without it a bigram model sees different features.
        let mut line = classifier_text(text);
        line.push('\n');
        match self {
            QualityModel::Rust { model, hq } => model.predict(&line)[*hq].clamp(0.0, 1.0),
            // Every label's probability (k = -1), so the high-quality one is there whatever
            // the number of labels.
            QualityModel::Cpp(model) => model
                .predict(&line, -1, 0.0)
                .unwrap_or_default()
                .iter()
                .find(|p| p.label == HIGH_QUALITY_LABEL)
                .map_or(0.0, |p| p.prob.clamp(0.0, 1.0)),
        }
    }
}

pub struct QualityStage {
    model: QualityModel,
    options: QualityOptions,
}

impl QualityStage {
    pub fn new(options: QualityOptions) -> Result<QualityStage> {
        if options.model.as_os_str().is_empty() {
            bail!("the quality stage needs its model: `model = \"PATH\"` (`--model PATH`)");
        }
        if options.threshold.is_none() && options.alpha <= 0.0 {
            bail!(
                "the Pareto shape alpha must be positive (got {})",
                options.alpha
            );
        }
        Ok(QualityStage {
            model: QualityModel::load(&options.model)?,
            options,
        })
    }

    pub fn from_table(table: &toml::Table) -> Result<Box<dyn Stage>> {
        let options: QualityOptions = toml::Value::Table(table.clone()).try_into()?;
        Ok(Box::new(QualityStage::new(options)?))
    }
}

impl Stage for QualityStage {
    fn name(&self) -> &'static str {
        "quality"
    }

    fn process(&mut self, mut doc: Document, out: &mut Emit) -> Result<()> {
        let score = self.model.score(&doc.text);
        doc.quality = Some(score);
        let keep = match self.options.threshold {
            Some(t) => score >= t,
            None => {
                let draw =
                    pareto_draw(uniform_draw(self.options.seed, &doc.id), self.options.alpha);
                doc.meta
                    .insert("quality_pareto_draw".into(), format!("{draw:.6}"));
                pareto_keeps(score, draw)
            }
        };
        let bin = score_bin(score);
        out.tally("score", bin.clone());
        if keep {
            out.tally("score_kept", bin);
            out.keep(doc);
        } else {
            out.drop(doc, "quality");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The draws for fixed (seed, id) pairs, computed outside sieve: xxh3-64 from Python's
    /// `xxhash` package (`xxh3_64_intdigest(id, seed=seed)`), then `u = ((h >> 11) + 0.5) /
    /// 2^53` and the Lomax draw `u^(-1/3) - 1` in Python floats. A changed hash, seed use or
    /// formula breaks reproducibility of every filtered corpus, so the numbers are pinned.
    #[test]
    fn draws_equal_values_computed_independently() {
        let cases: [(u64, &str, f64, f64); 4] = [
            (
                1,
                "web/sample-web-00000.warc.gz#0",
                0.564350468087981,
                0.21008823009490807,
            ),
            (
                42,
                "books/books.jsonl#17",
                0.20325341065734231,
                0.7008031545767153,
            ),
            (0, "", 0.17588043334474285, 0.784818906128419),
            (
                9223372036854775813,
                "日本語/文書#3",
                0.5200830829175134,
                0.24349036396680934,
            ),
        ];
        for (seed, id, u, draw) in cases {
            assert_eq!(uniform_draw(seed, id), u, "seed {seed}, id {id:?}");
            let d = pareto_draw(uniform_draw(seed, id), 3.0);
            assert!(
                (d - draw).abs() < 1e-12,
                "seed {seed}, id {id:?}: {d} vs {draw}"
            );
        }
    }

    #[test]
    fn keep_rate_matches_two_minus_s_to_the_minus_alpha() {
        let n = 250_000;
        for &s in &[0.0f32, 0.5, 0.8, 1.0] {
            let kept = (0..n)
                .filter(|i| pareto_keeps(s, pareto_draw(uniform_draw(7, &format!("doc/{i}")), 3.0)))
                .count();
            let rate = kept as f64 / n as f64;
            let expected = (2.0 - s as f64).powf(-3.0);
            assert!(
                (rate - expected).abs() < 0.01,
                "s={s}: kept {rate:.4}, expected {expected:.4}"
            );
        }
    }

    /// NeMo's rule, `np.random.pareto(alpha) > 1 - score`, is strict: a draw equal to
    /// 1 − score drops, one ulp above keeps, one ulp below drops.
    #[test]
    fn the_pareto_rule_at_its_boundary() {
        for s in [0.25f32, 0.5, 0.75] {
            let edge = 1.0 - f64::from(s);
            assert!(!pareto_keeps(s, edge), "{s}");
            assert!(pareto_keeps(s, f64::from_bits(edge.to_bits() + 1)), "{s}");
            assert!(!pareto_keeps(s, f64::from_bits(edge.to_bits() - 1)), "{s}");
        }
    }

    /// `--threshold T` keeps a score equal to T (datatrove's FastTextClassifierFilter drops
    /// only scores under its threshold), and drops it when T is one ulp higher.
    #[test]
    fn the_score_threshold_at_its_boundary() {
        let dir = tempfile::tempdir().unwrap();
        let model = tiny_model(dir.path());
        let text = "the committee published a careful report on the river";
        let score = QualityModel::load(&model).unwrap().score(text);
        let decide = |threshold: f32| {
            let mut stage = QualityStage::new(QualityOptions {
                model: model.clone(),
                threshold: Some(threshold),
                ..QualityOptions::default()
            })
            .unwrap();
            let mut e = Emit::default();
            stage.process(doc("a#1", text), &mut e).unwrap();
            e.kept.len() == 1
        };
        assert!(decide(score));
        assert!(decide(f32::from_bits(score.to_bits() - 1)));
        assert!(!decide(f32::from_bits(score.to_bits() + 1)));
    }

    /// A model the Rust reader does not serve (here: fastText's format version 11, which the
    /// C++ library still reads) goes to the C++ library and scores the same.
    #[test]
    fn models_the_rust_reader_does_not_serve_load_through_the_cpp_library() {
        let dir = tempfile::tempdir().unwrap();
        let model = tiny_model(dir.path());
        let mut bytes = std::fs::read(&model).unwrap();
        bytes[4..8].copy_from_slice(&11i32.to_le_bytes());
        let old = dir.path().join("v11.bin");
        std::fs::write(&old, bytes).unwrap();
        let text = "the committee published a careful report";
        let current = QualityModel::load(&model).unwrap();
        assert!(matches!(current, QualityModel::Rust { .. }));
        let fallback = QualityModel::load(&old).unwrap();
        assert!(matches!(fallback, QualityModel::Cpp(_)));
        assert!((fallback.score(text) - current.score(text)).abs() < 1e-5);
    }

    /// A classifier without the `__label__hq` label is refused by both readers, naming it.
    #[test]
    fn a_model_without_the_high_quality_label_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let model = tiny_model_with(dir.path(), "__label__news", "__label__spam");
        for result in [QualityModel::load(&model), QualityModel::load_cpp(&model)] {
            let err = result.err().expect("refused").to_string();
            assert!(err.contains("is not a quality model"), "{err}");
            assert!(err.contains("__label__news"), "{err}");
        }
    }

    /// The score histogram's 20 bins are named by their lower edge.
    #[test]
    fn score_bins_are_named_by_their_lower_edge() {
        for (score, bin) in [
            (0.0, "0.00"),
            (0.049, "0.00"),
            (0.05, "0.05"),
            (0.5, "0.50"),
            (0.951, "0.95"),
            (1.0, "0.95"),
            (-0.1, "0.00"),
        ] {
            assert_eq!(score_bin(score), bin, "{score}");
        }
    }

    /// Trains a tiny two-label model on the fly (one thread, so it is reproducible).
    fn tiny_model(dir: &std::path::Path) -> PathBuf {
        tiny_model_with(dir, HIGH_QUALITY_LABEL, LOW_QUALITY_LABEL)
    }

    fn tiny_model_with(dir: &std::path::Path, high: &str, low: &str) -> PathBuf {
        let train = dir.join("train.txt");
        let mut lines = String::new();
        for i in 0..200 {
            lines.push_str(&format!("{high} the committee published a careful report on the history of the river valley number {i}\n"));
            lines.push_str(&format!(
                "{low} click here buy now cheap deals lol omg free download {i}\n"
            ));
        }
        std::fs::write(&train, lines).unwrap();
        let mut args = fasttext::Args::new();
        args.set_input(train.to_str().unwrap()).unwrap();
        args.set_model(fasttext::ModelName::SUP);
        args.set_loss(fasttext::LossName::SOFTMAX);
        args.set_word_ngrams(2);
        args.set_bucket(10_000);
        args.set_dim(8);
        args.set_epoch(25);
        args.set_lr(0.5);
        args.set_minn(0);
        args.set_maxn(0);
        args.set_min_count(1);
        args.set_thread(1);
        args.set_verbose(0);
        let mut ft = fasttext::FastText::new();
        ft.train(&args).unwrap();
        let path = dir.join("tiny.bin");
        ft.save_model(path.to_str().unwrap()).unwrap();
        path
    }

    fn doc(id: &str, text: &str) -> Document {
        Document {
            id: id.into(),
            dataset: "t".into(),
            text: text.into(),
            ..Default::default()
        }
    }

    #[test]
    fn scores_documents_and_decides_by_threshold_or_pareto_draw() {
        let dir = tempfile::tempdir().unwrap();
        let model = tiny_model(dir.path());
        let options = |threshold| QualityOptions {
            model: model.clone(),
            alpha: 3.0,
            threshold,
            seed: 11,
        };
        let mut by_threshold = QualityStage::new(options(Some(0.5))).unwrap();
        let mut e = Emit::default();
        by_threshold
            .process(
                doc(
                    "a#1",
                    "the committee published a careful report on the river",
                ),
                &mut e,
            )
            .unwrap();
        by_threshold
            .process(
                doc("a#2", "click here buy now cheap deals free download"),
                &mut e,
            )
            .unwrap();
        assert_eq!(e.kept.len(), 1);
        assert!(e.kept[0].quality.unwrap() > 0.8, "{:?}", e.kept[0].quality);
        assert!(
            e.dropped[0].0.quality.unwrap() < 0.2,
            "{:?}",
            e.dropped[0].0.quality
        );
        assert_eq!(e.dropped[0].1, "quality");

        // Pareto mode: the decision and the recorded draw follow from (seed, id) alone.
        let mut pareto = QualityStage::new(options(None)).unwrap();
        let mut first = Emit::default();
        let mut second = Emit::default();
        for i in 0..50 {
            let d = doc(
                &format!("b#{i}"),
                "click here buy now cheap deals free download",
            );
            pareto.process(d.clone(), &mut first).unwrap();
            QualityStage::new(options(None))
                .unwrap()
                .process(d, &mut second)
                .unwrap();
        }
        let ids = |e: &Emit| e.kept.iter().map(|d| d.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&first), ids(&second));
        for d in first
            .kept
            .iter()
            .chain(first.dropped.iter().map(|(d, _)| d))
        {
            let draw: f64 = d.meta["quality_pareto_draw"].parse().unwrap();
            let expected = pareto_draw(uniform_draw(11, &d.id), 3.0);
            assert!((draw - expected).abs() < 1e-5);
        }
        // Low scores are kept only by large draws: a few, not none and not all.
        assert!(
            !first.kept.is_empty() && first.kept.len() < 40,
            "{}",
            first.kept.len()
        );
    }

    #[test]
    fn a_model_without_the_quality_label_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let train = dir.path().join("t.txt");
        std::fs::write(&train, "__label__a x y\n__label__b z w\n".repeat(20)).unwrap();
        let mut args = fasttext::Args::new();
        args.set_input(train.to_str().unwrap()).unwrap();
        args.set_model(fasttext::ModelName::SUP);
        args.set_loss(fasttext::LossName::SOFTMAX);
        args.set_min_count(1);
        args.set_minn(0);
        args.set_maxn(0);
        args.set_bucket(1000);
        args.set_dim(4);
        args.set_thread(1);
        args.set_verbose(0);
        let mut ft = fasttext::FastText::new();
        ft.train(&args).unwrap();
        let path = dir.path().join("m.bin");
        ft.save_model(path.to_str().unwrap()).unwrap();
        let err = QualityModel::load(&path).err().unwrap().to_string();
        assert!(err.contains("no __label__hq label"), "{err}");
    }

    #[test]
    fn the_rust_reader_reproduces_the_cpp_library() {
        let dir = tempfile::tempdir().unwrap();
        let model = tiny_model(dir.path());
        let rust = QualityModel::load(&model).unwrap();
        assert!(matches!(rust, QualityModel::Rust { .. }));
        let cpp = QualityModel::load_cpp(&model).unwrap();
        for text in [
            "the committee published a careful report",
            "click here   buy now\nsecond line ignored? no: folded",
            "unknown tokens zzzq qqqz with the river valley",
            "",
            "é ü __label__hq sneaky",
        ] {
            let (a, b) = (rust.score(text), cpp.score(text));
            assert!((a - b).abs() < 1e-5, "{text:?}: rust {a} vs C++ {b}");
        }
    }

    #[test]
    fn draws_depend_only_on_seed_and_id() {
        assert_eq!(uniform_draw(1, "a/b#3"), uniform_draw(1, "a/b#3"));
        assert_ne!(uniform_draw(1, "a/b#3"), uniform_draw(2, "a/b#3"));
        let u = uniform_draw(0, "x");
        assert!(u > 0.0 && u < 1.0);
    }
}
