//! The `c4-badwords` stage: drops documents containing a word of a bad-word list, as C4 did with
//! the "List of Dirty, Naughty, Obscene or Otherwise Bad Words" (LDNOOBW) and as datatrove
//! 0.10.1's `C4BadWordsFilter` does. sieve ships no list: datatrove fetches LDNOOBW's files
//! (<https://github.com/LDNOOBW/List-of-Dirty-Naughty-Obscene-and-Otherwise-Bad-Words>, `en` at
//! commit 25e679f0, the others at 5faf2ba4); give them as `word_lists = ["en=PATH", ...]`.
//!
//! - A document's language is its `lang` (the langid stage's), else `default_language`.
//! - The text, lower-cased, matches when a listed word occurs between non-word characters
//!   (Python's `\W`) or the text's ends; for Japanese, Thai and Chinese, anywhere.
//! - As in datatrove, `sm`, `グロ`, `女の子` and `性` are taken out of every list (common
//!   sub-words in languages without spaces), and blank lines are skipped.
//! - A match drops the document (`document_removed_with_badwords`), unless `keep_fraction` keeps
//!   it: a draw from the document's id and `seed` (the same on every run, unlike datatrove's
//!   draws from one random stream).
//! - A language without a list is an error for that document (`stage_error`), or kept with
//!   `fail_on_missing_language = false`.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use clap::ArgAction;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::doc::Document;
use crate::pipeline::stage::{Emit, Stage};
use crate::text::spacy_en::classes::py_non_word_class;

pub const REASONS: &[&str] = &["document_removed_with_badwords"];

/// Words taken out of every list (datatrove's allow list).
const ALLOWED: &[&str] = &["sm", "グロ", "女の子", "性"];

/// The bad-words filter's settings (datatrove 0.10.1's defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct C4BadwordsOptions {
    /// Word lists by language, as LANG=FILE (one word or phrase per line).
    #[arg(long = "word-list", value_name = "LANG=FILE")]
    pub word_lists: Vec<String>,
    /// Share of matching documents kept anyway (0 drops them all).
    #[arg(long, default_value_t = C4BadwordsOptions::default().keep_fraction)]
    pub keep_fraction: f64,
    /// Seed of the keep draws.
    #[arg(long, default_value_t = C4BadwordsOptions::default().seed)]
    pub seed: u64,
    /// The language of documents without `lang`.
    #[arg(long, default_value_t = C4BadwordsOptions::default().default_language)]
    pub default_language: String,
    /// A document in a language without a list is an error; `--keep-missing-language` keeps it.
    #[arg(long = "keep-missing-language", action = ArgAction::SetFalse,
          default_value_t = C4BadwordsOptions::default().fail_on_missing_language)]
    pub fail_on_missing_language: bool,
}

impl Default for C4BadwordsOptions {
    fn default() -> Self {
        C4BadwordsOptions {
            word_lists: Vec::new(),
            keep_fraction: 0.0,
            seed: 0,
            default_language: "en".into(),
            fail_on_missing_language: true,
        }
    }
}

/// The pattern of one language's list.
fn pattern(lang: &str, path: &Path) -> Result<Regex> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the {lang} word list {}", path.display()))?;
    let mut words: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|w| !w.is_empty() && !ALLOWED.contains(w))
        .collect();
    if words.is_empty() {
        bail!("{}: the {lang} word list has no words", path.display());
    }
    words.sort_unstable();
    words.dedup();
    let alternation = words
        .iter()
        .map(|w| regex::escape(w))
        .collect::<Vec<_>>()
        .join("|");
    let rx = if matches!(lang, "ja" | "th" | "zh") {
        alternation
    } else {
        let nw = py_non_word_class();
        format!("(?:{nw}|^)(?:{alternation})(?:{nw}|$)")
    };
    regex::RegexBuilder::new(&rx)
        .size_limit(1 << 28)
        .build()
        .with_context(|| format!("{}: building the {lang} word pattern", path.display()))
}

pub struct C4BadwordsStage {
    o: C4BadwordsOptions,
    patterns: HashMap<String, Regex>,
}

impl C4BadwordsStage {
    pub fn new(o: C4BadwordsOptions) -> Result<Self> {
        let mut patterns = HashMap::new();
        for entry in &o.word_lists {
            let Some((lang, path)) = entry.split_once('=') else {
                bail!("c4-badwords: word list `{entry}` is not LANG=FILE");
            };
            patterns.insert(lang.to_string(), pattern(lang, Path::new(path))?);
        }
        if !(0.0..=1.0).contains(&o.keep_fraction) {
            bail!(
                "c4-badwords: keep_fraction {} is not between 0 and 1",
                o.keep_fraction
            );
        }
        Ok(C4BadwordsStage { o, patterns })
    }

    pub fn from_table(table: &toml::Table) -> Result<Box<dyn Stage>> {
        let o = crate::pipeline::spec::stage_options("c4-badwords", table)?;
        Ok(Box::new(C4BadwordsStage::new(o)?))
    }

    /// A uniform draw in [0, 1) from the document's id and the seed.
    fn draw(&self, id: &str) -> f64 {
        let h = xxhash_rust::xxh3::xxh3_64_with_seed(id.as_bytes(), self.o.seed);
        (h >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Stage for C4BadwordsStage {
    fn name(&self) -> &'static str {
        "c4-badwords"
    }

    fn process(&mut self, doc: Document, out: &mut Emit) -> Result<()> {
        let lang = doc
            .lang
            .clone()
            .unwrap_or_else(|| self.o.default_language.clone());
        let Some(rx) = self.patterns.get(&lang) else {
            if self.o.fail_on_missing_language {
                bail!("c4-badwords: no word list for language `{lang}` (give one as --word-list {lang}=FILE, or --keep-missing-language)");
            }
            out.tally("c4_badwords", "missing_language");
            out.keep(doc);
            return Ok(());
        };
        if rx.is_match(&doc.text.to_lowercase()) {
            if self.o.keep_fraction > 0.0 && self.draw(&doc.id) < self.o.keep_fraction {
                out.tally("c4_badwords", "kept_with_badwords");
                out.keep(doc);
            } else {
                out.drop(doc, "document_removed_with_badwords");
            }
        } else {
            out.keep(doc);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_match_between_python_non_word_characters() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("en");
        std::fs::write(&list, "darn\nheck\ngood grief\nsm\n\n").unwrap();
        let mut stage = C4BadwordsStage::new(C4BadwordsOptions {
            word_lists: vec![format!("en={}", list.display())],
            ..Default::default()
        })
        .unwrap();
        let verdict = |stage: &mut C4BadwordsStage, text: &str| {
            let mut e = Emit::default();
            let doc = Document {
                id: "d/1".into(),
                text: text.into(),
                ..Default::default()
            };
            stage.process(doc, &mut e).unwrap();
            e.dropped.first().map(|d| d.1)
        };
        let drop = Some("document_removed_with_badwords");
        for (text, want) in [
            ("Darn, it broke.", drop),
            ("GOOD GRIEF.", drop),
            ("darned", None),
            ("x_heck", None), // `_` is a word character
            ("Good  grief", None),
            ("an sm size", None), // allowed everywhere
            ("heck", drop),
        ] {
            assert_eq!(verdict(&mut stage, text), want, "{text:?}");
        }
        // A language without a list is an error for the document.
        let mut e = Emit::default();
        let doc = Document {
            lang: Some("fr".into()),
            text: "zut".into(),
            ..Default::default()
        };
        assert!(stage.process(doc, &mut e).is_err());
    }

    /// `keep_fraction` keeps a matching document when the xxh3 draw of (its id, `seed`) is
    /// under it; the draws here are computed apart from the stage. Another seed keeps other
    /// documents; `keep_missing_language` keeps a document whose language has no list.
    #[test]
    fn keep_fraction_seed_and_missing_languages() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("en");
        std::fs::write(&list, "heck\n").unwrap();
        let kept_ids = |keep_fraction: f64, seed: u64| {
            let mut stage = C4BadwordsStage::new(C4BadwordsOptions {
                word_lists: vec![format!("en={}", list.display())],
                keep_fraction,
                seed,
                ..Default::default()
            })
            .unwrap();
            let mut e = Emit::default();
            for i in 0..400 {
                let doc = Document {
                    id: format!("d/{i}"),
                    text: "oh heck".into(),
                    ..Default::default()
                };
                stage.process(doc, &mut e).unwrap();
            }
            e.kept.iter().map(|d| d.id.clone()).collect::<Vec<_>>()
        };
        let expected = |keep_fraction: f64, seed: u64| {
            (0..400)
                .map(|i| format!("d/{i}"))
                .filter(|id| {
                    let h = xxhash_rust::xxh3::xxh3_64_with_seed(id.as_bytes(), seed);
                    ((h >> 11) as f64) < keep_fraction * 2f64.powi(53)
                })
                .collect::<Vec<_>>()
        };
        let (a, b) = (kept_ids(0.25, 1), kept_ids(0.25, 2));
        assert_eq!(a, expected(0.25, 1));
        assert_eq!(b, expected(0.25, 2));
        assert_ne!(a, b);
        assert!((70..130).contains(&a.len()), "{}", a.len());
        assert!(kept_ids(0.0, 1).is_empty());

        let mut lenient = C4BadwordsStage::new(C4BadwordsOptions {
            word_lists: vec![format!("en={}", list.display())],
            default_language: "de".into(),
            fail_on_missing_language: false,
            ..Default::default()
        })
        .unwrap();
        let mut e = Emit::default();
        let doc = Document {
            text: "heck".into(),
            ..Default::default()
        };
        lenient.process(doc, &mut e).unwrap();
        assert_eq!(
            e.kept.len(),
            1,
            "a document taken as German has no list: kept"
        );
        assert_eq!(
            e.tallies,
            vec![("c4_badwords", "missing_language".to_string())]
        );
    }
}
