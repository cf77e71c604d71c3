//! The prefix, suffix and infix rules of spaCy's English tokenizer, as Rust code rather than
//! regular expressions: the rules need look-behind and look-ahead, and written out they are
//! both exact and fast. Each function answers the same question as the spaCy call it names.

use super::classes::{alpha, alpha_lower, alpha_upper, before_suffix_dot, icon, quote};
use super::tables::{CURRENCY, HYPHENS, PREFIXES, SUFFIXES, UNITS};

/// One piece of spaCy's prefix or suffix alternation. Literal pieces come from spaCy's lists;
/// the others are its patterns with look-around, named for what they match.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Affix {
    Lit(&'static str),
    /// `\+(?![0-9])`
    PlusNotBeforeDigit,
    /// `\.\.+`
    Dots,
    /// one icon character
    Icon,
    /// `(?<=[0-9])\+`
    PlusAfterDigit,
    /// `(?<=°[FfCcKk])\.`
    DotAfterDegreeUnit,
    /// a currency symbol after a digit
    CurrencyAfterDigit,
    /// a unit after a digit
    UnitAfterDigit,
    /// `(?<=[0-9 lower-case letters % ² - + punctuation quotes])\.`
    DotAfterLowerOrSymbol,
    /// `(?<=[upper][upper])\.`
    DotAfterTwoUpper,
}

fn first_char(s: &str) -> Option<char> {
    s.chars().next()
}

fn last_char(s: &str) -> Option<char> {
    s.chars().next_back()
}

/// Byte length of a leading run of at least two periods.
fn dots_at_start(s: &str) -> usize {
    let n = s.bytes().take_while(|&b| b == b'.').count();
    if n >= 2 {
        n
    } else {
        0
    }
}

/// `Tokenizer.find_prefix`: the byte length of the prefix to peel, 0 if none. The first piece
/// in spaCy's order that matches at the start decides.
pub(super) fn prefix_len(s: &str) -> usize {
    for affix in PREFIXES {
        let n = match *affix {
            Affix::Lit(lit) if s.starts_with(lit) => lit.len(),
            Affix::Lit(_) => 0,
            Affix::PlusNotBeforeDigit => {
                let next = s.as_bytes().get(1);
                if s.starts_with('+') && !next.is_some_and(u8::is_ascii_digit) {
                    1
                } else {
                    0
                }
            }
            Affix::Dots => dots_at_start(s),
            Affix::Icon => first_char(s).filter(|&c| icon(c)).map_or(0, char::len_utf8),
            _ => 0,
        };
        if n > 0 {
            return n;
        }
    }
    0
}

/// Whether suffix piece `affix` matches all of `tail`, with `head` (the text before it in the
/// string searched) for its look-behind.
fn suffix_matches(affix: &Affix, head: &str, tail: &str) -> bool {
    let digit_before = || last_char(head).is_some_and(|c| c.is_ascii_digit());
    match *affix {
        Affix::Lit(lit) => tail == lit,
        Affix::Dots => tail.len() >= 2 && tail.bytes().all(|b| b == b'.'),
        Affix::Icon => {
            let mut cs = tail.chars();
            matches!((cs.next(), cs.next()), (Some(c), None) if icon(c))
        }
        Affix::PlusAfterDigit => tail == "+" && digit_before(),
        Affix::DotAfterDegreeUnit => {
            let mut back = head.chars().rev();
            tail == "."
                && matches!(back.next(), Some('F' | 'f' | 'C' | 'c' | 'K' | 'k'))
                && back.next() == Some('°')
        }
        Affix::CurrencyAfterDigit => digit_before() && CURRENCY.contains(&tail),
        Affix::UnitAfterDigit => digit_before() && UNITS.contains(&tail),
        Affix::DotAfterLowerOrSymbol => {
            tail == "." && last_char(head).is_some_and(before_suffix_dot)
        }
        Affix::DotAfterTwoUpper => {
            let mut back = head.chars().rev();
            tail == "."
                && back.next().is_some_and(alpha_upper)
                && back.next().is_some_and(alpha_upper)
        }
        Affix::PlusNotBeforeDigit => false,
    }
}

/// The longest suffix piece, in characters (spaCy's `…$|……$|...` search is unanchored at the
/// left, so the leftmost start at which any piece matches to the end wins).
const LONGEST_SUFFIX_CHARS: usize = 8;

/// `Tokenizer.find_suffix`: the byte length of the suffix to peel, 0 if none.
pub(super) fn suffix_len(s: &str) -> usize {
    // Candidates: the start of a trailing run of periods (the only unbounded piece), and every
    // start among the last few characters.
    let dots = s.bytes().rev().take_while(|&b| b == b'.').count();
    let mut best = if dots >= 2 {
        Some(s.len() - dots)
    } else {
        None
    };
    let starts: Vec<usize> = s
        .char_indices()
        .rev()
        .take(LONGEST_SUFFIX_CHARS)
        .map(|(i, _)| i)
        .collect();
    for &i in starts.iter().rev() {
        if best.is_some_and(|b| b <= i) {
            break;
        }
        let (head, tail) = s.split_at(i);
        if SUFFIXES.iter().any(|a| suffix_matches(a, head, tail)) {
            best = Some(i);
            break;
        }
    }
    best.map_or(0, |i| s.len() - i)
}

/// The infix at byte `at` of `s`, as its end, trying spaCy's English infix pieces in order.
fn infix_at(s: &str, at: usize) -> Option<usize> {
    let rest = &s[at..];
    let c = first_char(rest)?;
    let after = |n: usize| first_char(&rest[n..]);
    let before = last_char(&s[..at]);
    // \.\.+
    let dots = dots_at_start(rest);
    if dots > 0 {
        return Some(at + dots);
    }
    // …
    if c == '…' {
        return Some(at + c.len_utf8());
    }
    if icon(c) {
        return Some(at + c.len_utf8());
    }
    let b = before?;
    // (?<=[0-9])[+\-\*^](?=[0-9-])
    if b.is_ascii_digit()
        && matches!(c, '+' | '-' | '*' | '^')
        && after(1).is_some_and(|n| n.is_ascii_digit() || n == '-')
    {
        return Some(at + 1);
    }
    // (?<=[lower quote])\.(?=[upper quote])
    if c == '.'
        && (alpha_lower(b) || quote(b))
        && after(1).is_some_and(|n| alpha_upper(n) || quote(n))
    {
        return Some(at + 1);
    }
    // (?<=[alpha]),(?=[alpha])
    if c == ',' && alpha(b) && after(1).is_some_and(alpha) {
        return Some(at + 1);
    }
    let letter_or_digit_before = alpha(b) || b.is_ascii_digit();
    // (?<=[alpha 0-9])(?:-|–|—|--|---|——|~)(?=[alpha]), alternatives in that order
    if letter_or_digit_before {
        for h in HYPHENS {
            if rest.starts_with(h) && after(h.len()).is_some_and(alpha) {
                return Some(at + h.len());
            }
        }
    }
    // (?<=[alpha 0-9])[:<>=/](?=[alpha])
    if letter_or_digit_before
        && matches!(c, ':' | '<' | '>' | '=' | '/')
        && after(1).is_some_and(alpha)
    {
        return Some(at + 1);
    }
    None
}

/// `Tokenizer.find_infix`: the non-overlapping infix matches, left to right, as byte ranges.
pub(super) fn infixes(s: &str, out: &mut Vec<(usize, usize)>) {
    out.clear();
    let mut at = 0;
    while at < s.len() {
        match infix_at(s, at) {
            Some(end) => {
                out.push((at, end));
                at = end;
            }
            None => at += first_char(&s[at..]).map_or(1, char::len_utf8),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_follow_spacy_order() {
        assert_eq!(prefix_len("(hello"), 1);
        assert_eq!(prefix_len("……x"), "…".len()); // "…" comes before "……"
        assert_eq!(prefix_len("...x"), 3);
        assert_eq!(prefix_len("+1"), 0);
        assert_eq!(prefix_len("+a"), 1);
        assert_eq!(prefix_len("US$5"), 3);
        assert_eq!(prefix_len("hello"), 0);
    }

    #[test]
    fn suffixes_take_the_leftmost_start() {
        assert_eq!(suffix_len("hello..."), 3);
        assert_eq!(suffix_len("10km"), 2);
        assert_eq!(suffix_len("km"), 0); // no digit before
        assert_eq!(suffix_len("it's"), 2);
        assert_eq!(suffix_len("end."), 1);
        assert_eq!(suffix_len("U.S."), 0); // "S" alone is not two capitals
        assert_eq!(suffix_len("USA."), 1);
        assert_eq!(suffix_len("5°C."), 1);
        assert_eq!(suffix_len("hello"), 0);
    }

    #[test]
    fn every_bounded_suffix_fits_the_search_window() {
        let literal = SUFFIXES.iter().filter_map(|a| match a {
            Affix::Lit(l) => Some(l.chars().count()),
            _ => None,
        });
        let longest = literal
            .chain(UNITS.iter().chain(CURRENCY).map(|u| u.chars().count()))
            .max()
            .unwrap();
        assert!(longest <= LONGEST_SUFFIX_CHARS, "{longest}");
    }

    #[test]
    fn infixes_use_their_lookaround() {
        let mut v = Vec::new();
        infixes("well-known", &mut v);
        assert_eq!(v, [(4, 5)]);
        infixes("a--b", &mut v);
        assert_eq!(v, [(1, 3)]);
        infixes("5-10", &mut v);
        assert_eq!(v, [(1, 2)]);
        infixes("1/2", &mut v);
        assert!(v.is_empty());
        infixes("hello.World", &mut v);
        assert_eq!(v, [(5, 6)]);
    }
}
