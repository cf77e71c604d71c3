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

/// Megatron's `split_text` and the loop of `free_ngram` around it, transcribed over characters
/// for one task 13-gram that `str::find` locates (the generated documents use no other
/// words of it): the pieces kept, in text order.
fn megatron_pieces(text: &str, rules: &Rules) -> Vec<String> {
    let is_stop = |c: char| ".!?".contains(c);
    let mut queue = std::collections::VecDeque::from([text.to_string()]);
    let mut free = Vec::new();
    while let Some(t) = queue.pop_front() {
        let Some(start) = t.find(NG13) else {
            free.push(t);
            continue;
        };
        let chars: Vec<char> = t.chars().collect();
        let collect = |r: std::ops::Range<usize>| chars[r].iter().collect::<String>();
        let mut pos = start as isize - rules.context_chars as isize;
        while pos > 0 && !is_stop(chars[pos as usize]) {
            pos -= 1;
        }
        let first = if pos > 0 {
            collect(0..pos as usize + 1)
        } else {
            String::new()
        };
        let mut pos = start + NG13.len() + rules.context_chars;
        while pos < chars.len() && !is_stop(chars[pos]) {
            pos += 1;
        }
        let second = if pos + 1 < chars.len() {
            collect(pos + 1..chars.len())
        } else {
            String::new()
        };
        if first.len() > rules.min_piece_chars {
            free.push(first);
        }
        if second.len() > rules.min_piece_chars {
            queue.push_back(second);
        }
    }
    free
}

/// A seeded generator of numbers below `n` (a 64-bit LCG), for the generated-input tests.
pub(super) fn generator(seed: u64) -> impl FnMut(usize) -> usize {
    let mut state = seed;
    move |n| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize % n
    }
}

#[test]
fn strip_equals_megatrons_split_text_on_generated_documents() {
    let idx = index(&[("t1", NG13)]);
    let mut next = generator(0x9e37_79b9_7f4a_7c15);
    let (mut cut, mut both_sides) = (0, 0);
    for _ in 0..3000 {
        // Short words, some ending a sentence, with the n-gram at 0 to 3 places.
        let mut words: Vec<String> = Vec::new();
        for _ in 0..next(120) {
            let mut w = ["ab", "b", "abba", "ba"][next(4)].to_string();
            if next(5) == 0 {
                w.push(['.', '!', '?'][next(3)]);
            }
            words.push(w);
        }
        for _ in 0..next(4) {
            let at = next(words.len() + 1);
            words.insert(at, NG13.to_string());
        }
        let text = words.join(" ");
        let rules = Rules {
            context_chars: [0, 1, 2, 7, 30, 200][next(6)],
            min_piece_chars: [0, 1, 2, 3, 10, 40][next(6)],
            max_pieces: 10,
        };
        let expected = megatron_pieces(&text, &rules);
        for compat in [Compat::Sieve, Compat::Megatron] {
            let got = strip(&text, &mut Scanner::new(&idx, compat), &rules);
            let pieces: Vec<String> = got.pieces.iter().map(|(p, _)| p.clone()).collect();
            assert_eq!(pieces, expected, "{compat:?} {rules:?}\n{text}");
            for (piece, offset) in &got.pieces {
                assert_eq!(&text[*offset..*offset + piece.len()], piece);
            }
        }
        cut += usize::from(text.contains(NG13));
        both_sides += usize::from(expected.len() >= 2);
    }
    // The generated set exercises the rule, not only documents left whole.
    assert!(cut > 1500 && both_sides > 300, "{cut} {both_sides}");
}

#[test]
fn a_piece_after_of_exactly_min_piece_chars_is_dropped_one_more_kept() {
    let idx = index(&[("t1", NG13)]);
    for (len, kept) in [(199, false), (200, false), (201, true)] {
        // The cut runs 200 characters past the n-gram, on to the '.', then the piece after.
        let text = format!("{NG13} {}.{}", x('y', 250), x('z', len));
        let got = pieces(&text, &idx, Compat::Sieve);
        assert_eq!(got, if kept { vec![x('z', len)] } else { vec![] }, "{len}");
    }
}

#[test]
fn a_megatron_offset_past_the_end_walks_back_from_the_last_character() {
    let idx = index(&[("t1", NG13)]);
    // 100 'İ' are 200 characters lowercased: the match starts at 204 in the lowercased text,
    // past the 181 characters of the original. With no context the walk back starts at the
    // last character and stops at the '.' after "a".
    let text = format!("a. {} {NG13}", "İ".repeat(100));
    let rules = Rules {
        context_chars: 0,
        min_piece_chars: 0,
        max_pieces: 10,
    };
    let got = strip(&text, &mut Scanner::new(&idx, Compat::Megatron), &rules);
    let pieces: Vec<&str> = got.pieces.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(pieces, ["a."]);
    assert_eq!((got.cuts[0].start, got.cuts[0].end), (204, 181));
    // The n-gram is read from the lowercased text its offsets refer to.
    assert_eq!(got.cuts[0].ngram, NG13);
}

#[test]
fn counting_resumes_one_character_after_the_match() {
    // A task 13-gram starting with "e", the last letter of the first one's last word
    // ("mike"): resuming after the match and its separator never sees it, resuming on that
    // letter would.
    let tail = "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12";
    let idx = index(&[("t1", NG13), ("t2", &format!("e {tail}"))]);
    let text = format!("{NG13} {tail} and more");
    let mut keys = Vec::new();
    for compat in [Compat::Sieve, Compat::Megatron] {
        count(&text, &mut Scanner::new(&idx, compat), &mut keys);
        assert_eq!(keys.len(), 1, "{compat:?}");
    }
}

#[test]
fn megatron_counting_resumes_at_the_lowercased_offset_in_the_original_text() {
    // One 'İ' (two characters lowercased) shifts Megatron's offsets one character right in
    // the original text: the scan resumes one character into "fe", on "e", and finds the
    // task 13-gram starting there. Sieve resumes at "fe" and does not.
    let tail = "w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12";
    let idx = index(&[("t1", NG13), ("t2", &format!("e {tail}"))]);
    let text = format!("İ {NG13} fe {tail} and more");
    let mut keys = Vec::new();
    count(&text, &mut Scanner::new(&idx, Compat::Megatron), &mut keys);
    assert_eq!(keys.len(), 2);
    count(&text, &mut Scanner::new(&idx, Compat::Sieve), &mut keys);
    assert_eq!(keys.len(), 1);
}

#[test]
fn an_index_without_task_ngrams_is_empty() {
    assert!(index(&[]).is_empty());
    // Seven words make no n-gram of 8 to 13 words.
    assert!(index(&[("t", "one two three four five six seven")]).is_empty());
    assert!(!index(&[("t1", NG13)]).is_empty());
}

#[test]
fn a_text_of_exactly_the_ngram_length_is_scanned() {
    // Sieve scans a text of min_n words; Megatron a text of max_n (13) words, at its one
    // window.
    let idx = index(&[("b", NG8), ("t1", NG13)]);
    let mut keys = Vec::new();
    count(NG8, &mut Scanner::new(&idx, Compat::Sieve), &mut keys);
    assert_eq!(keys.len(), 1);
    count(NG13, &mut Scanner::new(&idx, Compat::Megatron), &mut keys);
    assert_eq!(keys.len(), 1);
}

#[test]
fn a_match_spans_its_words_in_sieve_mode_and_the_joined_ngram_in_megatron_mode() {
    let idx = index(&[("t1", NG13)]);
    // Commas and double spaces make the matched span 36 characters longer than the 77 of
    // the words joined by single spaces.
    let text = format!(
        "Some words first, {}. And after.",
        NG13.replace(' ', ",   ")
    );
    let start = "Some words first, ".len();
    for (compat, len) in [(Compat::Sieve, 77 + 36), (Compat::Megatron, 77)] {
        let mut s = Scanner::new(&idx, compat);
        s.tokenize(&text);
        let m = s.first_match().unwrap();
        assert_eq!(s.span_chars(&text, &m), (start, len), "{compat:?}");
    }
}
