//! The `gopher-quality` stage: the document rules of Gopher's MassiveText quality filter (Rae
//! et al. 2021, "Scaling Language Models", appendix A.1.1), as datatrove 0.10.1 implements them
//! (`GopherQualityFilter`). Checks run in this order; the first that fails names the reason.
//!
//! | # | rule (datatrove default) | reason |
//! |---|---|---|
//! | 1 | fewer than 50 non-symbol words | `gopher_short_doc` |
//! | 2 | more than 100,000 non-symbol words | `gopher_long_doc` |
//! | 3 | mean non-symbol word length below 3 characters | `gopher_below_avg_threshold` |
//! | 4 | mean non-symbol word length above 10 | `gopher_above_avg_threshold` |
//! | 5 | `#` characters per word above 0.1 | `gopher_too_many_hashes` |
//! | 6 | `...` and `…` per word above 0.1 | `gopher_too_many_ellipsis` |
//! | 7 | more than 90% of lines start with `•` or `-` | `gopher_too_many_bullets` |
//! | 8 | more than 30% of lines end with `...` or `…` | `gopher_too_many_end_ellipsis` |
//! | 9 | fewer than 80% of words contain a letter | `gopher_below_alpha_threshold` |
//! | 10 | fewer than 2 distinct stop words (`the be to of and that have with`) | `gopher_enough_stop_words` |
//!
//! "Words" are datatrove's: spaCy tokens, punctuation marks included; "non-symbol words" have
//! a character outside datatrove's punctuation set. A threshold of 0 turns its rule off.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::charsets::is_punctuation;
use super::view::{chars, count, with_words, WordSplit};
use crate::doc::Document;
use crate::pipeline::stage::{Emit, Stage};
use crate::text::spacy_en::classes::{py_alpha, py_space, py_splitlines};

/// Drop reasons, in the order the rules run.
pub const REASONS: &[&str] = &[
    "gopher_short_doc",
    "gopher_long_doc",
    "gopher_below_avg_threshold",
    "gopher_above_avg_threshold",
    "gopher_too_many_hashes",
    "gopher_too_many_ellipsis",
    "gopher_too_many_bullets",
    "gopher_too_many_end_ellipsis",
    "gopher_below_alpha_threshold",
    "gopher_enough_stop_words",
];

/// The Gopher quality filter's settings (datatrove 0.10.1's defaults, which are the paper's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct GopherQualityOptions {
    /// Drop documents with fewer non-symbol words (`gopher_short_doc`); 0 disables.
    #[arg(long, default_value_t = GopherQualityOptions::default().min_doc_words)]
    pub min_doc_words: usize,
    /// Drop documents with more non-symbol words (`gopher_long_doc`); 0 disables.
    #[arg(long, default_value_t = GopherQualityOptions::default().max_doc_words)]
    pub max_doc_words: usize,
    /// Lowest mean length of non-symbol words, in characters; 0 disables.
    #[arg(long, default_value_t = GopherQualityOptions::default().min_avg_word_length)]
    pub min_avg_word_length: f64,
    /// Highest mean length of non-symbol words; 0 disables.
    #[arg(long, default_value_t = GopherQualityOptions::default().max_avg_word_length)]
    pub max_avg_word_length: f64,
    /// Highest ratio of `#` characters, and of ellipses, to words; 0 disables.
    #[arg(long, default_value_t = GopherQualityOptions::default().max_symbol_word_ratio)]
    pub max_symbol_word_ratio: f64,
    /// Highest share of lines starting with a bullet (`•` or `-`); 0 disables.
    #[arg(long, default_value_t = GopherQualityOptions::default().max_bullet_lines_ratio)]
    pub max_bullet_lines_ratio: f64,
    /// Highest share of lines ending with an ellipsis; 0 disables.
    #[arg(long, default_value_t = GopherQualityOptions::default().max_ellipsis_lines_ratio)]
    pub max_ellipsis_lines_ratio: f64,
    /// Lowest share of words containing a letter (datatrove's name; it is a minimum); 0
    /// disables.
    #[arg(long, default_value_t = GopherQualityOptions::default().max_non_alpha_words_ratio)]
    pub max_non_alpha_words_ratio: f64,
    /// Fewest distinct stop words a document must contain; 0 disables.
    #[arg(long, default_value_t = GopherQualityOptions::default().min_stop_words)]
    pub min_stop_words: usize,
    /// The stop words (case-sensitive, matched as whole words).
    #[arg(long, value_delimiter = ',', default_values_t = GopherQualityOptions::default().stop_words)]
    pub stop_words: Vec<String>,
    /// How words are split: `spacy` (datatrove) or `whitespace` (the paper's words).
    #[arg(long, value_enum, default_value_t = GopherQualityOptions::default().words)]
    pub words: WordSplit,
}

impl Default for GopherQualityOptions {
    fn default() -> Self {
        GopherQualityOptions {
            min_doc_words: 50,
            max_doc_words: 100_000,
            min_avg_word_length: 3.0,
            max_avg_word_length: 10.0,
            max_symbol_word_ratio: 0.1,
            max_bullet_lines_ratio: 0.9,
            max_ellipsis_lines_ratio: 0.3,
            max_non_alpha_words_ratio: 0.8,
            min_stop_words: 2,
            stop_words: ["the", "be", "to", "of", "and", "that", "have", "with"]
                .map(String::from)
                .to_vec(),
            words: WordSplit::Spacy,
        }
    }
}

pub struct GopherQualityStage {
    o: GopherQualityOptions,
    stop_words: std::collections::HashSet<String>,
}

impl GopherQualityStage {
    pub fn new(o: GopherQualityOptions) -> Self {
        let stop_words = o.stop_words.iter().cloned().collect();
        GopherQualityStage { o, stop_words }
    }

    pub fn from_table(table: &toml::Table) -> Result<Box<dyn Stage>> {
        let o = crate::pipeline::spec::stage_options("gopher-quality", table)?;
        Ok(Box::new(GopherQualityStage::new(o)))
    }

    /// The rule `text` breaks, if any.
    pub fn verdict(&self, text: &str) -> Option<&'static str> {
        let o = &self.o;
        with_words(text, o.words, |ranges| {
            let n_words = ranges.len() as f64;
            let words = || ranges.iter().map(|&(a, b)| &text[a..b]);
            let (mut n_plain, mut plain_chars) = (0usize, 0usize);
            for w in words().filter(|w| w.chars().any(|c| !is_punctuation(c))) {
                n_plain += 1;
                plain_chars += chars(w);
            }
            if o.min_doc_words > 0 && n_plain < o.min_doc_words {
                return Some("gopher_short_doc");
            }
            if o.max_doc_words > 0 && n_plain > o.max_doc_words {
                return Some("gopher_long_doc");
            }
            // numpy's mean of an empty list is NaN, and NaN fails both comparisons.
            let mean = plain_chars as f64 / n_plain as f64;
            if o.min_avg_word_length > 0.0 && mean < o.min_avg_word_length {
                return Some("gopher_below_avg_threshold");
            }
            if o.max_avg_word_length > 0.0 && mean > o.max_avg_word_length {
                return Some("gopher_above_avg_threshold");
            }
            if o.max_symbol_word_ratio > 0.0 {
                if count(text, "#") as f64 / n_words > o.max_symbol_word_ratio {
                    return Some("gopher_too_many_hashes");
                }
                let ellipses = count(text, "...") + count(text, "…");
                if ellipses as f64 / n_words > o.max_symbol_word_ratio {
                    return Some("gopher_too_many_ellipsis");
                }
            }
            let lines = py_splitlines(text);
            let n_lines = lines.len() as f64;
            if o.max_bullet_lines_ratio > 0.0 {
                let bullets = lines
                    .iter()
                    .filter(|l| {
                        let l = l.trim_start_matches(py_space);
                        l.starts_with('•') || l.starts_with('-')
                    })
                    .count();
                if bullets as f64 / n_lines > o.max_bullet_lines_ratio {
                    return Some("gopher_too_many_bullets");
                }
            }
            if o.max_ellipsis_lines_ratio > 0.0 {
                let trailing = lines
                    .iter()
                    .filter(|l| {
                        let l = l.trim_end_matches(py_space);
                        l.ends_with("...") || l.ends_with('…')
                    })
                    .count();
                if trailing as f64 / n_lines > o.max_ellipsis_lines_ratio {
                    return Some("gopher_too_many_end_ellipsis");
                }
            }
            if o.max_non_alpha_words_ratio > 0.0 {
                let alpha = words().filter(|w| w.chars().any(py_alpha)).count();
                if (alpha as f64 / n_words) < o.max_non_alpha_words_ratio {
                    return Some("gopher_below_alpha_threshold");
                }
            }
            if o.min_stop_words > 0 {
                // Distinct stop words present (datatrove intersects sets).
                let mut found: Vec<&str> =
                    words().filter(|w| self.stop_words.contains(*w)).collect();
                found.sort_unstable();
                found.dedup();
                if found.len() < o.min_stop_words {
                    return Some("gopher_enough_stop_words");
                }
            }
            None
        })
    }
}

impl Stage for GopherQualityStage {
    fn name(&self) -> &'static str {
        "gopher-quality"
    }

    fn process(&mut self, doc: Document, out: &mut Emit) -> Result<()> {
        match self.verdict(&doc.text) {
            Some(reason) => out.drop(doc, reason),
            None => out.keep(doc),
        }
        Ok(())
    }
}
