//! Character classes: spaCy's (which characters its English rules call letters, quotes, icons)
//! and Python's own predicates that datatrove's filters call (`str.isalpha`, `str.isspace`,
//! Unicode categories P*, `re`'s `\w` and `\d`). Both come from the generated tables, so they
//! match the pinned spaCy and CPython exactly rather than Rust's newer Unicode tables.

use super::tables;

/// Whether `c` lies in one of the sorted, disjoint inclusive ranges.
fn in_ranges(c: char, ranges: &[(char, char)]) -> bool {
    ranges
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// spaCy's ALPHA.
pub fn alpha(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    in_ranges(c, tables::ALPHA)
}

/// spaCy's ALPHA_LOWER.
pub fn alpha_lower(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_lowercase();
    }
    in_ranges(c, tables::ALPHA_LOWER)
}

/// spaCy's ALPHA_UPPER.
pub fn alpha_upper(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_uppercase();
    }
    in_ranges(c, tables::ALPHA_UPPER)
}

/// spaCy's quote characters (CONCAT_QUOTES as a class).
pub fn quote(c: char) -> bool {
    in_ranges(c, tables::QUOTES)
}

/// spaCy's icons: other symbols except the degree sign.
pub fn icon(c: char) -> bool {
    !c.is_ascii() && in_ranges(c, tables::ICONS)
}

/// The characters after which spaCy peels a final period.
pub fn before_suffix_dot(c: char) -> bool {
    in_ranges(c, tables::SUFFIX_DOT_AFTER)
}

/// Python `str.isalpha` for one character (categories L*).
pub fn py_alpha(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    in_ranges(c, tables::PY_ALPHA)
}

/// Python `str.isspace` for one character (includes U+001C–001F, unlike Rust).
pub fn py_space(c: char) -> bool {
    if c.is_ascii() {
        return matches!(c, '\t'..='\r' | '\x1c'..='\x1f' | ' ');
    }
    in_ranges(c, tables::PY_SPACE)
}

/// Unicode general category P* (spaCy's `is_punct` asks it of every character).
pub fn py_punct(c: char) -> bool {
    in_ranges(c, tables::PY_PUNCT)
}

/// Python `re`'s `\w` on a str pattern.
pub fn py_word(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    in_ranges(c, tables::PY_WORD)
}

/// A regex character class (Rust `regex` syntax) of the characters Python's `re` calls `\W`
/// (not word characters), for patterns that must match as Python's do.
pub fn py_non_word_class() -> String {
    let mut class = String::from("[^");
    for &(a, b) in tables::PY_WORD {
        class.push_str(&format!("\\x{{{:X}}}-\\x{{{:X}}}", a as u32, b as u32));
    }
    class.push(']');
    class
}

/// Python `re`'s `\d` on a str pattern (decimal digits of every script).
pub fn py_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    in_ranges(c, tables::PY_DIGIT)
}

/// Python's `str.strip()`: trims `py_space` characters.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(py_space)
}

/// Python's `str.split()` with no argument: runs of `py_space` separate, empty pieces vanish.
pub fn py_split_whitespace(s: &str) -> impl Iterator<Item = &str> {
    s.split(py_space).filter(|w| !w.is_empty())
}

/// Python's `str.splitlines()`: breaks at \n, \r, \r\n, \v, \f, \x1c, \x1d, \x1e, \x85,
/// U+2028 and U+2029; no empty piece after a final break.
pub fn py_splitlines(s: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut iter = s.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let brk = matches!(
            c,
            '\n' | '\r'
                | '\x0b'
                | '\x0c'
                | '\x1c'
                | '\x1d'
                | '\x1e'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        );
        if brk {
            lines.push(&s[start..i]);
            let mut end = i + c.len_utf8();
            if c == '\r' && bytes.get(end) == Some(&b'\n') {
                iter.next();
                end += 1;
            }
            start = end;
        }
    }
    if start < s.len() {
        lines.push(&s[start..]);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_predicates_differ_from_rust_where_documented() {
        assert!(py_space('\x1c') && !'\x1c'.is_whitespace());
        assert!(!py_alpha('\u{93E}') && '\u{93E}'.is_alphabetic());
        assert!(py_word('½') && py_word('²'));
        assert!(py_punct('«') && !py_punct('$'));
        assert!(alpha('é') && alpha('я') && !alpha('ђ'));
    }

    #[test]
    fn splitlines_matches_python() {
        assert_eq!(
            py_splitlines("a\r\nb\rc\n\nd\u{2028}e\n"),
            ["a", "b", "c", "", "d", "e"]
        );
        assert_eq!(py_splitlines(""), Vec::<&str>::new());
        assert_eq!(py_splitlines("\n"), [""]);
        assert_eq!(py_strip("\x1c a \u{a0}"), "a");
    }
}
