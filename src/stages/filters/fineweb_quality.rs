//! The `fineweb-quality` stage: the three rules FineWeb added to the Gopher and C4 filters
//! (Penedo et al. 2024, §3.3 and appendix), as datatrove 0.10.1's `FineWebQualityFilter`
//! computes them. Lines are the text split at `\n`, without blank ones; in order:
//!
//! | rule (default) | reason |
//! |---|---|
//! | no non-blank line | `empty` |
//! | share of lines ending in terminal punctuation below 0.12 | `line_punct_ratio` |
//! | share of lines of at most 30 characters above 0.67 | `short_line_ratio` |
//! | characters of duplicate lines / characters other than `\n` above 0.01 | `char_dup_ratio` |
//! | newlines per word above 0.3 | `list_ratio` |
//!
//! Terminal punctuation is datatrove's 159-character set; words are spaCy tokens.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::charsets::is_terminal;
use super::gopher_repetition::find_duplicates;
use super::view::{chars, with_words, WordSplit};
use crate::doc::Document;
use crate::pipeline::stage::{Emit, Stage};
use crate::text::spacy_en::classes::py_space;

/// Drop reasons, in the order the rules run.
pub const REASONS: &[&str] = &[
    "empty",
    "line_punct_ratio",
    "short_line_ratio",
    "char_dup_ratio",
    "list_ratio",
];

/// The FineWeb quality filter's settings (datatrove 0.10.1's defaults, FineWeb's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct FinewebQualityOptions {
    /// Drop documents whose share of lines ending in terminal punctuation is lower.
    #[arg(long, default_value_t = FinewebQualityOptions::default().line_punct_thr)]
    pub line_punct_thr: f64,
    /// Keep documents with no punctuated line at all (only a low non-zero share drops).
    #[arg(long)]
    pub line_punct_exclude_zero: bool,
    /// Characters that end a punctuated line (default: datatrove's TERMINAL_PUNCTUATION).
    #[arg(long, value_delimiter = ',')]
    pub stop_chars: Option<Vec<String>>,
    /// Drop documents whose share of short lines is higher.
    #[arg(long, default_value_t = FinewebQualityOptions::default().short_line_thr)]
    pub short_line_thr: f64,
    /// A line of at most this many characters is short.
    #[arg(long, default_value_t = FinewebQualityOptions::default().short_line_length)]
    pub short_line_length: usize,
    /// Drop documents whose duplicate-line characters exceed this share of the text.
    #[arg(long, default_value_t = FinewebQualityOptions::default().char_duplicates_ratio)]
    pub char_duplicates_ratio: f64,
    /// Drop documents with more newlines per word.
    #[arg(long, default_value_t = FinewebQualityOptions::default().new_line_ratio)]
    pub new_line_ratio: f64,
    /// How words are split: `spacy` (datatrove) or `whitespace`.
    #[arg(long, value_enum, default_value_t = FinewebQualityOptions::default().words)]
    pub words: WordSplit,
}

impl Default for FinewebQualityOptions {
    fn default() -> Self {
        FinewebQualityOptions {
            line_punct_thr: 0.12,
            line_punct_exclude_zero: false,
            stop_chars: None,
            short_line_thr: 0.67,
            short_line_length: 30,
            char_duplicates_ratio: 0.01,
            new_line_ratio: 0.3,
            words: WordSplit::Spacy,
        }
    }
}

pub struct FinewebQualityStage {
    o: FinewebQualityOptions,
}

impl FinewebQualityStage {
    pub fn new(o: FinewebQualityOptions) -> Self {
        FinewebQualityStage { o }
    }

    pub fn from_table(table: &toml::Table) -> Result<Box<dyn Stage>> {
        let o = crate::pipeline::spec::stage_options("fineweb-quality", table)?;
        Ok(Box::new(FinewebQualityStage::new(o)))
    }

    fn punctuated(&self, line: &str) -> bool {
        match &self.o.stop_chars {
            None => line.chars().next_back().is_some_and(is_terminal),
            Some(stops) => stops.iter().any(|s| line.ends_with(s.as_str())),
        }
    }

    /// The rule `text` breaks, if any.
    pub fn verdict(&self, text: &str) -> Option<&'static str> {
        let o = &self.o;
        let lines: Vec<&str> = text
            .split('\n')
            .filter(|l| !l.chars().all(py_space))
            .collect();
        if lines.is_empty() {
            return Some("empty");
        }
        let n = lines.len() as f64;
        let punct = lines.iter().filter(|l| self.punctuated(l)).count() as f64 / n;
        if punct < o.line_punct_thr && !(punct == 0.0 && o.line_punct_exclude_zero) {
            return Some("line_punct_ratio");
        }
        let short = lines
            .iter()
            .filter(|l| chars(l) <= o.short_line_length)
            .count() as f64
            / n;
        if short > o.short_line_thr {
            return Some("short_line_ratio");
        }
        let (_, dup_chars) = find_duplicates(lines.iter().copied());
        let newlines = text.bytes().filter(|&b| b == b'\n').count();
        if dup_chars as f64 / (chars(text) - newlines) as f64 > o.char_duplicates_ratio {
            return Some("char_dup_ratio");
        }
        let words = with_words(text, o.words, |w| w.len());
        if newlines as f64 / words as f64 > o.new_line_ratio {
            return Some("list_ratio");
        }
        None
    }
}

impl Stage for FinewebQualityStage {
    fn name(&self) -> &'static str {
        "fineweb-quality"
    }

    fn process(&mut self, doc: Document, out: &mut Emit) -> Result<()> {
        match self.verdict(&doc.text) {
            Some(reason) => out.drop(doc, reason),
            None => out.keep(doc),
        }
        Ok(())
    }
}
