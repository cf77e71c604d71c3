//! What a unit is (a line, or a paragraph between blank lines) and the key it is matched by:
//! a 64-bit hash of its normalised form (lowercase, digits as 0, punctuation and symbols
//! dropped, whitespace runs as one space), as CCNet normalises lines.

use serde::{Deserialize, Serialize};

/// How a document is cut into units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Each line (`\n`), as CCNet and dolma do on extracted web text.
    Line,
    /// Each paragraph: text between blank lines (`\n\n`).
    Paragraph,
}

impl Split {
    pub fn separator(self) -> &'static str {
        match self {
            Split::Line => "\n",
            Split::Paragraph => "\n\n",
        }
    }

    /// The units of `text`, in order; joining them with the separator gives `text` back.
    pub fn units(self, text: &str) -> std::str::Split<'_, &'static str> {
        text.split(self.separator())
    }
}

/// The normalised form of `unit` in `out` (cleared first), and its length in characters.
pub fn normalise(unit: &str, out: &mut String) -> usize {
    out.clear();
    let mut chars = 0;
    let mut space = false;
    for c in unit.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if !c.is_alphanumeric() {
            continue;
        }
        if space {
            out.push(' ');
            chars += 1;
            space = false;
        }
        if c.is_numeric() {
            out.push('0');
            chars += 1;
        } else {
            for l in c.to_lowercase() {
                out.push(l);
                chars += 1;
            }
        }
    }
    chars
}

/// The key of a normalised unit.
pub fn key(normalised: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(normalised.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_differing_in_case_digits_punctuation_and_spacing_share_a_key() {
        let mut a = String::new();
        let mut b = String::new();
        normalise("  We use Cookies (2024)!  Accept?", &mut a);
        normalise("we use cookies 1999 accept", &mut b);
        assert_eq!(a, "we use cookies 0000 accept");
        assert_eq!(key(&a), key(&b));
        let mut c = String::new();
        normalise("we use biscuits 1999 accept", &mut c);
        assert_ne!(key(&a), key(&c));
    }

    #[test]
    fn units_join_back_to_the_text() {
        let text = "one\n\ntwo\nthree\n\n\nfour";
        for split in [Split::Line, Split::Paragraph] {
            let units: Vec<&str> = split.units(text).collect();
            assert_eq!(units.join(split.separator()), text);
        }
        assert_eq!(Split::Paragraph.units(text).count(), 3);
        assert_eq!(Split::Line.units(text).count(), 7);
    }
}
