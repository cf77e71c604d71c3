//! Golden tests written by hand from the description of Megatron-LM's `filter_ngrams.py`
//! (../shared/reference/anchors-curation.md, b7): every rule, with the expected pieces spelled
//! out.

use std::collections::HashMap;

use super::cut::{count, strip, Rules};
use super::ngrams::{Compat, NgramIndex, Scanner};

const NG13: &str = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike";
const NG8: &str = "one two three four five six seven eight";

fn index(texts: &[(&str, &str)]) -> NgramIndex {
    let mut names: Vec<String> = Vec::new();
    for (t, _) in texts {
        if !names.iter().any(|n| n == t) {
            names.push(t.to_string());
        }
    }
    let mut idx = NgramIndex::new(names.clone(), 8, 13);
    let mut sets = HashMap::new();
    for (t, text) in texts {
        let task = names.iter().position(|n| n == t).unwrap() as u16;
        idx.add_text(task, text, &mut sets);
    }
    idx.finish();
    idx
}

fn pieces(text: &str, idx: &NgramIndex, compat: Compat) -> Vec<String> {
    let mut s = Scanner::new(idx, compat);
    strip(text, &mut s, &Rules::default())
        .pieces
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

fn x(c: char, n: usize) -> String {
    std::iter::repeat_n(c, n).collect()
}

#[test]
fn cut_removes_200_characters_each_side_extended_to_punctuation() {
    let idx = index(&[("t1", NG13)]);
    // Before: 250 x + '.' + 249 y (the '.' is at 250); the n-gram starts at 501.
    // 501 − 200 = 301 falls in the y's: back to the '.' at 250 → piece "x…x." (251 chars).
    // After: the n-gram ends at e; e + 200 falls in the w's: on to the '!' → the v's remain.
    let before = format!("{}.{}", x('x', 250), x('y', 249));
    let after = format!(" {}.{}!{}", x('z', 150), x('w', 100), x('v', 250));
    let text = format!("{before} {NG13}{after}");
    for compat in [Compat::Sieve, Compat::Megatron] {
        let got = pieces(&text, &idx, compat);
        assert_eq!(
            got,
            vec![format!("{}.", x('x', 250)), x('v', 250)],
            "{compat:?}"
        );
    }
    let mut s = Scanner::new(&idx, Compat::Sieve);
    let r = strip(&text, &mut s, &Rules::default());
    assert_eq!(r.cuts.len(), 1);
    assert_eq!(r.cuts[0].tasks, vec!["t1"]);
    assert_eq!(r.cuts[0].ngram, NG13);
    assert_eq!((r.cuts[0].start, r.cuts[0].end), (501, 501 + NG13.len()));
    // The pieces' offsets point into the original text.
    assert_eq!(r.pieces[1].1, text.len() - 250);
}

#[test]
fn no_punctuation_before_means_no_piece_before() {
    let idx = index(&[("t1", NG13)]);
    // 400 characters without . ! ?: walking left reaches the start, so nothing is kept.
    let text = format!("{} {NG13} {}", x('a', 400), x('b', 400));
    assert!(pieces(&text, &idx, Compat::Sieve).is_empty());
}

#[test]
fn pieces_of_exactly_200_characters_are_dropped_201_kept() {
    let idx = index(&[("t1", NG13)]);
    for (len, kept) in [(199, false), (200, true)] {
        // "x" * len + "." is len + 1 characters.
        let text = format!("{}.{} {NG13}", x('x', len), x('y', 300));
        let got = pieces(&text, &idx, Compat::Sieve);
        assert_eq!(!got.is_empty(), kept, "piece of {} characters", len + 1);
        if kept {
            assert_eq!(got[0].chars().count(), 201);
        }
    }
}

/// `units` repetitions of: a 211-character piece that survives, the n-gram, and 199
/// characters up to a '.', which the cut removes; then a final 211-character piece.
fn split_text(units: usize) -> String {
    let keep = format!("{}.", x('k', 210));
    let unit = format!("{keep}{} {NG13} {}.", x('m', 199) + " ", x('f', 199));
    let unit = unit.replacen(&format!("{} ", x('m', 199)), &x('m', 199), 1);
    format!("{}{keep}", unit.repeat(units))
}

#[test]
fn documents_in_more_than_ten_pieces_are_dropped() {
    let idx = index(&[("t1", NG13)]);
    let mut s = Scanner::new(&idx, Compat::Sieve);
    let rules = Rules::default();
    let nine = strip(&split_text(9), &mut s, &rules);
    assert_eq!(nine.pieces.len(), 10);
    assert!(nine
        .pieces
        .iter()
        .all(|(p, _)| p == &format!("{}.", x('k', 210))));
    assert_eq!(nine.cuts.len(), 9);
    let ten = strip(&split_text(10), &mut s, &rules);
    assert_eq!(
        ten.pieces.len(),
        11,
        "the stage drops a document with > max_pieces"
    );
    assert!(ten.pieces.len() > rules.max_pieces);
}

#[test]
fn task_texts_of_8_to_12_words_are_whole_ngrams_and_shorter_ones_ignored() {
    let seven = "one two three four five six seven";
    let twelve = "n1 n2 n3 n4 n5 n6 n7 n8 n9 n10 n11 n12";
    let fourteen = format!("{NG13} november");
    let idx = index(&[("a", seven), ("b", NG8), ("c", twelve), ("d", &fourteen)]);
    // 8 words → one 8-gram; 12 → one 12-gram; 14 → two 13-grams; 7 → nothing.
    assert_eq!(idx.len(), 4);
    assert_eq!(idx.lengths, vec![8, 12, 13]);
    let long = |inner: &str| format!("{}. {} {inner} {}", x('p', 250), x('q', 10), x('r', 300));
    let mut s = Scanner::new(&idx, Compat::Sieve);
    let rules = Rules::default();
    assert_eq!(strip(&long(NG8), &mut s, &rules).cuts[0].tasks, vec!["b"]);
    assert_eq!(
        strip(&long(twelve), &mut s, &rules).cuts[0].tasks,
        vec!["c"]
    );
    assert!(strip(&long(seven), &mut s, &rules).cuts.is_empty());
    // Seven of the eight words are not the 8-gram.
    assert!(strip(
        &long("one two three four five six seven nine"),
        &mut s,
        &rules
    )
    .cuts
    .is_empty());
}

#[test]
fn megatron_never_scans_texts_under_13_words_sieve_does() {
    let idx = index(&[("b", NG8)]);
    let short = format!("Intro. {NG8}."); // 9 words
    let mut keys = Vec::new();
    count(&short, &mut Scanner::new(&idx, Compat::Megatron), &mut keys);
    assert!(keys.is_empty());
    count(&short, &mut Scanner::new(&idx, Compat::Sieve), &mut keys);
    assert_eq!(keys.len(), 1);
    // Exactly 13 words: Megatron checks the shorter n-grams at position 0 only.
    let thirteen = format!("w1 w2 w3 w4 w5 {NG8}");
    count(
        &thirteen,
        &mut Scanner::new(&idx, Compat::Megatron),
        &mut keys,
    );
    assert!(keys.is_empty());
    // 14 words: the tail check over the last 13 words finds it.
    let fourteen = format!("w0 {thirteen}");
    count(
        &fourteen,
        &mut Scanner::new(&idx, Compat::Megatron),
        &mut keys,
    );
    assert_eq!(keys.len(), 1);
}

#[test]
fn megatron_measures_the_joined_ngram_not_the_matched_span() {
    let idx = index(&[("t1", NG13)]);
    // Punctuation and double spaces inside the match make the real span longer than the
    // n-gram joined by single spaces (77 characters); Megatron's cut ends 200 characters
    // after start + 77, sieve's 200 after the real end.
    let spaced = NG13.replace(' ', ",   ");
    let extra = spaced.len() - NG13.len(); // 36
    assert_eq!(extra, 36);
    // After the match: 171 characters, '.', then 300 more. Sieve: end + 200 is past the '.',
    // so the cut runs to the end. Megatron: start + 77 + 200 is 36 characters earlier,
    // before the '.', so it stops there and keeps the 300.
    let text = format!(
        "{}. {} {spaced} {}.{}",
        x('a', 250),
        x('b', 210),
        x('c', 170),
        x('d', 300)
    );
    let sieve = pieces(&text, &idx, Compat::Sieve);
    let megatron = pieces(&text, &idx, Compat::Megatron);
    assert_eq!(sieve, vec![format!("{}.", x('a', 250))]);
    assert_eq!(megatron, vec![format!("{}.", x('a', 250)), x('d', 300)]);
}

#[test]
fn megatron_offsets_shift_when_lowercasing_changes_lengths() {
    let idx = index(&[("t1", NG13)]);
    // Each 'İ' lowercases to two characters, so in Megatron mode the match start found in
    // the lowercased text lies 30 characters right of the real one in the original.
    let dotted = "İ".repeat(30);
    let text = format!(
        "{}. {dotted} {} {NG13} {}",
        x('a', 250),
        x('b', 200),
        x('c', 400)
    );
    let mut s = Scanner::new(&idx, Compat::Megatron);
    let m = strip(&text, &mut s, &Rules::default());
    let mut s = Scanner::new(&idx, Compat::Sieve);
    let f = strip(&text, &mut s, &Rules::default());
    assert_eq!(m.cuts[0].start, f.cuts[0].start + 30);
}

#[test]
fn counting_resumes_after_a_match_so_overlaps_are_not_counted() {
    // Two task 13-grams overlapping by 12 words: the count pass (both modes, as in Megatron)
    // resumes after the first match, so only the first is counted.
    let idx = index(&[("t1", NG13), ("t2", &format!("{} november", &NG13[6..]))]);
    let text = format!("{NG13} november and more words follow here");
    let mut keys = Vec::new();
    for compat in [Compat::Sieve, Compat::Megatron] {
        count(&text, &mut Scanner::new(&idx, compat), &mut keys);
        assert_eq!(keys.len(), 1, "{compat:?}");
    }
    // Separated by other words, both are counted.
    let apart = format!("{NG13} and then {} november", &NG13[6..]);
    count(&apart, &mut Scanner::new(&idx, Compat::Sieve), &mut keys);
    assert_eq!(keys.len(), 2);
}
