//! The two passes over one document: which task n-grams it contains (counting), and the
//! text left after cutting them out (stripping).
//!
//! Cutting (Megatron's `split_text`): around an n-gram at characters `[s, s + len)`, go 200
//! characters left of `s`, then further left to the nearest `.`, `!` or `?`; everything up
//! to and including it is the piece before. Go 200 characters right of `s + len`, then
//! further right to the nearest `.!?`; everything after it is the piece after, which is
//! scanned again. Pieces of 200 characters or fewer are dropped (strictly more are kept),
//! and a document left in more than 10 pieces is dropped whole.

use std::collections::VecDeque;

use super::ngrams::Scanner;

/// The cutting rule's numbers (Megatron's defaults).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rules {
    /// Characters removed on each side of a match (before the punctuation extension).
    pub context_chars: usize,
    /// Pieces must be longer than this to be kept.
    pub min_piece_chars: usize,
    /// Documents left in more pieces than this are dropped.
    pub max_pieces: usize,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            context_chars: 200,
            min_piece_chars: 200,
            max_pieces: 10,
        }
    }
}

/// One cut, in characters of the original document.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Cut {
    pub tasks: Vec<String>,
    pub ngram: String,
    pub start: usize,
    pub end: usize,
}

/// What stripping left of a document.
#[derive(Debug, Default)]
pub struct Stripped {
    /// The pieces kept, with the character offset of each in the original document.
    pub pieces: Vec<(String, usize)>,
    pub cuts: Vec<Cut>,
}

fn is_stop(c: char) -> bool {
    matches!(c, '.' | '!' | '?')
}

/// Cuts every task n-gram of `text` out. With no match, the one piece is the text itself.
pub fn strip(text: &str, scanner: &mut Scanner, rules: &Rules) -> Stripped {
    let mut out = Stripped::default();
    // Pieces are byte ranges of `text` (always a prefix or suffix of a piece), with their
    // character offset in the document; nothing is copied until a piece is final.
    let mut queue: VecDeque<(usize, usize, usize)> = VecDeque::new();
    queue.push_back((0, text.len(), 0));
    let mut finals: Vec<(usize, usize, usize)> = Vec::new();
    while let Some((lo, hi, base)) = queue.pop_front() {
        let piece = &text[lo..hi];
        scanner.tokenize(piece);
        let Some(m) = scanner.first_match() else {
            finals.push((lo, hi, base));
            continue;
        };
        let (start, len) = scanner.span_chars(piece, &m);
        let chars: Vec<(usize, char)> = piece.char_indices().collect();
        let n = chars.len();
        let byte_at = |c: usize| chars.get(c).map_or(piece.len(), |&(b, _)| b);
        // Left: 200 characters back (Megatron-mode offsets can overshoot the end after
        // lowercasing), then back to punctuation, which must lie after position 0.
        let from = start.saturating_sub(rules.context_chars).min(n - 1);
        let first_chars = (1..=from)
            .rev()
            .find(|&p| is_stop(chars[p].1))
            .map_or(0, |p| p + 1);
        // Right: 200 characters past the n-gram, then on to punctuation.
        let mut q = start + len + rules.context_chars;
        while q < n && !is_stop(chars[q].1) {
            q += 1;
        }
        let second_chars = n.saturating_sub(q + 1);
        out.cuts.push(Cut {
            tasks: scanner
                .index
                .task_list(&m.entry)
                .into_iter()
                .map(str::to_string)
                .collect(),
            ngram: scanner.ngram_text(piece, &m),
            start: base + start,
            end: base + (start + len).min(n),
        });
        if first_chars > rules.min_piece_chars {
            finals.push((lo, lo + byte_at(first_chars), base));
        }
        if second_chars > rules.min_piece_chars {
            queue.push_back((lo + byte_at(q + 1), hi, base + q + 1));
        }
    }
    // Pieces in text order: every "before" piece is final when found and precedes the
    // "after" piece queued at the same time.
    finals.sort_by_key(|&(lo, _, _)| lo);
    out.pieces = finals
        .into_iter()
        .map(|(lo, hi, base)| (text[lo..hi].to_string(), base))
        .collect();
    out
}

/// The task n-grams a document contains, each once (document frequency): key and text.
///
/// Both modes follow Megatron's counting: after a match, scanning resumes on the text after
/// the matched n-gram, so n-grams overlapping a counted one are not counted. Counting every
/// window instead would make a task passage copied into 10 or more documents a "common
/// phrase" in full, and it would never be cut; with the resumed scan only about one window
/// in 13 of such a passage is counted, so the passage is still removed, while short generic
/// phrases (boilerplate that some task texts quote) still cross the threshold.
pub fn count(text: &str, scanner: &mut Scanner, found: &mut Vec<(u64, String)>) {
    found.clear();
    let mut queue: VecDeque<usize> = VecDeque::new();
    queue.push_back(0);
    while let Some(lo) = queue.pop_front() {
        let piece = &text[lo..];
        scanner.tokenize(piece);
        let Some(m) = scanner.first_match() else {
            continue;
        };
        if !found.iter().any(|(k, _)| *k == m.key) {
            found.push((m.key, scanner.ngram_text(piece, &m)));
        }
        let (start, len) = scanner.span_chars(piece, &m);
        if let Some((b, _)) = piece.char_indices().nth(start + len + 1) {
            queue.push_back(lo + b);
        }
    }
    found.sort_unstable_by_key(|f| f.0);
}
