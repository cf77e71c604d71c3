//! Language-ID accuracy: per language on the lingua test sentences, and English recall on
//! the English texts of the extraction benchmarks.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use rayon::prelude::*;

use crate::stages::langid::Identifier;

/// Accuracy per language (ISO 639-1 file names of `lingua-testdata/sentences/`).
pub fn sentence_accuracy(
    identifier: &Identifier,
    data: &Path,
) -> Result<BTreeMap<String, (usize, usize)>> {
    let dir = data.join("langid/lingua-testdata/sentences");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let mut out = BTreeMap::new();
    for f in files {
        let mut lang = f.file_stem().unwrap().to_string_lossy().into_owned();
        if lang == "nb" {
            // Bokmål: both identifiers label it with the macrolanguage code `no`.
            lang = "no".into();
        }
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
