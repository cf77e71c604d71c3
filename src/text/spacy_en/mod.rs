//! English words and sentences exactly as spaCy's blank English pipeline splits them, which is
//! how datatrove's Gopher, C4 and FineWeb filters count words (datatrove ≥ 0.4 with spaCy; see
//! `shared/reference/filters.md` §2). sieve's own implementation of spaCy's algorithm
//! (`spacy/tokenizer.pyx`): whitespace runs, then for each run the special cases, prefix and
//! suffix peeling, the URL pattern and infix splits, then the pass that re-joins special cases.
//! The facts it needs (character classes, literal affixes, the special-case table) are
//! generated from the pinned spaCy into `tables.rs`.
//!
//! Results are memoised per whitespace-separated chunk, as spaCy does: most chunks of a corpus
//! repeat, so most of the work is a hash lookup.

mod affixes;
pub mod classes;
mod sentences;
mod specials;
mod tables;
mod url;

use std::cell::RefCell;

use rustc_hash::FxHashMap;

pub use sentences::{count_sentences, sentence_spans};
use specials::Specials;

/// The spaCy version whose tokenizer this reproduces.
pub const SPACY_VERSION: &str = tables::SPACY_VERSION;
/// The Unicode version of the Python predicates (`str.isalpha`...) the tables were made with.
pub const PYTHON_UNICODE: &str = tables::PYTHON_UNICODE;

/// One token: a byte range of the text, and whether it is a whitespace token (spaCy keeps runs
/// of whitespace other than one space as tokens; datatrove strips them away from its words,
/// but the sentencizer sees them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub start: usize,
    pub end: usize,
    pub space: bool,
}

/// Memo of chunk → token cuts, bounded so memory stays flat on any corpus.
struct Memo {
    map: FxHashMap<Box<str>, Box<[u32]>>,
}

const MEMO_LIMIT: usize = 200_000;

thread_local! {
    static MEMO: RefCell<Memo> = RefCell::new(Memo { map: FxHashMap::default() });
}

fn table() -> &'static Specials {
    specials::specials(|s| {
        let mut cuts = Vec::new();
        split_chunk(s, None, &mut cuts);
        pieces(s, &cuts).map(str::to_string).collect()
    })
}

/// The pieces of `s` given the byte offsets where pieces after the first start.
fn pieces<'a>(s: &'a str, cuts: &'a [usize]) -> impl Iterator<Item = &'a str> + 'a {
    let starts = std::iter::once(0).chain(cuts.iter().copied());
    let ends = cuts.iter().copied().chain(std::iter::once(s.len()));
    starts.zip(ends).map(move |(a, b)| &s[a..b])
}

/// spaCy's `_split_affixes` and `_attach_tokens` for one non-whitespace chunk, writing the byte
/// offsets where its tokens after the first start. `specials` is None for spaCy's
/// `with_special_cases=False` (how the re-joining patterns are made).
fn split_chunk(chunk: &str, specials: Option<&Specials>, cuts: &mut Vec<usize>) {
    cuts.clear();
    let is_special = |s: &str| specials.is_some_and(|t| t.contains(s));
    if let Some(t) = specials {
        if let Some(c) = t.get(chunk) {
            cuts.extend_from_slice(c);
            return;
        }
    }
    // The chunk is narrowed to lo..hi as prefixes and suffixes are peeled.
    let (mut lo, mut hi) = (0usize, chunk.len());
    let mut prefix_ends: Vec<usize> = Vec::new();
    let mut suffix_starts: Vec<usize> = Vec::new();
    let mut last_len = usize::MAX;
    while lo < hi && hi - lo != last_len {
        let s = &chunk[lo..hi];
        if is_special(s) {
            break;
        }
        last_len = hi - lo;
        let pre = affixes::prefix_len(s);
        if pre > 0 && pre < s.len() && is_special(&s[pre..]) {
            prefix_ends.push(lo + pre);
            lo += pre;
            break;
        }
        let suf = affixes::suffix_len(&s[pre..]);
        if suf > 0 && suf < s.len() && is_special(&s[..s.len() - suf]) {
            suffix_starts.push(hi - suf);
            hi -= suf;
            break;
        }
        if pre > 0 && suf > 0 && pre + suf <= s.len() {
            prefix_ends.push(lo + pre);
            suffix_starts.push(hi - suf);
            lo += pre;
            hi -= suf;
        } else if pre > 0 {
            prefix_ends.push(lo + pre);
            lo += pre;
        } else if suf > 0 {
            suffix_starts.push(hi - suf);
            hi -= suf;
        }
    }
    // Token boundaries: after each prefix, inside the core, before each suffix.
    cuts.extend(prefix_ends.iter().copied().filter(|&e| e < chunk.len()));
    if lo < hi {
        let core = &chunk[lo..hi];
        if let Some(c) = specials.and_then(|t| t.get(core)) {
            cuts.extend(c.iter().map(|&x| lo + x));
        } else if !url::matches(core) {
            let mut found = Vec::new();
            affixes::infixes(core, &mut found);
            let mut start = 0;
            for (a, b) in found {
                // spaCy skips an infix at the very start of the core.
                if a == 0 {
                    continue;
                }
                if a != start {
                    cuts.push(lo + a);
                }
                if a != b {
                    cuts.push(lo + b);
                }
                start = b;
            }
            // A trailing empty piece is never a token.
            if cuts.last() == Some(&(lo + core.len())) {
                cuts.pop();
            }
        }
    }
    cuts.extend(suffix_starts.iter().rev().copied());
    // Cuts at the chunk's ends or repeated are not token starts.
    cuts.retain(|&c| c > 0 && c < chunk.len());
    cuts.dedup();
}

/// Adds the tokens of one whitespace-free chunk starting at byte `base`.
fn push_chunk(chunk: &str, base: usize, specials: &Specials, out: &mut Vec<Token>) {
    MEMO.with(|memo| {
        let mut memo = memo.borrow_mut();
        let cuts: &[u32] = match memo.map.get(chunk) {
            Some(c) => c,
            None => {
                let mut v = Vec::new();
                split_chunk(chunk, Some(specials), &mut v);
                if memo.map.len() >= MEMO_LIMIT {
                    memo.map.clear();
                }
                let boxed: Box<[u32]> = v.iter().map(|&c| c as u32).collect();
                memo.map.entry(chunk.into()).or_insert(boxed)
            }
        };
        let mut start = 0usize;
        for &c in cuts.iter() {
            out.push(Token {
                start: base + start,
                end: base + c as usize,
                space: false,
            });
            start = c as usize;
        }
        out.push(Token {
            start: base + start,
            end: base + chunk.len(),
            space: false,
        });
    });
}

/// Splits `text` into spaCy tokens (whitespace tokens included), reusing `out`.
pub fn tokenize_into(text: &str, out: &mut Vec<Token>) {
    out.clear();
    let specials = table();
    // spaCy's loop: runs of whitespace and non-whitespace (Python `isspace`); one space right
    // after a token belongs to it, any other whitespace run is a token of its own.
    let mut chunk_start = 0usize;
    let mut in_space: Option<bool> = None;
    for (i, c) in text.char_indices() {
        let space = classes::py_space(c);
        match in_space {
            None => in_space = Some(space),
            Some(prev) if prev != space => {
                if chunk_start < i {
                    let chunk = &text[chunk_start..i];
                    if prev {
                        out.push(Token {
                            start: chunk_start,
                            end: i,
                            space: true,
                        });
                    } else {
                        push_chunk(chunk, chunk_start, specials, out);
                    }
                }
                chunk_start = if c == ' ' { i + 1 } else { i };
                in_space = Some(space);
            }
            _ => {}
        }
    }
    if let Some(prev) = in_space {
        if chunk_start < text.len() {
            if prev {
                out.push(Token {
                    start: chunk_start,
                    end: text.len(),
                    space: true,
                });
            } else {
                push_chunk(&text[chunk_start..], chunk_start, specials, out);
            }
        }
    }
    let mut ranges: Vec<(usize, usize)> = out.iter().map(|t| (t.start, t.end)).collect();
    let before = ranges.len();
    specials.rejoin(text, &mut ranges);
    if ranges.len() != before || ranges.iter().zip(out.iter()).any(|(r, t)| r.0 != t.start) {
        *out = ranges
            .into_iter()
            .map(|(start, end)| Token {
                start,
                end,
                space: text[start..end].chars().all(classes::py_space),
            })
            .collect();
    }
}

/// datatrove's `split_into_words` for English: the text of every non-whitespace token.
pub fn words(text: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    tokenize_into(text, &mut tokens);
    tokens
        .iter()
        .filter(|t| !t.space)
        .map(|t| &text[t.start..t.end])
        .collect()
}

#[cfg(test)]
mod tests;
