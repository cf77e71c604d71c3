//! `sieve eval`: score sieve's components against labelled data in `../shared/data/`.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::Outcome;
use crate::eval::{extraction, langid};
use crate::stages::langid::Identifier;

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub what: EvalCommand,
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Word-level precision/recall/F1 of `extract` on the HTML extraction benchmarks.
    Extract(EvalExtractArgs),
    /// Per-language accuracy of whatlang and a fastText model, and English recall.
    Langid(EvalLangidArgs),
    /// Recall by true Jaccard and precision of dedup on a labelled near-duplicate set.
    Dedup(EvalDedupArgs),
}

#[derive(Debug, Args)]
pub struct EvalDedupArgs {
    /// The shared data directory.
    #[arg(long, default_value = "../shared/data")]
    pub data: PathBuf,
    /// Base documents (each gets three perturbed copies).
    #[arg(long, default_value_t = 1500)]
    pub families: usize,
    /// Seed of the perturbations.
    #[arg(long, default_value_t = 1)]
    pub set_seed: u64,
    /// Shinglings to compare (each scored with its own true Jaccard); default: --shingle.
    #[arg(long, value_delimiter = ',', value_parser = crate::dedup::shingle::Shingling::parse)]
    pub compare_shingles: Vec<crate::dedup::shingle::Shingling>,
    #[command(flatten)]
    pub settings: super::dedup::DedupSettings,
    /// Scratch directory (default: a temporary directory).
    #[arg(long)]
    pub scratch: Option<PathBuf>,
    /// Also write the scores as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    #[arg(short = 'j', long)]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct EvalLangidArgs {
    /// The shared data directory.
    #[arg(long, default_value = "../shared/data")]
    pub data: PathBuf,
    /// fastText model to compare with whatlang (default: lid.176 in the shared data).
    #[arg(long)]
    pub lid_model: Option<PathBuf>,
    /// Print the English texts that were not labelled English.
    #[arg(long)]
    pub show_misses: bool,
}

#[derive(Debug, Args)]
pub struct EvalExtractArgs {
    /// A benchmark name, or `all`.
    #[arg(long, default_value = "all")]
    pub benchmark: String,
    /// The shared data directory.
    #[arg(long, default_value = "../shared/data")]
    pub data: PathBuf,
    /// Also list the N pages with the lowest F1.
    #[arg(long, default_value_t = 0)]
    pub worst: usize,
}

pub fn run(a: EvalArgs) -> Result<Outcome> {
    match a.what {
        EvalCommand::Extract(e) => eval_extract(e),
        EvalCommand::Langid(e) => eval_langid(e),
        EvalCommand::Dedup(e) => eval_dedup(e),
    }
}

fn eval_dedup(a: EvalDedupArgs) -> Result<Outcome> {
    let set = crate::eval::dedup::build(&a.data, a.families, a.set_seed)?;
    eprintln!(
        "labelled set: {} documents in {} families",
        set.len(),
        a.families
    );
    let temp = tempfile::tempdir()?;
    let scratch = a
        .scratch
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut scores = Vec::new();
    let shinglings = if a.compare_shingles.is_empty() {
        vec![a.settings.shingle.unwrap_or(a.settings.preset.shingling())]
    } else {
        a.compare_shingles.clone()
    };
    for shingling in &shinglings {
        let mut settings = a.settings.clone();
        settings.shingle = Some(*shingling);
        let cfg = settings.config()?;
        let s = crate::eval::dedup::score(
            &set,
            &cfg,
            &scratch.join(shingling.to_string().replace(':', "-")),
            threads,
        )?;
        print!("{}", crate::eval::dedup::render(&s, &cfg));
        scores.push(s);
    }
    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_vec_pretty(&scores)?)?;
    }
    Ok(Outcome::Ok)
}

fn eval_langid(a: EvalLangidArgs) -> Result<Outcome> {
    let model = a
        .lid_model
        .unwrap_or_else(|| a.data.join("langid/fasttext-lid176/lid.176.ftz"));
    let identifiers = [Identifier::new(None)?, Identifier::new(Some(&model))?];
    let results: Vec<_> = identifiers
        .iter()
        .map(|id| langid::sentence_accuracy(id, &a.data))
        .collect::<Result<_>>()?;
    println!(
        "{:<6} {:>7} {:>10} {:>10}",
        "lang", "texts", "whatlang", "lid.176"
    );
    let (mut totals, mut n) = ([0usize; 2], 0usize);
    for (lang, &(_, count)) in &results[0] {
        let acc: Vec<f64> = results
            .iter()
            .map(|r| r[lang].0 as f64 / count.max(1) as f64)
            .collect();
        println!("{lang:<6} {count:>7} {:>10.3} {:>10.3}", acc[0], acc[1]);
        totals[0] += results[0][lang].0;
        totals[1] += results[1][lang].0;
        n += count;
    }
    println!(
        "{:<6} {n:>7} {:>10.3} {:>10.3}",
        "all",
        totals[0] as f64 / n.max(1) as f64,
        totals[1] as f64 / n.max(1) as f64
    );
    // English recall on benchmark texts of 200+ characters whose page declares itself
    // English (`<html lang="en...">`): the benchmarks mix languages and carry no labels.
    let mut texts = Vec::new();
    for name in extraction::BENCHMARKS {
        for page in extraction::load(name, &a.data)? {
            if langid::declared_lang(&page.html).is_some_and(|l| l == "en" || l.starts_with("en-"))
            {
                texts.push(page.gold);
            }
        }
    }
    for id in &identifiers {
        let (en, total, misses) = langid::english_recall(id, &texts, 200);
        if a.show_misses {
            for m in &misses {
                println!("    miss ({}): {m}", id.name());
            }
        }
        println!(
            "English recall ({}, gold texts of 200+ chars of pages declared lang=en): {en}/{total} = {:.4}",
            id.name(),
            en as f64 / total.max(1) as f64
        );
    }
    Ok(Outcome::Ok)
}

fn eval_extract(a: EvalExtractArgs) -> Result<Outcome> {
    let names: Vec<&str> = if a.benchmark == "all" {
        extraction::BENCHMARKS.to_vec()
    } else {
        vec![a.benchmark.as_str()]
    };
    println!(
        "{:<24} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "benchmark", "pages", "precision", "recall", "F1", "pages/s"
    );
    for name in names {
        let pages = extraction::load(name, &a.data)?;
        let s = extraction::score(&pages);
        println!(
            "{:<24} {:>6} {:>9.3} {:>9.3} {:>9.3} {:>9.0}",
            name,
            s.pages,
            s.precision,
            s.recall,
            s.f1,
            s.pages as f64 / s.seconds.max(1e-9)
        );
        for (id, p, r, f) in s.per_page.iter().take(a.worst) {
            println!("    worst: {id:<40} P {p:.3} R {r:.3} F1 {f:.3}");
        }
    }
    Ok(Outcome::Ok)
}
