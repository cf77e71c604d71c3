//! The `gopher-repetition` stage: Gopher's repetition rules (Rae et al. 2021, table A1), as
//! datatrove 0.10.1's `GopherRepetitionFilter` computes them. Checks run in this order; the
//! first that fails names the reason. Every character fraction divides by the length of the
//! whole text.
//!
//! | rule (default threshold) | reason |
//! |---|---|
//! | empty text | `empty` |
//! | duplicate paragraphs (split at blank lines) / paragraphs > 0.3 | `dup_para_frac` |
//! | characters in duplicate paragraphs > 0.2 | `dup_para_char_frac` |
//! | duplicate lines (split at runs of `\n`) / lines > 0.3 | `dup_line_frac` |
//! | characters in duplicate lines > 0.2 | `dup_line_char_frac` |
//! | characters of the most frequent 2-, 3-, 4-gram × its count > 0.20, 0.18, 0.16 | `top_{n}_gram` |
//! | characters in repeated 5- … 10-grams > 0.15, 0.14, 0.13, 0.12, 0.11, 0.10 | `duplicated_{n}_n_grams` |
//!
//! A duplicate is an element equal to an earlier one (first occurrences never count). N-grams
//! are of datatrove's words (spaCy tokens): top n-grams join them with a space, repeated
//! n-grams concatenate them without one, and a repeated n-gram skips ahead by n words.

use std::collections::{HashMap, HashSet};

use rustc_hash::{FxHashMap, FxHashSet};

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::view::{chars, with_words, WordSplit};
use crate::doc::Document;
use crate::pipeline::stage::{Emit, Stage};
use crate::text::spacy_en::classes::py_strip;

/// Drop reasons, in the order the rules run.
pub const REASONS: &[&str] = &[
    "empty",
    "dup_para_frac",
    "dup_para_char_frac",
    "dup_line_frac",
    "dup_line_char_frac",
    "top_2_gram",
    "top_3_gram",
    "top_4_gram",
    "duplicated_5_n_grams",
    "duplicated_6_n_grams",
    "duplicated_7_n_grams",
    "duplicated_8_n_grams",
    "duplicated_9_n_grams",
    "duplicated_10_n_grams",
];

/// The Gopher repetition filter's settings (datatrove 0.10.1's defaults, the paper's table A1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct GopherRepetitionOptions {
    /// Highest share of duplicate lines; 0 disables.
    #[arg(long, default_value_t = GopherRepetitionOptions::default().dup_line_frac)]
    pub dup_line_frac: f64,
    /// Highest share of duplicate paragraphs; 0 disables.
    #[arg(long, default_value_t = GopherRepetitionOptions::default().dup_para_frac)]
    pub dup_para_frac: f64,
    /// Highest share of characters in duplicate lines; 0 disables.
    #[arg(long, default_value_t = GopherRepetitionOptions::default().dup_line_char_frac)]
    pub dup_line_char_frac: f64,
    /// Highest share of characters in duplicate paragraphs; 0 disables.
    #[arg(long, default_value_t = GopherRepetitionOptions::default().dup_para_char_frac)]
    pub dup_para_char_frac: f64,
    /// Top n-gram limits as N:FRACTION (the most frequent n-gram's characters × count).
    #[arg(long, value_delimiter = ',', value_parser = parse_limit,
          default_values_t = GopherRepetitionOptions::default().top_n_grams)]
    pub top_n_grams: Vec<NgramLimit>,
    /// Repeated n-gram limits as N:FRACTION (characters in n-grams seen before).
    #[arg(long, value_delimiter = ',', value_parser = parse_limit,
          default_values_t = GopherRepetitionOptions::default().dup_n_grams)]
    pub dup_n_grams: Vec<NgramLimit>,
    /// How words are split: `spacy` (datatrove) or `whitespace` (the paper's words).
    #[arg(long, value_enum, default_value_t = GopherRepetitionOptions::default().words)]
    pub words: WordSplit,
}

/// An n-gram length and the largest character fraction allowed for it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NgramLimit {
    pub n: usize,
    pub fraction: f64,
}

impl std::fmt::Display for NgramLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.n, self.fraction)
    }
}

fn parse_limit(s: &str) -> Result<NgramLimit, String> {
    let (n, frac) = s
        .split_once(':')
        .ok_or_else(|| format!("`{s}` is not N:FRACTION"))?;
    Ok(NgramLimit {
        n: n.trim()
            .parse()
            .map_err(|_| format!("`{n}` is not an n-gram length"))?,
        fraction: frac
            .trim()
            .parse()
            .map_err(|_| format!("`{frac}` is not a fraction"))?,
    })
}

fn limits(pairs: &[(usize, f64)]) -> Vec<NgramLimit> {
    pairs
        .iter()
        .map(|&(n, fraction)| NgramLimit { n, fraction })
        .collect()
}

impl Default for GopherRepetitionOptions {
    fn default() -> Self {
        GopherRepetitionOptions {
            dup_line_frac: 0.3,
            dup_para_frac: 0.3,
            dup_line_char_frac: 0.2,
            dup_para_char_frac: 0.2,
            top_n_grams: limits(&[(2, 0.2), (3, 0.18), (4, 0.16)]),
            dup_n_grams: limits(&[
                (5, 0.15),
                (6, 0.14),
                (7, 0.13),
                (8, 0.12),
                (9, 0.11),
                (10, 0.10),
            ]),
            words: WordSplit::Spacy,
        }
    }
}

/// Reason names for the n-gram rules, made once (reasons are `&'static str`).
fn reason(prefix: &str, n: usize) -> &'static str {
    static NAMES: std::sync::OnceLock<std::sync::Mutex<HashMap<String, &'static str>>> =
        std::sync::OnceLock::new();
    let key = match prefix {
        "top" => format!("top_{n}_gram"),
        _ => format!("duplicated_{n}_n_grams"),
    };
    if let Some(known) = REASONS.iter().find(|r| **r == key) {
        return known;
    }
    let mut names = NAMES.get_or_init(Default::default).lock().unwrap();
    names
        .entry(key.clone())
        .or_insert_with(|| Box::leak(key.into_boxed_str()))
}

/// datatrove's `find_duplicates`: how many elements equal an earlier one, and their characters.
pub fn find_duplicates<'a>(items: impl IntoIterator<Item = &'a str>) -> (usize, usize) {
    let mut seen = HashSet::new();
    let (mut dups, mut dup_chars) = (0, 0);
    for item in items {
        if !seen.insert(item) {
            dups += 1;
            dup_chars += chars(item);
        }
    }
    (dups, dup_chars)
}

/// Paragraphs: the stripped text split at runs of two or more `\n`.
fn paragraphs(text: &str) -> Vec<&str> {
    let stripped = py_strip(text);
    let mut out = Vec::new();
    let bytes = stripped.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        if bytes[i] == b'\n' {
            let run = bytes[i..].iter().take_while(|&&b| b == b'\n').count();
            if run >= 2 {
                out.push(&stripped[start..i]);
                start = i + run;
            }
            i += run;
        } else {
            i += 1;
        }
    }
    out.push(&stripped[start..]);
    out
}

/// Lines: the text split at runs of `\n` (empty pieces at either end stay).
fn lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        if bytes[i] == b'\n' {
            let run = bytes[i..].iter().take_while(|&&b| b == b'\n').count();
            out.push(&text[start..i]);
            start = i + run;
            i += run;
        } else {
            i += 1;
        }
    }
    out.push(&text[start..]);
    out
}

/// `find_top_duplicate` over the n-grams of `ids` (words as numbers, `lens` their characters):
/// the most frequent n-gram (the earliest on a tie) as characters × count. N-grams of up to
/// four words are keyed by their ids packed in 128 bits; longer ones by their id slices.
fn top_ngram_chars(ids: &[u32], lens: &[usize], n: usize) -> Option<usize> {
    if ids.len() < n || n == 0 {
        return None;
    }
    // (count, first start) of each n-gram; the best is the highest count, then the earliest.
    let mut best = (0usize, usize::MAX);
    let mut consider = |entry: &mut (usize, usize)| {
        entry.0 += 1;
        if entry.0 > best.0 || (entry.0 == best.0 && entry.1 < best.1) {
            best = *entry;
        }
    };
    if n <= 4 {
        let mut counts: FxHashMap<u128, (usize, usize)> = FxHashMap::default();
        for i in 0..=ids.len() - n {
            let key = ids[i..i + n]
                .iter()
                .fold(0u128, |k, &id| (k << 32) | u128::from(id));
            consider(counts.entry(key).or_insert((0, i)));
        }
    } else {
        let mut counts: FxHashMap<&[u32], (usize, usize)> = FxHashMap::default();
        for i in 0..=ids.len() - n {
            consider(counts.entry(&ids[i..i + n]).or_insert((0, i)));
        }
    }
    let (count, first) = best;
    let chars: usize = lens[first..first + n].iter().sum::<usize>() + n - 1;
    Some(chars * count)
}

/// Hashes of byte strings made by concatenating consecutive words, in O(1) each: a polynomial
/// hash modulo the Mersenne prime 2^61 − 1 over the concatenated bytes, with prefix values at
/// word boundaries. With the byte length beside it, two different strings share a key with
/// probability about length / 2^61.
struct ConcatHashes {
    prefix: Vec<u64>,
    bytes: Vec<usize>,
}

const MERSENNE: u64 = (1 << 61) - 1;
const BASE: u64 = 1_000_003;

fn mul_mod(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    let folded = (p & u128::from(MERSENNE)) + (p >> 61);
    let r = folded as u64;
    if r >= MERSENNE {
        r - MERSENNE
    } else {
        r
    }
}

impl ConcatHashes {
    fn new(words: &[&str]) -> Self {
        let mut prefix = Vec::with_capacity(words.len() + 1);
        let mut bytes = Vec::with_capacity(words.len() + 1);
        let (mut h, mut b) = (0u64, 0usize);
        prefix.push(h);
        bytes.push(b);
        for w in words {
            for &c in w.as_bytes() {
                h = mul_mod(h, BASE) + u64::from(c) + 1;
                if h >= MERSENNE {
                    h -= MERSENNE;
                }
            }
            b += w.len();
            prefix.push(h);
            bytes.push(b);
        }
        ConcatHashes { prefix, bytes }
    }

    /// Key of words[i..j] concatenated.
    fn key(&self, i: usize, j: usize) -> (u64, usize) {
        let len = self.bytes[j] - self.bytes[i];
        let shift = self.power_of(len);
        let h = (self.prefix[j] + MERSENNE - mul_mod(self.prefix[i], shift)) % MERSENNE;
        (h, len)
    }

    fn power_of(&self, len: usize) -> u64 {
        // BASE^len by squaring (n-grams are short, so len is small).
        let (mut result, mut base, mut e) = (1u64, BASE, len);
        while e > 0 {
            if e & 1 == 1 {
                result = mul_mod(result, base);
            }
            base = mul_mod(base, base);
            e >>= 1;
        }
        result
    }
}

/// `find_all_duplicate`: characters of n-grams (words concatenated without a separator) seen
/// before, skipping n words after each repeat.
fn repeated_ngram_chars(hashes: &ConcatHashes, lens: &[usize], n: usize) -> usize {
    let words = lens.len();
    let mut seen: FxHashSet<(u64, usize)> = FxHashSet::default();
    let (mut repeated, mut i) = (0, 0);
    while n > 0 && i + n <= words {
        if seen.insert(hashes.key(i, i + n)) {
            i += 1;
        } else {
            repeated += lens[i..i + n].iter().sum::<usize>();
            i += n;
        }
    }
    repeated
}

pub struct GopherRepetitionStage {
    o: GopherRepetitionOptions,
}

impl GopherRepetitionStage {
    pub fn new(o: GopherRepetitionOptions) -> Result<Self> {
        for l in o.top_n_grams.iter().chain(&o.dup_n_grams) {
            if l.n == 0 {
                bail!("gopher-repetition: n-gram lengths start at 1");
            }
        }
        Ok(GopherRepetitionStage { o })
    }

    pub fn from_table(table: &toml::Table) -> Result<Box<dyn Stage>> {
        let o = crate::pipeline::spec::stage_options("gopher-repetition", table)?;
        Ok(Box::new(GopherRepetitionStage::new(o)?))
    }

    /// The rule `text` breaks, if any.
    pub fn verdict(&self, text: &str) -> Option<&'static str> {
        let o = &self.o;
        if text.is_empty() {
            return Some("empty");
        }
        let len = chars(text) as f64;
        let paras = paragraphs(text);
        let (dups, dup_chars) = find_duplicates(paras.iter().copied());
        if o.dup_para_frac > 0.0 && dups as f64 / paras.len() as f64 > o.dup_para_frac {
            return Some("dup_para_frac");
        }
        if o.dup_para_char_frac > 0.0 && dup_chars as f64 / len > o.dup_para_char_frac {
            return Some("dup_para_char_frac");
        }
        let lines = lines(text);
        let (dups, dup_chars) = find_duplicates(lines.iter().copied());
        if o.dup_line_frac > 0.0 && dups as f64 / lines.len() as f64 > o.dup_line_frac {
            return Some("dup_line_frac");
        }
        if o.dup_line_char_frac > 0.0 && dup_chars as f64 / len > o.dup_line_char_frac {
            return Some("dup_line_char_frac");
        }
        with_words(text, o.words, |ranges| {
            let words: Vec<&str> = ranges.iter().map(|&(a, b)| &text[a..b]).collect();
            let lens: Vec<usize> = words.iter().map(|w| chars(w)).collect();
            let mut intern: FxHashMap<&str, u32> = FxHashMap::default();
            let ids: Vec<u32> = words
                .iter()
                .map(|w| {
                    let next = intern.len() as u32;
                    *intern.entry(w).or_insert(next)
                })
                .collect();
            for l in &o.top_n_grams {
                if let Some(top) = top_ngram_chars(&ids, &lens, l.n) {
                    if top as f64 / len > l.fraction {
                        return Some(reason("top", l.n));
                    }
                }
            }
            let hashes = ConcatHashes::new(&words);
            for l in &o.dup_n_grams {
                if repeated_ngram_chars(&hashes, &lens, l.n) as f64 / len > l.fraction {
                    return Some(reason("dup", l.n));
                }
            }
            None
        })
    }
}

impl Stage for GopherRepetitionStage {
    fn name(&self) -> &'static str {
        "gopher-repetition"
    }

    fn process(&mut self, doc: Document, out: &mut Emit) -> Result<()> {
        match self.verdict(&doc.text) {
            Some(reason) => out.drop(doc, reason),
            None => out.keep(doc),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_follows_datatrove() {
        assert_eq!(paragraphs("\n a\n\n\nb\n \nc \n"), ["a", "b\n \nc"]);
        assert_eq!(
            lines("\nBuy now.\nBest price.\n"),
            ["", "Buy now.", "Best price.", ""]
        );
    }

    #[test]
    fn top_ngram_ties_go_to_the_earliest() {
        // "a b" and "b c" both occur twice; "a b" came first.
        let ids = [0, 1, 2, 0, 1, 2];
        let lens = [1, 1, 1, 1, 1, 1];
        assert_eq!(top_ngram_chars(&ids, &lens, 2), Some(3 * 2));
    }
}
