//! spaCy's URL rule: a chunk left after affix peeling that looks like a URL stays one token.
//! The grammar (optional scheme, optional user info, a public IPv4 address or a host name with
//! a lower-case top-level label, optional port and path) is Diego Perini's URL expression as
//! spaCy adapted it; it needs look-ahead for the private address ranges, hence fancy-regex.

use std::sync::OnceLock;

use super::tables::ALPHA_LOWER;

fn class_of(ranges: &[(char, char)]) -> String {
    let mut s = String::from("[");
    for &(a, b) in ranges {
        s.push_str(&format!("\\x{{{:X}}}-\\x{{{:X}}}", a as u32, b as u32));
    }
    s.push(']');
    s
}

fn pattern() -> &'static fancy_regex::Regex {
    static RX: OnceLock<fancy_regex::Regex> = OnceLock::new();
    RX.get_or_init(|| {
        let tld = class_of(ALPHA_LOWER);
        // Host characters: ASCII letters and digits and everything from U+00A1 to U+FFFF.
        let h = r"A-Za-z0-9\x{A1}-\x{FFFF}";
        let scheme = r"(?:(?:[\w+\-.]{2,})://)?";
        let user = r"(?:\S+(?::\S*)?@)?";
        let private = concat!(
            r"(?!(?:10|127)(?:\.\d{1,3}){3})",
            r"(?!(?:169\.254|192\.168)(?:\.\d{1,3}){2})",
            r"(?!172\.(?:1[6-9]|2\d|3[0-1])(?:\.\d{1,3}){2})"
        );
        let ip = concat!(
            r"(?:[1-9]\d?|1\d\d|2[01]\d|22[0-3])",
            r"(?:\.(?:1?\d{1,2}|2[0-4]\d|25[0-5])){2}",
            r"(?:\.(?:[1-9]\d?|1\d\d|2[0-4]\d|25[0-4]))"
        );
        let host = format!(r"(?:(?:[{h}][{h}_-]{{0,62}})?[{h}]\.)+(?:{tld}{{2,63}})");
        let tail = r"(?::\d{2,5})?(?:[/?#]\S*)?$";
        let full = format!("^{scheme}{user}(?:{private}{ip}|{host}){tail}");
        fancy_regex::RegexBuilder::new(&full)
            .backtrack_limit(1_000_000)
            .build()
            .expect("the URL pattern compiles")
    })
}

/// Whether `s` is one URL token. Only strings with a '.' can match (every alternative needs
/// one), which skips the regex for most chunks.
pub(super) fn matches(s: &str) -> bool {
    s.contains('.') && pattern().is_match(s).unwrap_or(false)
}
