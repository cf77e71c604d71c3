//! The `c4-quality` stage: C4's line and document rules (Raffel et al. 2020, §2.2, and the
//! TFDS `c4_utils` code), as datatrove 0.10.1's `C4QualityFilter` applies them. Lines are
//! `str.splitlines()` pieces, stripped; per line, in order:
//!
//! 1. a word (whitespace-separated) over 1,000 characters removes the line;
//! 2. Wikipedia-style citations (`[1]`, `[edit]`, `[citation needed]`) are cut out;
//! 3. a line not ending in `.` `?` `!` `"` `'`, or ending in `...`, is removed;
//! 4. a line of fewer than 3 words (counted before step 2) is removed;
//! 5. "lorem ipsum" anywhere drops the document (`lorem_ipsum`);
//! 6. a line mentioning "javascript" is removed;
//! 7. a `{` drops the document (`curly_bracket`);
//! 8. a line with "terms of use", "privacy policy", "cookie policy", "uses cookies",
//!    "use of cookies" or "use cookies" is removed;
//! 9. the line's sentences (spaCy's sentencizer) are counted.
//!
//! Fewer than 5 sentences in the kept lines drops the document (`too_few_sentences`);
//! otherwise its text becomes the kept lines joined by `\n`. Removed lines are counted in
//! the stage's `c4_lines` histogram by rule.

use anyhow::Result;
use clap::ArgAction;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::doc::Document;
use crate::pipeline::stage::{Emit, Stage};
use crate::text::spacy_en::classes::{py_digit, py_split_whitespace, py_splitlines, py_strip};
use crate::text::spacy_en::{self, Token};

/// Drop reasons, in the order they can happen.
pub const REASONS: &[&str] = &["lorem_ipsum", "curly_bracket", "too_few_sentences"];

const POLICY: &[&str] = &[
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
];

/// The C4 quality filter's settings (datatrove 0.10.1's defaults, which are C4's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct C4QualityOptions {
    /// Split the text into lines (C4); `--sentences` applies the line rules to spaCy sentences
    /// instead and joins the kept ones with a space.
    #[arg(long = "sentences", action = ArgAction::SetFalse,
          default_value_t = C4QualityOptions::default().split_paragraph)]
    pub split_paragraph: bool,
    /// Cut `[1]`, `[edit]` and `[citation needed]` out of lines; `--keep-citations` keeps them.
    #[arg(long = "keep-citations", action = ArgAction::SetFalse,
          default_value_t = C4QualityOptions::default().remove_citations)]
    pub remove_citations: bool,
    /// Remove lines without terminal punctuation; FineWeb turns it off
    /// (`--no-terminal-punct-rule`).
    #[arg(long = "no-terminal-punct-rule", action = ArgAction::SetFalse,
          default_value_t = C4QualityOptions::default().filter_no_terminal_punct)]
    pub filter_no_terminal_punct: bool,
    /// Drop documents with fewer sentences in their kept lines; -1 disables.
    #[arg(long, allow_negative_numbers = true,
          default_value_t = C4QualityOptions::default().min_num_sentences)]
    pub min_num_sentences: i64,
    /// Remove lines with fewer whitespace-separated words; -1 disables.
    #[arg(long, allow_negative_numbers = true,
          default_value_t = C4QualityOptions::default().min_words_per_line)]
    pub min_words_per_line: i64,
    /// Remove lines with a longer word (characters); -1 disables.
    #[arg(long, allow_negative_numbers = true,
          default_value_t = C4QualityOptions::default().max_word_length)]
    pub max_word_length: i64,
    /// Drop documents mentioning "lorem ipsum"; `--allow-lorem-ipsum` keeps them.
    #[arg(long = "allow-lorem-ipsum", action = ArgAction::SetFalse,
          default_value_t = C4QualityOptions::default().filter_lorem_ipsum)]
    pub filter_lorem_ipsum: bool,
    /// Remove lines mentioning "javascript"; `--allow-javascript` keeps them.
    #[arg(long = "allow-javascript", action = ArgAction::SetFalse,
          default_value_t = C4QualityOptions::default().filter_javascript)]
    pub filter_javascript: bool,
    /// Drop documents with a `{` in a kept line; `--allow-curly-bracket` keeps them.
    #[arg(long = "allow-curly-bracket", action = ArgAction::SetFalse,
          default_value_t = C4QualityOptions::default().filter_curly_bracket)]
    pub filter_curly_bracket: bool,
    /// Remove lines about terms of use, privacy and cookies; `--allow-policy` keeps them.
    #[arg(long = "allow-policy", action = ArgAction::SetFalse,
          default_value_t = C4QualityOptions::default().filter_policy)]
    pub filter_policy: bool,
}

impl Default for C4QualityOptions {
    fn default() -> Self {
        C4QualityOptions {
            split_paragraph: true,
            remove_citations: true,
            filter_no_terminal_punct: true,
            min_num_sentences: 5,
            min_words_per_line: 3,
            max_word_length: 1000,
            filter_lorem_ipsum: true,
            filter_javascript: true,
            filter_curly_bracket: true,
            filter_policy: true,
        }
    }
}

/// What became of a document.
#[derive(Debug, PartialEq)]
pub enum C4Outcome {
    /// Kept, with its rewritten text and the number of lines each rule removed.
    Keep(String, LineCounts),
    Drop(&'static str),
}

/// Lines removed per rule, and lines kept.
#[derive(Debug, Default, PartialEq)]
pub struct LineCounts {
    pub too_long_word: usize,
    pub no_terminal_punct: usize,
    pub too_few_words: usize,
    pub javascript: usize,
    pub policy: usize,
    pub kept: usize,
}

pub struct C4QualityStage {
    o: C4QualityOptions,
    citation: Regex,
    tokens: Vec<Token>,
}

impl C4QualityStage {
    pub fn new(o: C4QualityOptions) -> Self {
        // `\d` is any Unicode decimal digit in Python; the class is checked per match below.
        let citation = Regex::new(r"\[[^\[\]\s]*\]|\[citation needed\]").expect("valid");
        C4QualityStage {
            o,
            citation,
            tokens: Vec::new(),
        }
    }

    pub fn from_table(table: &toml::Table) -> Result<Box<dyn Stage>> {
        let o = crate::pipeline::spec::stage_options("c4-quality", table)?;
        Ok(Box::new(C4QualityStage::new(o)))
    }

    /// `\[\d*]|\[edit]|\[citation needed]` removed, with Python's `\d`.
    fn remove_citations(&self, line: &str) -> String {
        let mut out = String::with_capacity(line.len());
        let mut last = 0;
        for m in self.citation.find_iter(line) {
            let inner = &m.as_str()[1..m.len() - 1];
            let cite = inner.chars().all(py_digit) || inner == "edit" || inner == "citation needed";
            if cite {
                out.push_str(&line[last..m.start()]);
                last = m.end();
            }
        }
        out.push_str(&line[last..]);
        out
    }

    fn sentences(&mut self, text: &str) -> Vec<(usize, usize)> {
        spacy_en::tokenize_into(text, &mut self.tokens);
        spacy_en::sentence_spans(text, &self.tokens)
    }

    /// Applies the rules to one text.
    pub fn apply(&mut self, text: &str) -> C4Outcome {
        let o = self.o.clone();
        let units: Vec<String> = if o.split_paragraph {
            py_splitlines(text)
                .into_iter()
                .map(str::to_string)
                .collect()
        } else {
            self.sentences(text)
                .into_iter()
                .map(|(a, b)| text[a..b].to_string())
                .collect()
        };
        let mut counts = LineCounts::default();
        let mut sentences: i64 = 0;
        let mut kept: Vec<String> = Vec::new();
        for unit in &units {
            let line = py_strip(unit);
            let n_words = py_split_whitespace(line).count() as i64;
            if o.max_word_length != -1
                && py_split_whitespace(line).any(|w| w.chars().count() as i64 > o.max_word_length)
            {
                counts.too_long_word += 1;
                continue;
            }
            let line = if o.remove_citations && line.contains('[') {
                self.remove_citations(line)
            } else {
                line.to_string()
            };
            if o.filter_no_terminal_punct
                && (!line.ends_with(['.', '?', '!', '"', '\'']) || line.ends_with("..."))
            {
                counts.no_terminal_punct += 1;
                continue;
            }
            if n_words < o.min_words_per_line {
                counts.too_few_words += 1;
                continue;
            }
            let lower = line.to_lowercase();
            if o.filter_lorem_ipsum && lower.contains("lorem ipsum") {
                return C4Outcome::Drop("lorem_ipsum");
            }
            if o.filter_javascript && lower.contains("javascript") {
                counts.javascript += 1;
                continue;
            }
            if o.filter_curly_bracket && line.contains('{') {
                return C4Outcome::Drop("curly_bracket");
            }
            if o.filter_policy && POLICY.iter().any(|p| lower.contains(p)) {
                counts.policy += 1;
                continue;
            }
            if o.min_num_sentences != -1 {
                sentences += if o.split_paragraph {
                    self.sentences(&line).len().max(1) as i64
                } else {
                    1
                };
            }
            counts.kept += 1;
            kept.push(line);
        }
        if sentences < o.min_num_sentences {
            return C4Outcome::Drop("too_few_sentences");
        }
        let joined = kept.join(if o.split_paragraph { "\n" } else { " " });
        C4Outcome::Keep(py_strip(&joined).to_string(), counts)
    }
}

impl Stage for C4QualityStage {
    fn name(&self) -> &'static str {
        "c4-quality"
    }

    fn process(&mut self, mut doc: Document, out: &mut Emit) -> Result<()> {
        match self.apply(&doc.text) {
            C4Outcome::Drop(reason) => out.drop(doc, reason),
            C4Outcome::Keep(text, counts) => {
                let removed = [
                    ("too_long_word", counts.too_long_word),
                    ("no_terminal_punct", counts.no_terminal_punct),
                    ("too_few_words", counts.too_few_words),
                    ("javascript", counts.javascript),
                    ("policy", counts.policy),
                ];
                for (rule, n) in removed {
                    for _ in 0..n {
                        out.tally("c4_lines_removed", rule);
                    }
                }
                doc.text = text;
                out.keep(doc);
            }
        }
        Ok(())
    }
}
