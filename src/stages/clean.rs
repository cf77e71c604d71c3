//! The `clean` stage: Unicode repair, whitespace normalisation, and the MT-NLG document rules,
//! each a named rule with its own option and drop reason.
//!
//! | rule | option | drop reason |
//! |---|---|---|
//! | fewer than 512 characters | `min_chars` (0 disables) | `too_short` |
//! | fewer than 256 characters and contains "javascript" (any case) | `javascript_max_chars` | `javascript` |
//! | Megatron `remove_512_non_english`: fewer than N characters and `lang` is not `en` | `short_non_english_chars` (off) | `short_non_english` |
//! | Megatron `general_cleaning`: `re.sub(r"  +\|\b\n+ \|\b\n+", " ", text)` | `megatron_general_cleaning` (off) | — |
//! | Megatron `cleanup_dataset`: under 8 × N characters and fewer than N GPT-2 tokens | `min_gpt2_tokens` (off; Megatron: 128) | `too_few_tokens` |
//!
//! Lengths are counted in characters (Unicode scalar values, as Python's `len`), after repair
//! and normalisation.

use anyhow::Result;
use clap::ArgAction;
use serde::{Deserialize, Serialize};

use crate::doc::Document;
use crate::pipeline::stage::{Emit, Stage};
use crate::text::repair::{normalize_whitespace, repair};

/// The clean stage's settings: the `sieve clean` flags and the spec's `[[stage]]` keys are
/// these fields (`--min-chars` is `min_chars`; `--no-repair` and `--no-whitespace` turn off
/// `repair_unicode` and `normalize_whitespace`), with the defaults of `Default` for both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct CleanOptions {
    /// Undo mojibake, decode leftover entities, remove control characters, compose (NFC);
    /// `--no-repair` skips it.
    #[arg(long = "no-repair", action = ArgAction::SetFalse,
          default_value_t = CleanOptions::default().repair_unicode)]
    pub repair_unicode: bool,
    /// Collapse spaces, trim lines, keep at most one blank line between paragraphs;
    /// `--no-whitespace` skips it.
    #[arg(long = "no-whitespace", action = ArgAction::SetFalse,
          default_value_t = CleanOptions::default().normalize_whitespace)]
    pub normalize_whitespace: bool,
    /// MT-NLG: drop documents with fewer characters (`too_short`); 0 disables.
    #[arg(long, default_value_t = CleanOptions::default().min_chars)]
    pub min_chars: usize,
    /// MT-NLG: drop documents with fewer characters that mention "javascript" (`javascript`);
    /// 0 disables.
    #[arg(long, default_value_t = CleanOptions::default().javascript_max_chars)]
    pub javascript_max_chars: usize,
    /// Megatron's remove_512_non_english: drop documents under N characters whose `lang` is
    /// not `en` (`short_non_english`); 0 disables.
    #[arg(long, default_value_t = CleanOptions::default().short_non_english_chars)]
    pub short_non_english_chars: usize,
    /// Megatron's general_cleaning substitution (join lines after words, squeeze spaces).
    #[arg(long, action = ArgAction::SetTrue)]
    pub megatron_general_cleaning: bool,
    /// Megatron's cleanup_dataset rule: drop documents under 8×N characters with fewer than
    /// N GPT-2 tokens (`too_few_tokens`); Megatron uses 128. 0 disables.
    #[arg(long, default_value_t = CleanOptions::default().min_gpt2_tokens)]
    pub min_gpt2_tokens: usize,
}

impl Default for CleanOptions {
    fn default() -> Self {
        CleanOptions {
            repair_unicode: true,
            normalize_whitespace: true,
            min_chars: 512,
            javascript_max_chars: 256,
            short_non_english_chars: 0,
            megatron_general_cleaning: false,
            min_gpt2_tokens: 0,
        }
    }
}

/// Megatron's `general_cleaning`: runs of two or more spaces become one space, and line
/// breaks right after a word character (with one following space, if any) become a space.
pub fn megatron_general_cleaning(text: &str) -> String {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == ' ' && chars.get(i + 1) == Some(&' ') {
            while chars.get(i) == Some(&' ') {
                i += 1;
            }
            out.push(' ');
            continue;
        }
        if c == '\n' && i > 0 && is_word(chars[i - 1]) {
            while chars.get(i) == Some(&'\n') {
                i += 1;
            }
            if chars.get(i) == Some(&' ') {
                i += 1;
            }
            out.push(' ');
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

pub struct CleanStage {
    options: CleanOptions,
}

impl CleanStage {
    pub fn new(options: CleanOptions) -> Self {
        CleanStage { options }
    }

    pub fn from_table(table: &toml::Table) -> Result<Box<dyn Stage>> {
        let options: CleanOptions = toml::Value::Table(table.clone()).try_into()?;
        Ok(Box::new(CleanStage::new(options)))
    }

    /// The rule a cleaned text breaks, if any.
    fn rule_broken(&self, text: &str, lang: Option<&str>) -> Option<&'static str> {
        let o = &self.options;
        let chars = text.chars().count();
        if chars < o.min_chars {
            return Some("too_short");
        }
        if chars < o.javascript_max_chars && text.to_lowercase().contains("javascript") {
            return Some("javascript");
        }
        if chars < o.short_non_english_chars && lang != Some("en") {
            return Some("short_non_english");
        }
        // Megatron tokenizes only texts under 8 characters per required token: longer texts
        // always have enough tokens.
        if chars < 8 * o.min_gpt2_tokens {
            let tokens = tiktoken_rs::r50k_base_singleton()
                .encode_ordinary(text)
                .len();
            if tokens < o.min_gpt2_tokens {
                return Some("too_few_tokens");
            }
        }
        None
    }
}

impl Stage for CleanStage {
    fn name(&self) -> &'static str {
        "clean"
    }

    fn process(&mut self, mut doc: Document, out: &mut Emit) -> Result<()> {
        if self.options.repair_unicode {
            let (text, repairs) = repair(&doc.text);
            if repairs.any() {
                doc.meta.insert("clean_repairs".into(), repairs.names());
                doc.text = text;
            }
        }
        if self.options.normalize_whitespace {
            doc.text = normalize_whitespace(&doc.text);
        }
        if self.options.megatron_general_cleaning {
            doc.text = megatron_general_cleaning(&doc.text);
        }
        match self.rule_broken(&doc.text, doc.lang.as_deref()) {
            Some(reason) => out.drop(doc, reason),
            None => out.keep(doc),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        options: CleanOptions,
        text: &str,
        lang: Option<&str>,
    ) -> (Option<&'static str>, String) {
        let mut e = Emit::default();
        let doc = Document {
            id: "t/x#1".into(),
            dataset: "t".into(),
            text: text.into(),
            lang: lang.map(str::to_string),
            ..Default::default()
        };
        CleanStage::new(options).process(doc, &mut e).unwrap();
        match e.dropped.pop() {
            Some((d, r)) => (Some(r), d.text),
            None => (None, e.kept.pop().unwrap().text),
        }
    }

    #[test]
    fn mtnlg_length_rules_with_exact_boundaries() {
        let o = CleanOptions::default;
        assert_eq!(run(o(), &"a".repeat(511), None).0, Some("too_short"));
        assert_eq!(run(o(), &"a".repeat(512), None).0, None);
        // Characters, not bytes: 512 two-byte characters pass.
        assert_eq!(run(o(), &"é".repeat(512), None).0, None);
        let js = format!("Please enable JavaScript {}", "x".repeat(200));
        let no_min = || CleanOptions {
            min_chars: 0,
            ..o()
        };
        assert_eq!(run(no_min(), &js, None).0, Some("javascript"));
        let long_js = format!("Please enable JavaScript {}", "x".repeat(300));
        assert_eq!(run(no_min(), &long_js, None).0, None);
        assert_eq!(run(no_min(), &"x".repeat(255), None).0, None);
    }

    #[test]
    fn optional_megatron_rules() {
        let o = CleanOptions {
            min_chars: 0,
            short_non_english_chars: 512,
            ..Default::default()
        };
        assert_eq!(
            run(o.clone(), "kurzer deutscher Text", Some("de")).0,
            Some("short_non_english")
        );
        assert_eq!(run(o.clone(), "short english text", Some("en")).0, None);
        // Megatron's `len(text) < 512`: 511 characters go, 512 stay.
        let german = |n: usize| format!("Text {}", "ä".repeat(n - 5));
        let short = Some("short_non_english");
        assert_eq!(run(o.clone(), &german(511), Some("de")).0, short);
        assert_eq!(run(o.clone(), &german(512), Some("de")).0, None);
        assert_eq!(
            run(o, &german(511), None).0,
            short,
            "no language is not English"
        );
        assert_eq!(
            megatron_general_cleaning("a  b\nc.\nd\n\n e"),
            "a b c.\nd e"
        );
        // A line break at the very start follows no word (`\b` needs one before it).
        assert_eq!(megatron_general_cleaning("\nword\n"), "\nword ");
    }

    /// Megatron's `cleanup_dataset` rule: fewer than N GPT-2 tokens. "word " is one token, so
    /// 127 words fail N = 128 and 128 pass; a text of 8·N characters or more is never
    /// tokenized (it always has enough).
    #[test]
    fn too_few_gpt2_tokens() {
        let o = || CleanOptions {
            min_chars: 0,
            min_gpt2_tokens: 128,
            ..Default::default()
        };
        let words = |n: usize| vec!["word"; n].join(" ");
        assert_eq!(run(o(), &words(127), None).0, Some("too_few_tokens"));
        assert_eq!(run(o(), &words(128), None).0, None);
        // A rule of '=' signs: a few dozen tokens (GPT-2 has tokens for long runs of '='), so
        // too few at 1023 characters, but at 1024 too long to be checked at all.
        assert_eq!(run(o(), &"=".repeat(1023), None).0, Some("too_few_tokens"));
        assert_eq!(run(o(), &"=".repeat(1024), None).0, None);
    }

    #[test]
    fn repairs_and_normalizes_before_measuring() {
        let o = CleanOptions {
            min_chars: 0,
            ..Default::default()
        };
        let (reason, text) = run(o, "  cafÃ©   &amp;\r\n\r\n\r\n  thÃ©  ", None);
        assert_eq!(reason, None);
        assert_eq!(text, "café &\n\nthé");
    }
}
