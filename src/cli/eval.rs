//! `sieve eval`: score sieve's components against labelled data in `../shared/data/`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use super::Outcome;
use crate::eval::{extraction, langid};
use crate::stages::langid::{Backend, Identifier};

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub what: EvalCommand,
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Word-level precision/recall/F1 of `extract` on the HTML extraction benchmarks.
    Extract(EvalExtractArgs),
    /// Accuracy of whatlang, cld2 and a fastText model on sentences and paragraphs, docs/s,
    /// and English precision and recall.
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
    pub options: crate::dedup::config::DedupOptions,
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
    /// fastText model to compare with cld2 and whatlang (default: lid.176 in the shared data).
    #[arg(long)]
    pub lid_model: Option<PathBuf>,
    /// Print the English texts that were not labelled English.
    #[arg(long)]
    pub show_misses: bool,
    /// Also write the paragraph scores of each backend as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
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
    /// Explain one page of --benchmark (its id, as --worst lists it): each block and the
    /// rule that kept or dropped it, then the page's scores.
    #[arg(long, value_name = "PAGE_ID")]
    pub explain: Option<String>,
    /// Also charge each extraction rule with the gold words it dropped and the noise words
    /// it kept, summed over each benchmark (where recall and precision are lost).
    #[arg(long)]
    pub by_rule: bool,
    /// Also write every page's extraction (text, title, method, `<html lang>` and word F1, or
    /// the reason it failed) here as JSON lines, to compare two builds of the extractor page by page.
    #[arg(long, value_name = "PATH")]
    pub dump: Option<PathBuf>,
}

pub fn run(a: EvalArgs) -> Result<Outcome> {
    match a.what {
        EvalCommand::Extract(e) => eval_extract(e),
        EvalCommand::Langid(e) => eval_langid(e),
        EvalCommand::Dedup(e) => eval_dedup(e),
    }
}

fn eval_dedup(a: EvalDedupArgs) -> Result<Outcome> {
    // The labelled set is one dataset scored on its own: a priority list, earlier runs'
    // indexes and an index to write describe a production run, and would be ignored here.
    let o = &a.options;
    for (given, flag) in [
        (!o.priority.is_empty(), "--priority"),
        (!o.against.is_empty(), "--against"),
        (o.write_index.is_some(), "--write-index"),
    ] {
        if given {
            anyhow::bail!("sieve eval dedup scores one labelled dataset by itself: {flag} does not apply (it is a `sieve dedup` option)");
        }
    }
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
        vec![a.options.shingle.unwrap_or(a.options.preset.shingling())]
    } else {
        a.compare_shingles.clone()
    };
    for shingling in &shinglings {
        let mut settings = a.options.clone();
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
    let model_name = model
        .file_name()
        .map_or("fasttext".into(), |n| n.to_string_lossy().into_owned());
    let identifiers = [
        (
            "whatlang".to_string(),
            Identifier::new(Backend::Whatlang, None)?,
        ),
        ("cld2".to_string(), Identifier::new(Backend::Cld2, None)?),
        (
            model_name,
            Identifier::new(Backend::default(), Some(&model))?,
        ),
    ];
    let names: Vec<&str> = identifiers.iter().map(|(n, _)| n.as_str()).collect();

    // Single sentences, per language.
    let results: Vec<_> = identifiers
        .iter()
        .map(|(_, id)| langid::sentence_accuracy(id, &a.data))
        .collect::<Result<_>>()?;
    println!("sentences (lingua test data), accuracy per language:");
    print!("{:<6} {:>7}", "lang", "texts");
    for n in &names {
        print!(" {n:>14}");
    }
    println!();
    let mut totals = vec![0usize; identifiers.len()];
    let mut n = 0usize;
    for (lang, &(_, count)) in &results[0] {
        print!("{lang:<6} {count:>7}");
        for (k, r) in results.iter().enumerate() {
            print!(" {:>14.3}", r[lang].0 as f64 / count.max(1) as f64);
            totals[k] += r[lang].0;
        }
        println!();
        n += count;
    }
    print!("{:<6} {n:>7}", "all");
    for t in &totals {
        print!(" {:>14.3}", *t as f64 / n.max(1) as f64);
    }
    println!("\n");

    // Paragraphs of 3-5 sentences, one thread per identifier run, so docs/s is per core.
    let set = langid::paragraphs(&a.data)?;
    let scores: Vec<langid::SetScores> = identifiers
        .iter()
        .map(|(name, id)| {
            let mut s = langid::score_set(id, &set);
            s.backend = name.clone();
            s
        })
        .collect();
    println!(
        "paragraphs of 3-5 sentences ({} texts, {} languages), one core:",
        set.len(),
        scores[0].per_language.len()
    );
    println!(
        "{:<16} {:>9} {:>9} {:>10} {:>12} {:>10} {:>12}",
        "backend", "accuracy", "macro", "docs/s", "en precision", "en recall", "calibration"
    );
    for s in &scores {
        println!(
            "{:<16} {:>9.4} {:>9.4} {:>10.0} {:>12.4} {:>10.4} {:>12.4}",
            s.backend,
            s.accuracy,
            s.macro_accuracy,
            s.docs_per_second,
            s.english_precision,
            s.english_recall,
            s.calibration_error
        );
    }
    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_vec_pretty(&scores)?)?;
    }
    println!();

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
    for (name, id) in &identifiers {
        let (en, total, misses) = langid::english_recall(id, &texts, 200);
        if a.show_misses {
            for m in &misses {
                println!("    miss ({name}): {m}");
            }
        }
        println!(
            "English recall ({name}, gold texts of 200+ chars of pages declared lang=en): {en}/{total} = {:.4}",
            en as f64 / total.max(1) as f64
        );
    }
    Ok(Outcome::Ok)
}

fn eval_extract(a: EvalExtractArgs) -> Result<Outcome> {
    if let Some(id) = &a.explain {
        let pages = extraction::load(&a.benchmark, &a.data)?;
        let page = pages
            .iter()
            .find(|p| &p.id == id)
            .ok_or_else(|| anyhow::anyhow!("{}: no page with id `{id}`", a.benchmark))?;
        let dom = crate::stages::extract::dom::Dom::parse(&page.html, 3000, 1_000_000)
            .map_err(|e| anyhow::anyhow!("{id}: the page cannot be parsed: {e:?}"))?;
        let e = crate::stages::extract::explain::explain(&dom);
        print!("{}", crate::stages::extract::explain::render(&e));
        let text = crate::stages::extract::extractor::extract(&dom).text;
        let (p, r, f) = extraction::word_f1(&text, &page.gold);
        println!("page {id}: precision {p:.3} recall {r:.3} F1 {f:.3}");
        return Ok(Outcome::Ok);
    }
    let names: Vec<&str> = if a.benchmark == "all" {
        extraction::BENCHMARKS.to_vec()
    } else {
        vec![a.benchmark.as_str()]
    };
    println!(
        "{:<24} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "benchmark", "pages", "precision", "recall", "F1", "pages/s"
    );
    let mut dump = match &a.dump {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => None,
    };
    for name in names {
        let pages = extraction::load(name, &a.data)?;
        if let Some(out) = dump.as_mut() {
            extraction::dump(name, &pages, out)?;
        }
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
        if a.by_rule {
            let (rows, gold_n, out_n) = crate::eval::extraction_rules::losses(&pages);
            println!(
                "    {:>13} {:>13}  rule ({gold_n} gold words, {out_n} output words)",
                "gold dropped", "noise kept"
            );
            let share = |n: u64, of: u64| 100.0 * n as f64 / of.max(1) as f64;
            for r in rows.iter().take(15) {
                println!(
                    "    {:>12.1}% {:>12.1}%  {}",
                    share(r.gold_dropped, gold_n),
                    share(r.noise_kept, out_n),
                    r.rule
                );
            }
        }
    }
    Ok(Outcome::Ok)
}
