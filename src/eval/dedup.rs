//! `sieve eval dedup`: a labelled near-duplicate set built from real prose, run through the
//! dedup steps, scored against the exact Jaccard of every pair.
//!
//! Families: each base document (curated prose and news-article gold texts from
//! `../shared/data/`) plus copies perturbed at known rates — word substitutions, inserted
//! boilerplate lines, truncation, reordered paragraphs, and a mix — spread over three
//! datasets and four shards. Every pair inside a family gets its true Jaccard (64-bit
//! shingle hashes, so no collisions to speak of); pairs across families are checked exactly
//! whenever the pipeline puts them in one component.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::dedup::config::DedupConfig;
use crate::dedup::files::WorkDir;
use crate::dedup::find_duplicates;
use crate::dedup::minhash::detection_probability;
use crate::dedup::shingle::{fmix64, for_each_word_hash, jaccard_sorted, Shingling};
use crate::doc::Document;
use crate::io::shards::{create_writer, ShardFormat};
use crate::io::source::{resolve, InputKind, Resolve};
use crate::pipeline::runner::{disambiguate_stems, jobs_for};
use crate::read::SourceSpec;

const DATASETS: &[&str] = &["curated", "news", "web"];
const LONG: &str = "unrelated long text";
const LONG_WORDS: usize = 10_000;
const SHARDS: usize = 4;

/// Lines that sites add around articles; inserted by the boilerplate perturbation.
const BOILERPLATE: &[&str] = &[
    "Share this article on Facebook, Twitter and LinkedIn.",
    "Subscribe to our newsletter for the latest updates delivered to your inbox.",
    "This website uses cookies to improve your experience. Accept and close.",
    "Copyright 2024 The Daily Herald Media Group. All rights reserved.",
    "Related articles: more stories you might like from our editors.",
    "Sign in or create an account to leave a comment below.",
    "Advertisement. Continue reading the main story after this message.",
    "Follow us on Instagram and YouTube for behind the scenes videos.",
    "Privacy policy | Terms of use | Contact us | Site map",
    "Click here to download the printable version of this page.",
    "Posted by the editorial team in News, Features and Opinion.",
    "Back to top. Return to the home page or browse the archive.",
    "Tags: community, local news, events, updates, announcements",
    "Our journalism depends on readers like you. Please consider donating today.",
    "Most read this week: the ten stories everyone is talking about.",
    "You are reading the free version. Upgrade for unlimited access.",
];

/// A deterministic random stream (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        fmix64(self.0)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// One document of the labelled set.
pub struct Labelled {
    pub doc: Document,
    pub family: usize,
    /// How it was derived from the family's base document ("original" for the base).
    pub perturbation: String,
}

/// Base texts: curated prose (not pre-tokenized) and the dragnet benchmark's gold article
/// bodies, 100 to 2,000 words each (longer texts are cut at a paragraph end).
fn base_texts(data: &Path, limit: usize) -> Result<Vec<String>> {
    let mut texts = Vec::new();
    let prose = data.join("quality/positives_english_prose.jsonl.gz");
    let file =
        std::fs::File::open(&prose).with_context(|| format!("cannot open {}", prose.display()))?;
    for line in std::io::BufReader::new(flate2::read::MultiGzDecoder::new(file)).lines() {
        let v: serde_json::Value = serde_json::from_str(&line?)?;
        if v["tokenized"].as_bool() == Some(true) {
            continue;
        }
        if let Some(t) = v["text"].as_str() {
            texts.push(t.to_string());
        }
    }
    for page in super::extraction::load("dragnet_data", data)? {
        texts.push(page.gold);
    }
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for t in texts {
        let mut kept = String::new();
        let mut words = 0;
        for para in t.split('\n').map(str::trim).filter(|p| !p.is_empty()) {
            if words >= 2000 {
                break;
            }
            words += para.split_whitespace().count();
            kept.push_str(para);
            kept.push('\n');
        }
        if words >= 100 && seen.insert(crate::dedup::shingle::text_key(&kept)) {
            out.push(kept);
        }
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

fn paragraphs(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

fn substitute_words(paras: &mut [String], rate: f64, vocab: &[String], rng: &mut Rng) {
    for p in paras.iter_mut() {
        let words: Vec<String> = p
            .split(' ')
            .map(|w| {
                if rng.chance(rate) {
                    vocab[rng.below(vocab.len())].clone()
                } else {
                    w.to_string()
                }
            })
            .collect();
        *p = words.join(" ");
    }
}

fn insert_boilerplate(paras: &mut Vec<String>, lines: usize, rng: &mut Rng) {
    for _ in 0..lines {
        let line = BOILERPLATE[rng.below(BOILERPLATE.len())].to_string();
        // Page furniture sits at the top or the bottom.
        if rng.chance(0.5) {
            paras.insert(0, line);
        } else {
            paras.push(line);
        }
    }
}

fn truncate(paras: &mut Vec<String>, keep: f64) {
    let total: usize = paras.iter().map(|p| p.split(' ').count()).sum();
    let mut budget = (total as f64 * keep).round() as usize;
    let mut out = Vec::new();
    for p in paras.iter() {
        if budget == 0 {
            break;
        }
        let words: Vec<&str> = p.split(' ').collect();
        let take = words.len().min(budget);
        out.push(words[..take].join(" "));
        budget -= take;
    }
    *paras = out;
}

fn reorder(paras: &mut [String], rng: &mut Rng) {
    for i in (1..paras.len()).rev() {
        let j = rng.below(i + 1);
        paras.swap(i, j);
    }
}

/// One perturbed copy of `base`: the perturbation label and the text.
fn perturb(base: &str, kind: usize, vocab: &[String], rng: &mut Rng) -> (String, String) {
    let mut p = paragraphs(base);
    let label = match kind {
        0 => {
            let rate = [0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2][rng.below(8)];
            substitute_words(&mut p, rate, vocab, rng);
            format!("edit {:.1}%", rate * 100.0)
        }
        1 => {
            let lines = [1, 2, 4, 8, 16][rng.below(5)];
            insert_boilerplate(&mut p, lines, rng);
            format!("boilerplate {lines} lines")
        }
        2 => {
            let keep = [0.98, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6][rng.below(7)];
            truncate(&mut p, keep);
            format!("truncate to {:.0}%", keep * 100.0)
        }
        3 => {
            reorder(&mut p, rng);
            "paragraphs shuffled".to_string()
        }
        _ => {
            let rate = [0.01, 0.02, 0.03][rng.below(3)];
            substitute_words(&mut p, rate, vocab, rng);
            insert_boilerplate(&mut p, 2, rng);
            truncate(&mut p, 0.95);
            format!("mix: edit {:.0}% + 2 lines + truncate 95%", rate * 100.0)
        }
    };
    (label, p.join("\n"))
}

/// Builds the labelled set: `families` base documents, each with three perturbed copies.
pub fn build(data: &Path, families: usize, seed: u64) -> Result<Vec<Labelled>> {
    let bases = base_texts(data, families)?;
    let mut vocab: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for b in bases.iter().take(200) {
        for w in b.split_whitespace() {
            if seen.insert(w.to_lowercase()) {
                vocab.push(w.to_string());
            }
        }
    }
    let mut rng = Rng(seed);
    let mut set = Vec::new();
    for (f, base) in bases.iter().enumerate() {
        let mut kinds = vec![0usize, 1, 2, 3, 4];
        reorder_usize(&mut kinds, &mut rng);
        let mut members = vec![("original".to_string(), base.clone())];
        for &k in &kinds[..3] {
            members.push(perturb(base, k, &vocab, &mut rng));
        }
        for (m, (label, text)) in members.into_iter().enumerate() {
            let dataset = DATASETS[rng.below(DATASETS.len())];
            set.push(Labelled {
                doc: Document {
                    id: format!("{dataset}/family{f:05}#{m}"),
                    dataset: dataset.to_string(),
                    url: Some(format!("https://{dataset}.example/{f}/{m}")),
                    text,
                    ..Default::default()
                },
                family: f,
                perturbation: label,
            });
        }
    }
    // Unrelated long texts: 10,000-word chunks of different books, each a family of one.
    // Any merge among them is a false positive; long texts are where character shingle
    // sets saturate (every common 5-gram occurs), so they test precision hardest.
    let mut books: Vec<PathBuf> = std::fs::read_dir(data.join("quality/gutenberg/texts"))
        .with_context(|| "cannot list quality/gutenberg/texts")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    books.sort();
    let mut family = bases.len();
    for book in books {
        let text = std::fs::read_to_string(&book).unwrap_or_default();
        let words: Vec<&str> = text.split_whitespace().collect();
        for chunk in words
            .chunks(LONG_WORDS)
            .filter(|c| c.len() == LONG_WORDS)
            .take(6)
        {
            set.push(Labelled {
                doc: Document {
                    id: format!("books/long{family:05}"),
                    dataset: "books".into(),
                    text: chunk.join(" "),
                    ..Default::default()
                },
                family,
                perturbation: LONG.to_string(),
            });
            family += 1;
        }
    }
    // Spread families over shards and positions so that copies meet across files.
    let mut order: Vec<usize> = (0..set.len()).collect();
    reorder_usize(&mut order, &mut rng);
    let mut shuffled: Vec<Option<Labelled>> = set.into_iter().map(Some).collect();
    Ok(order
        .into_iter()
        .map(|i| shuffled[i].take().expect("each index once"))
        .collect())
}

fn reorder_usize(v: &mut [usize], rng: &mut Rng) {
    for i in (1..v.len()).rev() {
        let j = rng.below(i + 1);
        v.swap(i, j);
    }
}

/// The exact shingle set with 64-bit hashes: the ground truth's Jaccard.
fn true_set(text: &str, how: Shingling) -> Vec<u64> {
    let mut units = Vec::new();
    let n = match how {
        Shingling::Words(n) => {
            for_each_word_hash(text, |h| units.push(h));
            n
        }
        Shingling::Chars(n) => {
            let lower = text.to_lowercase();
            let mut last_space = true;
            for c in lower.chars() {
                if c.is_whitespace() {
                    if !last_space {
                        units.push(' ' as u64);
                    }
                    last_space = true;
                } else {
                    units.push(c as u64);
                    last_space = false;
                }
            }
            if units.last() == Some(&(' ' as u64)) {
                units.pop();
            }
            n
        }
    };
    let mut set: Vec<u64> = units
        .windows(n.min(units.len().max(1)))
        .filter(|w| w.len() == n)
        .map(|w| {
            let mut h = 0x1234_5678u64;
            for &x in w {
                h = fmix64(h ^ x).wrapping_add(0x9e37_79b9_7f4a_7c15);
            }
            h
        })
        .collect();
    set.sort_unstable();
    set.dedup();
    set
}

/// Scores of one configuration on the labelled set.
#[derive(Debug, Default, serde::Serialize)]
pub struct DedupScore {
    pub config: String,
    /// Every setting the run used, as dedup writes it to its `config.json`.
    pub settings: serde_json::Value,
    pub documents: usize,
    pub removed: usize,
    /// (band low, band high, pairs, found) over true Jaccard.
    pub recall_bands: Vec<(f64, f64, usize, usize)>,
    pub recall_at_least_0_9: f64,
    /// Removed documents with true Jaccard ≥ 0.8 to some member of their component.
    pub removed_justified: f64,
    /// Pairs of documents sharing a component whose true Jaccard is ≥ 0.8.
    pub pair_precision: f64,
    pub cross_family_pairs_merged: usize,
    /// Unrelated 10,000-word book chunks, and how many ended in a component with another.
    pub long_texts: usize,
    pub long_texts_merged: usize,
    /// Perturbation → (copies, found with their original, mean true Jaccard).
    pub by_perturbation: BTreeMap<String, (usize, usize, f64)>,
    pub seconds: f64,
}

const BAND_EDGES: &[f64] = &[
    0.0, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.999_999, 1.000_001,
];

/// Runs `cfg` over the labelled set in `scratch` and scores it.
pub fn score(
    set: &[Labelled],
    cfg: &DedupConfig,
    scratch: &Path,
    threads: usize,
) -> Result<DedupScore> {
    let _ = std::fs::remove_dir_all(scratch);
    let shards = scratch.join("shards");
    let mut writers = Vec::new();
    for s in 0..SHARDS {
        writers.push(create_writer(
            &shards.join(format!("part-{s}.parquet")),
            ShardFormat::Parquet,
        )?);
    }
    for (i, l) in set.iter().enumerate() {
        writers[i % SHARDS].write(l.doc.clone())?;
    }
    for w in writers {
        w.finish()?;
    }
    let inputs = resolve(
        &[shards.to_string_lossy().into_owned()],
        &Resolve {
            kind: InputKind::Shards,
            ..Default::default()
        },
    )?;
    let mut jobs = jobs_for(inputs, &SourceSpec::Shards, None);
    disambiguate_stems(&mut jobs);
    let work = WorkDir::new(&scratch.join("work"));
    let start = std::time::Instant::now();
    find_duplicates(&work, cfg, &jobs, threads, true)?;
    let seconds = start.elapsed().as_secs_f64();

    // Component of every document (documents alone in theirs are absent).
    let index: HashMap<&str, usize> = set
        .iter()
        .enumerate()
        .map(|(i, l)| (l.doc.id.as_str(), i))
        .collect();
    let mut component: HashMap<usize, usize> = HashMap::new();
    let mut members_of: Vec<Vec<usize>> = Vec::new();
    let mut removed = Vec::new();
    let text = std::fs::read_to_string(work.step("components").join("components.jsonl"))?;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let c = members_of.len();
        let rep = index[v["representative"].as_str().context("representative")?];
        let mut members = vec![rep];
        for m in v["members"].as_array().context("members")? {
            let i = index[m.as_str().context("member id")?];
            members.push(i);
            removed.push(i);
        }
        for &m in &members {
            component.insert(m, c);
        }
        members_of.push(members);
    }

    let sets: Vec<Vec<u64>> = set
        .iter()
        .map(|l| true_set(&l.doc.text, cfg.shingling))
        .collect();
    let same = |a: usize, b: usize| matches!((component.get(&a), component.get(&b)), (Some(x), Some(y)) if x == y);
    let mut out = DedupScore {
        config: format!(
            "{} {}x{} verify={:?} t={}",
            cfg.shingling, cfg.bands, cfg.rows, cfg.verify, cfg.threshold
        ),
        settings: serde_json::to_value(cfg)?,
        documents: set.len(),
        removed: removed.len(),
        seconds,
        ..Default::default()
    };
    let mut bands = vec![(0usize, 0usize); BAND_EDGES.len() - 1];
    let mut by_family: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, l) in set.iter().enumerate() {
        by_family.entry(l.family).or_default().push(i);
    }
    let mut perturbation: BTreeMap<String, (usize, usize, f64)> = BTreeMap::new();
    for members in by_family.values() {
        for (x, &a) in members.iter().enumerate() {
            for &b in &members[x + 1..] {
                let j = jaccard_sorted(&sets[a], &sets[b]);
                let band = BAND_EDGES
                    .windows(2)
                    .position(|w| j >= w[0] && j < w[1])
                    .unwrap_or(0);
                bands[band].0 += 1;
                if same(a, b) {
                    bands[band].1 += 1;
                }
                let (orig, copy) =
                    match (set[a].perturbation.as_str(), set[b].perturbation.as_str()) {
                        ("original", _) => (a, b),
                        (_, "original") => (b, a),
                        _ => continue,
                    };
                let e = perturbation
                    .entry(set[copy].perturbation.clone())
                    .or_default();
                e.0 += 1;
                e.1 += same(orig, copy) as usize;
                e.2 += j;
            }
        }
    }
    for v in perturbation.values_mut() {
        v.2 /= v.0.max(1) as f64;
    }
    out.by_perturbation = perturbation;
    out.recall_bands = BAND_EDGES
        .windows(2)
        .zip(&bands)
        .map(|(w, &(n, f))| (w[0], w[1].min(1.0), n, f))
        .collect();
    let (n9, f9) = bands
        .iter()
        .zip(BAND_EDGES.windows(2))
        .filter(|(_, w)| w[0] >= 0.9)
        .fold((0, 0), |(n, f), (&(bn, bf), _)| (n + bn, f + bf));
    out.recall_at_least_0_9 = f9 as f64 / n9.max(1) as f64;

    // Precision: removed documents justified by a true ≥ 0.8 neighbour, and co-member pairs.
    let mut justified = 0;
    for &d in &removed {
        let c = component[&d];
        if members_of[c]
            .iter()
            .any(|&m| m != d && jaccard_sorted(&sets[d], &sets[m]) >= 0.8)
        {
            justified += 1;
        }
    }
    out.removed_justified = justified as f64 / removed.len().max(1) as f64;
    let (mut pairs, mut good) = (0usize, 0usize);
    for members in &members_of {
        for (x, &a) in members.iter().enumerate() {
            for &b in &members[x + 1..] {
                pairs += 1;
                if jaccard_sorted(&sets[a], &sets[b]) >= 0.8 {
                    good += 1;
                }
                if set[a].family != set[b].family {
                    out.cross_family_pairs_merged += 1;
                }
            }
        }
    }
    out.pair_precision = good as f64 / pairs.max(1) as f64;
    out.long_texts = set.iter().filter(|l| l.perturbation == LONG).count();
    out.long_texts_merged = set
        .iter()
        .enumerate()
        .filter(|(i, l)| l.perturbation == LONG && component.contains_key(i))
        .count();
    Ok(out)
}

/// The printed report of one configuration.
pub fn render(s: &DedupScore, cfg: &DedupConfig) -> String {
    let mut out = format!(
        "== {} ({} documents, {} removed, {:.1} s)\n",
        s.config, s.documents, s.removed, s.seconds
    );
    out.push_str(&format!(
        "methods {}, MinHash seed {}, {} key ranges per band, at most {} comparisons per bucket\n",
        cfg.methods, cfg.seed, cfg.ranges, cfg.max_bucket_comparisons
    ));
    out.push_str("true Jaccard      pairs   found  recall  LSH P(s) at the band's low end\n");
    for &(lo, hi, n, f) in &s.recall_bands {
        if n == 0 {
            continue;
        }
        let label = if lo >= 0.999 {
            "1.0 (identical)".to_string()
        } else {
            format!("[{lo:.2}, {hi:.2})")
        };
        out.push_str(&format!(
            "{label:<16} {n:>6} {f:>7}  {:>6.3}  {:.3}\n",
            f as f64 / n as f64,
            detection_probability(lo, cfg.bands, cfg.rows)
        ));
    }
    out.push_str(&format!(
        "recall, true J ≥ 0.9: {:.4}\nremoved documents with a true J ≥ 0.8 neighbour in their component: {:.4}\n\
         same-component pairs with true J ≥ 0.8: {:.4} ({} cross-family pairs merged)\n\
         unrelated {}-word book chunks merged with another document: {} of {}\n",
        s.recall_at_least_0_9,
        s.removed_justified,
        s.pair_precision,
        s.cross_family_pairs_merged,
        LONG_WORDS,
        s.long_texts_merged,
        s.long_texts
    ));
    out.push_str("perturbation                              copies  found  mean true J\n");
    for (k, (n, f, j)) in &s.by_perturbation {
        out.push_str(&format!("{k:<40} {n:>6} {f:>6}  {j:.3}\n"));
    }
    out
}
