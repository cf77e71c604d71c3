//! One word split per document, shared by every filter in a chain. The Gopher and FineWeb
//! filters all count words; datatrove splits the text again in each of them, sieve splits it
//! once: the last text split on this thread is remembered, and a filter asking about the same
//! text (the next stage of the chain, on the same document) gets the same words back.

use std::cell::RefCell;

use serde::{Deserialize, Serialize};

use crate::text::spacy_en::{self, classes, Token};

/// How a filter splits text into words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum WordSplit {
    /// spaCy's English tokenizer, as datatrove ≥ 0.4 splits words: punctuation marks are
    /// words of their own.
    #[default]
    Spacy,
    /// Whitespace-separated words (Python's `str.split()`), as the Gopher paper counts them.
    Whitespace,
}

#[derive(Default)]
struct Memo {
    split: Option<WordSplit>,
    text: String,
    tokens: Vec<Token>,
    words: Vec<(usize, usize)>,
}

thread_local! {
    static LAST: RefCell<Memo> = RefCell::new(Memo::default());
}

/// Calls `f` with the byte ranges of `text`'s words.
pub fn with_words<R>(text: &str, split: WordSplit, f: impl FnOnce(&[(usize, usize)]) -> R) -> R {
    LAST.with(|memo| {
        let mut m = memo.borrow_mut();
        if m.split != Some(split) || m.text != text {
            let Memo { tokens, words, .. } = &mut *m;
            words.clear();
            match split {
                WordSplit::Spacy => {
                    spacy_en::tokenize_into(text, tokens);
                    words.extend(tokens.iter().filter(|t| !t.space).map(|t| (t.start, t.end)));
                }
                WordSplit::Whitespace => {
                    let base = text.as_ptr() as usize;
                    words.extend(classes::py_split_whitespace(text).map(|w| {
                        let start = w.as_ptr() as usize - base;
                        (start, start + w.len())
                    }));
                }
            }
            m.text.clear();
            m.text.push_str(text);
            m.split = Some(split);
        }
        f(&m.words)
    })
}

/// Python's `len`: Unicode scalar values.
pub fn chars(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// Python's `str.count` (non-overlapping occurrences).
pub fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}
