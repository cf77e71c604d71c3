//! spaCy's rule-based `sentencizer`, which datatrove's C4 filter uses to count sentences.

use std::collections::HashSet;
use std::sync::OnceLock;

use super::classes::py_punct;
use super::tables::SENT_END_CHARS;
use super::Token;

fn sentence_enders() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| SENT_END_CHARS.iter().copied().collect())
}

/// Number of sentences in `text` as datatrove's `split_into_sentences` returns them: at least 1
/// (an empty text is one piece). A token whose whole text is a sentence-final character opens
/// a boundary; the next token that is neither such a character nor all punctuation (Unicode P*)
/// starts a new sentence. Whitespace tokens count as tokens there, as in spaCy.
pub fn count_sentences(text: &str, tokens: &[Token]) -> usize {
    let enders = sentence_enders();
    let mut sentences = usize::from(!tokens.is_empty());
    let mut seen_end = false;
    for t in tokens {
        let s = &text[t.start..t.end];
        let ender = enders.contains(s);
        if seen_end && !ender && !s.chars().all(py_punct) {
            sentences += 1;
            seen_end = false;
        } else if ender {
            seen_end = true;
        }
    }
    sentences.max(1)
}

/// datatrove's `split_into_sentences` pieces as byte ranges: each piece runs from the end of the
/// previous sentence to the end of its own (the last to the end of the text), so the pieces
/// tile the text. An empty text is one empty piece.
pub fn sentence_spans(text: &str, tokens: &[Token]) -> Vec<(usize, usize)> {
    let enders = sentence_enders();
    // Sentence ends: the end of the token before each sentence start after the first.
    let mut ends = Vec::new();
    let mut seen_end = false;
    for (i, t) in tokens.iter().enumerate() {
        let s = &text[t.start..t.end];
        let ender = enders.contains(s);
        if seen_end && !ender && !s.chars().all(py_punct) {
            ends.push(tokens[i - 1].end);
            seen_end = false;
        } else if ender {
            seen_end = true;
        }
    }
    let mut spans = Vec::with_capacity(ends.len() + 1);
    let mut start = 0;
    for e in ends {
        spans.push((start, e));
        start = e;
    }
    spans.push((start, text.len()));
    spans
}
