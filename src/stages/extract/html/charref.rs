//! Character references (`&amp;`, `&#8217;`, `&#x1F600;`, the legacy `&copy` without `;`),
//! decoded as the HTML tokenizer does.

use super::entities::NAMED;

/// What a reference decodes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    Named(&'static str),
    Char(char),
}

/// The longest entity name is 32 bytes with its `;`.
const LONGEST_NAME: usize = 32;

/// Decodes the reference that starts after an `&` at `rest`, if there is one: the bytes it
/// takes and what it stands for. In an attribute value a named reference without `;` followed
/// by `=` or an alphanumeric stays text (`?a=1&copy=2` is not `©=2`).
pub fn decode(rest: &[u8], in_attribute: bool) -> Option<(usize, Decoded)> {
    match rest.first()? {
        b'#' => numeric(rest),
        c if c.is_ascii_alphanumeric() => named(rest, in_attribute),
        _ => None,
    }
}

fn named(rest: &[u8], in_attribute: bool) -> Option<(usize, Decoded)> {
    let alnum = rest
        .iter()
        .take(LONGEST_NAME)
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    let with_semicolon = rest.get(alnum) == Some(&b';');
    let longest = alnum + usize::from(with_semicolon);
    // The longest prefix that is a name (names without `;` are the legacy ones).
    for len in (1..=longest).rev() {
        let candidate = &rest[..len];
        let Ok(i) = NAMED.binary_search_by(|(n, _)| n.as_bytes().cmp(candidate)) else {
            continue;
        };
        let terminated = candidate.ends_with(b";");
        if in_attribute && !terminated {
            if let Some(next) = rest.get(len) {
                if *next == b'=' || next.is_ascii_alphanumeric() {
                    return None;
                }
            }
        }
        return Some((len, Decoded::Named(NAMED[i].1)));
    }
    None
}

fn numeric(rest: &[u8]) -> Option<(usize, Decoded)> {
    let hex = matches!(rest.get(1), Some(b'x' | b'X'));
    let start = if hex { 2 } else { 1 };
    let radix = if hex { 16 } else { 10 };
    let digits = rest[start..]
        .iter()
        .take_while(|c| c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()))
        .count();
    if digits == 0 {
        return None;
    }
    let mut value: u32 = 0;
    for &c in &rest[start..start + digits] {
        let d = (c as char).to_digit(radix).unwrap_or(0);
        value = value.saturating_mul(radix).saturating_add(d);
    }
    let mut len = start + digits;
    if rest.get(len) == Some(&b';') {
        len += 1;
    }
    Some((len, Decoded::Char(numeric_char(value))))
}

/// The character a numeric reference stands for: NUL, surrogates and values beyond Unicode
/// are U+FFFD, and 0x80–0x9F are read as windows-1252, as browsers do.
fn numeric_char(value: u32) -> char {
    const WINDOWS_1252: [u32; 32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013,
        0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ];
    let value = match value {
        0 => 0xFFFD,
        0x80..=0x9F => WINDOWS_1252[(value - 0x80) as usize],
        v => v,
    };
    char::from_u32(value).unwrap_or('\u{FFFD}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str, attr: bool) -> Option<(usize, String)> {
        decode(s.as_bytes(), attr).map(|(n, d)| {
            (
                n,
                match d {
                    Decoded::Named(s) => s.to_string(),
                    Decoded::Char(c) => c.to_string(),
                },
            )
        })
    }

    #[test]
    fn named_references_take_the_longest_name() {
        assert_eq!(text("amp; x", false), Some((4, "&".into())));
        assert_eq!(text("copy2019", false), Some((4, "©".into())));
        // `&notin;` is one name; `&notit;` is the legacy `&not` then `it;`.
        assert_eq!(text("notin;", false), Some((6, "∉".into())));
        assert_eq!(text("notit;", false), Some((3, "¬".into())));
        assert_eq!(text("nosuch;", false), None);
        assert_eq!(text(" x", false), None);
    }

    #[test]
    fn attribute_values_keep_unterminated_names_before_text() {
        assert_eq!(text("copy=2", true), None);
        assert_eq!(text("copyx", true), None);
        assert_eq!(text("copy 2", true), Some((4, "©".into())));
        assert_eq!(text("copy;x", true), Some((5, "©".into())));
    }

    #[test]
    fn numeric_references() {
        assert_eq!(text("#8217;", false), Some((6, "\u{2019}".into())));
        assert_eq!(text("#x1F600;", false), Some((8, "😀".into())));
        assert_eq!(text("#X41", false), Some((4, "A".into())));
        assert_eq!(text("#150;", false), Some((5, "\u{2013}".into())));
        assert_eq!(text("#0;", false), Some((3, "\u{FFFD}".into())));
        assert_eq!(text("#xD800;", false), Some((7, "\u{FFFD}".into())));
        assert_eq!(text("#99999999999;", false), Some((13, "\u{FFFD}".into())));
        assert_eq!(text("#;", false), None);
        assert_eq!(text("#xg", false), None);
    }
}
