//! Language-ID accuracy: per language on the lingua test sentences, and English recall on
//! the English texts of the extraction benchmarks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rayon::prelude::*;

use crate::stages::langid::Identifier;

/// The lingua test sentence files, sorted, each with its language: the ISO 639-1 file name,
/// Bokmål `nb` as its macrolanguage `no` (as every identifier labels it).
fn sentence_files(data: &Path) -> Result<Vec<(String, PathBuf)>> {
    let dir = data.join("langid/lingua-testdata/sentences");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    Ok(files
        .into_iter()
        .map(|f| {
            let stem = f.file_stem().unwrap().to_string_lossy().into_owned();
            let lang = if stem == "nb" { "no".to_string() } else { stem };
            (lang, f)
        })
        .collect())
}

/// Accuracy per language (ISO 639-1 file names of `lingua-testdata/sentences/`).
pub fn sentence_accuracy(
    identifier: &Identifier,
    data: &Path,
) -> Result<BTreeMap<String, (usize, usize)>> {
    let mut out = BTreeMap::new();
    for (lang, f) in sentence_files(data)? {
        let text = std::fs::read_to_string(&f)?;
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let correct = lines
            .par_iter()
            .filter(|l| identifier.identify(l).is_some_and(|g| g.lang == lang))
            .count();
        out.insert(lang, (correct, lines.len()));
    }
    Ok(out)
}

/// A text of known language for the paragraph test.
pub struct Labelled {
    pub lang: String,
    pub text: String,
}

/// The paragraph test set: the lingua sentences of each language joined into paragraphs of
/// 3, 4, 5, 3, … consecutive sentences (every sentence used once, a short remainder dropped),
/// plus each whatlang example as one paragraph. Labels are ISO 639-1 where one exists, as
/// every sieve identifier reports them (Bokmål `nb` as its macrolanguage `no`).
pub fn paragraphs(data: &Path) -> Result<Vec<Labelled>> {
    let mut out = Vec::new();
    for (lang, f) in sentence_files(data)? {
        let text = std::fs::read_to_string(&f).with_context(|| format!("{}", f.display()))?;
        let sentences: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let mut at = 0;
        for size in [3, 4, 5].into_iter().cycle() {
            if at + size > sentences.len() {
                break;
            }
            out.push(Labelled {
                lang: lang.clone(),
                text: sentences[at..at + size].join(" "),
            });
            at += size;
        }
    }
    let path = data.join("langid/whatlang-examples/examples.json");
    let examples: BTreeMap<String, String> = serde_json::from_slice(
        &std::fs::read(&path).with_context(|| format!("{}", path.display()))?,
    )
    .with_context(|| format!("{}", path.display()))?;
    for (code, text) in examples {
        out.push(Labelled {
            lang: crate::stages::langid::iso639_1(&code).to_string(),
            text,
        });
    }
    Ok(out)
}

/// One identifier's results on a labelled set.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SetScores {
    pub backend: String,
    pub texts: usize,
    /// Share of texts labelled correctly.
    pub accuracy: f64,
    /// Mean over languages of each language's accuracy.
    pub macro_accuracy: f64,
    /// Texts per CPU second on one thread.
    pub docs_per_second: f64,
    pub english_precision: f64,
    pub english_recall: f64,
    /// Expected calibration error of `lang_score`: over ten equal-width score bins, the
    /// text-weighted mean gap between the bin's mean score and its accuracy (0 is a score
    /// that is the probability of being right).
    pub calibration_error: f64,
    /// Accuracy per language.
    pub per_language: BTreeMap<String, f64>,
}

/// Labels every text with `identifier` on this thread (so that the rate is per core) and
/// scores the labels.
pub fn score_set(identifier: &Identifier, set: &[Labelled]) -> SetScores {
    let start = crate::pipeline::timing::process_cpu_seconds();
    let guesses: Vec<Option<crate::stages::langid::Guess>> =
        set.iter().map(|t| identifier.identify(&t.text)).collect();
    let seconds = crate::pipeline::timing::process_cpu_seconds() - start;
    let mut per_language: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let (mut correct, mut en_said, mut en_right, mut en_true) = (0, 0, 0, 0);
    // Per score bin: texts, summed score, right answers (no answer scores 0).
    let mut bins = [(0usize, 0.0f64, 0usize); 10];
    for (t, g) in set.iter().zip(&guesses) {
        let score = g.as_ref().map_or(0.0, |g| g.score as f64);
        let g = g.as_ref().map(|g| g.lang.as_str());
        let right = g == Some(t.lang.as_str());
        let bin = &mut bins[((score * 10.0) as usize).min(9)];
        bin.0 += 1;
        bin.1 += score;
        bin.2 += right as usize;
        let e = per_language.entry(t.lang.clone()).or_default();
        e.1 += 1;
        if right {
            e.0 += 1;
            correct += 1;
        }
        let said_en = g == Some("en");
        en_said += said_en as usize;
        en_true += (t.lang == "en") as usize;
        en_right += (said_en && t.lang == "en") as usize;
    }
    let ratio = |a: usize, b: usize| a as f64 / b.max(1) as f64;
    let per_language: BTreeMap<String, f64> = per_language
        .into_iter()
        .map(|(l, (c, n))| (l, ratio(c, n)))
        .collect();
    SetScores {
        backend: identifier.name().to_string(),
        texts: set.len(),
        accuracy: ratio(correct, set.len()),
        macro_accuracy: per_language.values().sum::<f64>() / per_language.len().max(1) as f64,
        docs_per_second: set.len() as f64 / seconds.max(1e-9),
        english_precision: ratio(en_right, en_said),
        english_recall: ratio(en_right, en_true),
        calibration_error: bins
            .iter()
            .filter(|b| b.0 > 0)
            .map(|&(n, sum, right)| n as f64 * (sum / n as f64 - right as f64 / n as f64).abs())
            .sum::<f64>()
            / set.len().max(1) as f64,
        per_language,
    }
}

/// Texts of at least `min_chars` labelled English, the number of such texts, and the misses
/// (label and the start of the text).
pub fn english_recall(
    identifier: &Identifier,
    texts: &[String],
    min_chars: usize,
) -> (usize, usize, Vec<String>) {
    let long: Vec<&String> = texts
        .iter()
        .filter(|t| t.chars().count() >= min_chars)
        .collect();
    let misses: Vec<String> = long
        .par_iter()
        .filter_map(|t| {
            let guess = identifier.identify(t);
            match guess {
                Some(g) if g.lang == "en" => None,
                other => {
                    let label =
                        other.map_or("none".to_string(), |g| format!("{} {:.2}", g.lang, g.score));
                    let start: String = t
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                        .chars()
                        .take(100)
                        .collect();
                    Some(format!("{label}: {start}"))
                }
            }
        })
        .collect();
    (long.len() - misses.len(), long.len(), misses)
}

/// The lowercase `lang` attribute of a page's `<html>` tag.
pub fn declared_lang(html: &str) -> Option<String> {
    let head = &html.as_bytes()[..html.len().min(8192)];
    let lower = head.to_ascii_lowercase();
    let tag_start = memchr::memmem::find(&lower, b"<html")?;
    let tag_end = tag_start + memchr::memchr(b'>', &lower[tag_start..])?;
    let tag = &lower[tag_start..tag_end];
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&tag[from..], b"lang") {
        let at = from + i;
        from = at + 4;
        // `lang=`, not `xml:lang` (the same value in practice) nor `data-lang`.
        if at > 0 && !matches!(tag[at - 1], b' ' | b'\t' | b'\n' | b'\r' | b':') {
            continue;
        }
        let rest = &tag[at + 4..];
        let rest = rest.strip_prefix(b"=")?;
        let value: Vec<u8> = rest
            .iter()
            .skip_while(|b| **b == b'"' || **b == b'\'')
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-' || **b == b'_')
            .copied()
            .collect();
        return (!value.is_empty()).then(|| String::from_utf8_lossy(&value).into_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::declared_lang;

    #[test]
    fn reads_the_html_lang_attribute() {
        assert_eq!(
            declared_lang("<!doctype html><HTML class=x LANG=\"en-US\">").as_deref(),
            Some("en-us")
        );
        assert_eq!(
            declared_lang("<html data-lang='de' xml:lang='fr'>").as_deref(),
            Some("fr")
        );
        assert_eq!(declared_lang("<html><body lang=en>"), None);
    }
}
