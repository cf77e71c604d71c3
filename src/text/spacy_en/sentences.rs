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
