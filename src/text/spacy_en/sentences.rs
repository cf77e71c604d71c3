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

/// Indices of the tokens that start a sentence after the first. A token whose whole text is a
/// sentence-final character opens a boundary; the next token that is neither such a character
/// nor all punctuation (Unicode P*) starts a new sentence. Whitespace tokens count as tokens
/// there, as in spaCy.
fn later_sentence_starts<'a>(
    text: &'a str,
    tokens: &'a [Token],
) -> impl Iterator<Item = usize> + 'a {
    let enders = sentence_enders();
    let mut seen_end = false;
    tokens.iter().enumerate().filter_map(move |(i, t)| {
        let s = &text[t.start..t.end];
        let ender = enders.contains(s);
        if seen_end && !ender && !s.chars().all(py_punct) {
            seen_end = false;
            return Some(i);
        }
        seen_end |= ender;
        None
    })
}

/// Number of sentences in `text` as datatrove's `split_into_sentences` returns them: at least 1
/// (an empty text is one piece).
pub fn count_sentences(text: &str, tokens: &[Token]) -> usize {
    1 + later_sentence_starts(text, tokens).count()
}

/// datatrove's `split_into_sentences` pieces as byte ranges: each piece runs from the end of the
/// previous sentence to the end of its own (the last to the end of the text), so the pieces
/// tile the text. An empty text is one empty piece.
pub fn sentence_spans(text: &str, tokens: &[Token]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = 0;
    for i in later_sentence_starts(text, tokens) {
        // A sentence ends where its last token ends.
        let end = tokens[i - 1].end;
        spans.push((start, end));
        start = end;
    }
    spans.push((start, text.len()));
    spans
}
