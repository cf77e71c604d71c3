//! GPT-2's pre-tokenizer without a regex engine.
//!
//! tiktoken splits text with the r50k pattern
//! `'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s`
//! before byte-pair merging; most of its time goes to that regex. The pattern is a handful of
//! character classes tried in order, so a hand-written scanner gives the same pieces at a
//! fraction of the cost:
//!
//! 1. an apostrophe with `s d m t` or `ll ve re` (case-sensitive);
//! 2. an optional single space, then a run of letters;
//! 3. an optional single space, then a run of numbers;
//! 4. an optional single space, then a run of anything but whitespace, letters and numbers;
//! 5. a whitespace run: whole if it ends the text or is one character, else all but its last
//!    character (which then starts the next piece, as the space of 2–4 or on its own).
//!
//! The letter and number classes are Unicode general categories `L` and `N`, taken from the
//! same tables the `regex` crate (and so tiktoken) uses.

use std::sync::OnceLock;

/// What a character is to the pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Number,
    Space,
    Other,
}

/// Sorted code point ranges of `\p{L}` and `\p{N}`.
struct Tables {
    letters: Vec<(u32, u32)>,
    numbers: Vec<(u32, u32)>,
}

fn class_ranges(pattern: &str) -> Vec<(u32, u32)> {
    use regex_syntax::hir::{Class as HirClass, HirKind};
    let hir = regex_syntax::Parser::new()
        .parse(pattern)
        .expect("a valid Unicode class");
    match hir.kind() {
        HirKind::Class(HirClass::Unicode(c)) => c
            .ranges()
            .iter()
            .map(|r| (r.start() as u32, r.end() as u32))
            .collect(),
        other => unreachable!("{pattern} parsed to {other:?}"),
    }
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| Tables {
        letters: class_ranges(r"\p{L}"),
        numbers: class_ranges(r"\p{N}"),
    })
}

fn in_ranges(ranges: &[(u32, u32)], c: u32) -> bool {
    match ranges.binary_search_by(|&(lo, _)| lo.cmp(&c)) {
        Ok(_) => true,
        Err(0) => false,
        Err(i) => c <= ranges[i - 1].1,
    }
}

/// Classes of the ASCII characters, so that English text never searches a table.
const ASCII: [Class; 128] = {
    let mut t = [Class::Other; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphabetic() {
            Class::Letter
        } else if c.is_ascii_digit() {
            Class::Number
        } else if matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
            Class::Space
        } else {
            Class::Other
        };
        b += 1;
    }
    t
};

#[inline]
fn class_of(c: char) -> Class {
    if c.is_ascii() {
        return ASCII[c as usize];
    }
    let t = tables();
    if in_ranges(&t.letters, c as u32) {
        Class::Letter
    } else if in_ranges(&t.numbers, c as u32) {
        Class::Number
    } else if c.is_whitespace() {
        Class::Space
    } else {
        Class::Other
    }
}

/// Decodes the character at byte `i` (which must be a character boundary).
#[inline]
fn char_at(text: &str, i: usize) -> (char, usize) {
    let b = text.as_bytes()[i];
    if b < 0x80 {
        return (b as char, 1);
    }
    let c = text[i..].chars().next().expect("a character boundary");
    (c, c.len_utf8())
}

/// The end of the run of `class` characters starting at byte `i`.
#[inline]
fn run_end(text: &str, mut i: usize, class: Class) -> usize {
    let bytes = text.as_bytes();
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            if ASCII[b as usize] != class {
                break;
            }
            i += 1;
        } else {
            let (c, len) = char_at(text, i);
            if class_of(c) != class {
                break;
            }
            i += len;
        }
    }
    i
}

/// The end of the contraction at byte `i` (an apostrophe), if there is one.
#[inline]
fn contraction_end(bytes: &[u8], i: usize) -> Option<usize> {
    match bytes.get(i + 1) {
        Some(b's' | b'd' | b'm' | b't') => Some(i + 2),
        Some(&a) => match (a, bytes.get(i + 2)) {
            (b'l', Some(b'l')) | (b'v', Some(b'e')) | (b'r', Some(b'e')) => Some(i + 3),
            _ => None,
        },
        None => None,
    }
}

/// Calls `f` with every piece of `text`, in order; the pieces concatenate to `text`.
pub fn pieces<'a>(text: &'a str, mut f: impl FnMut(&'a str)) {
    let bytes = text.as_bytes();
    let n = bytes.len();
    let mut i = 0;
    while i < n {
        let (c, len) = char_at(text, i);
        let end = if c == '\'' {
            match contraction_end(bytes, i) {
                Some(end) => end,
                // The apostrophe is itself "other": the run starts with it.
                None => run_end(text, i, Class::Other),
            }
        } else {
            match class_of(c) {
                Class::Space => {
                    // An optional space glued to the run after it.
                    let next = (i + len < n).then(|| class_of(char_at(text, i + len).0));
                    match next {
                        Some(class) if c == ' ' && class != Class::Space => {
                            run_end(text, i + 1, class)
                        }
                        _ => {
                            let end = run_end(text, i, Class::Space);
                            if end == n {
                                end
                            } else {
                                // Leave the last whitespace character to the next piece,
                                // unless the run is that one character.
                                let last = text[i..end].chars().next_back().expect("a run");
                                if end - last.len_utf8() > i {
                                    end - last.len_utf8()
                                } else {
                                    end
                                }
                            }
                        }
                    }
                }
                class => run_end(text, i + len, class),
            }
        };
        f(&text[i..end]);
        i = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        pieces(text, |p| out.push(p));
        out
    }

    #[test]
    fn follows_the_pattern_order() {
        assert_eq!(split("Hello world"), ["Hello", " world"]);
        assert_eq!(
            split("I'm here, they'll"),
            ["I", "'m", " here", ",", " they", "'ll"]
        );
        assert_eq!(split("a  b"), ["a", " ", " b"]);
        assert_eq!(split("a\n\n b"), ["a", "\n\n", " b"]);
        assert_eq!(split("a \tb"), ["a", " ", "\t", "b"]);
        assert_eq!(split("x  "), ["x", "  "]);
        assert_eq!(split(" 'll"), [" '", "ll"]);
        assert_eq!(split("'Sup"), ["'", "Sup"]);
        assert_eq!(split("abc123 45!?"), ["abc", "123", " 45", "!?"]);
        assert_eq!(split(" ...x"), [" ...", "x"]);
        assert_eq!(split("é\u{301}x"), ["é", "\u{301}", "x"]);
        assert_eq!(split("\u{a0}x"), ["\u{a0}", "x"]);
        // One whitespace character at the end, alone or after a word.
        assert_eq!(split("x "), ["x", " "]);
        assert_eq!(split(" "), [" "]);
        assert_eq!(split("a\n"), ["a", "\n"]);
    }

    /// Generated texts over the characters where the pattern's branches meet (spaces of
    /// several kinds, apostrophes and contractions, letters, digits, a combining mark, CJK,
    /// punctuation, line breaks), up to 10 of them: the pieces cover the text, and encoded
    /// they give tiktoken's GPT-2 ids (tiktoken-rs splits by the pattern itself).
    #[test]
    fn pieces_encode_to_tiktokens_ids_on_generated_texts() {
        let atoms = [
            " ", "  ", "\n", "\t", "\u{a0}", "\u{3000}", "'", "'s", "'ll", "'T", "a", "Zq", "é",
            "\u{301}", "1", "42", "東京", "!", "...", "-", "\r\n",
        ];
        let t = crate::tokenizer::Tokenizer::by_name("gpt2").unwrap();
        let reference = tiktoken_rs::r50k_base().unwrap();
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut text = String::new();
            let mut y = x;
            for _ in 0..x % 11 {
                y = y
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                text.push_str(atoms[(y >> 33) as usize % atoms.len()]);
            }
            assert_eq!(split(&text).concat(), text);
            let mut ids = Vec::new();
            t.encode(&text, &mut ids).unwrap();
            assert_eq!(ids, reference.encode_ordinary(&text), "{text:?}");
        }
    }
}
