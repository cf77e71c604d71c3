//! Unicode repair for the common real cases, in the spirit of ftfy: UTF-8 that was decoded
//! as windows-1252 or latin-1 ("mojibake": `Ã©` for `é`, `â€™` for `’`), HTML entities left
//! in extracted text, control and invisible characters, and composed (NFC) forms.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

/// The windows-1252 byte of a character, if it has one above 0x7f (C1 controls map to their
/// latin-1 byte, as decoders that fall back to latin-1 produce them).
fn cp1252_byte(c: char) -> Option<u8> {
    let cp = c as u32;
    if (0xa0..=0xff).contains(&cp) || (0x80..=0x9f).contains(&cp) {
        return Some(cp as u8);
    }
    Some(match c {
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8a,
        '‹' => 0x8b,
        'Œ' => 0x8c,
        'Ž' => 0x8e,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9a,
        '›' => 0x9b,
        'œ' => 0x9c,
        'ž' => 0x9e,
        'Ÿ' => 0x9f,
        _ => return None,
    })
}

/// Re-decodes runs of windows-1252 characters that spell valid multi-byte UTF-8.
fn fix_mojibake_once(s: &str) -> Cow<'_, str> {
    // Fast path: mojibake always contains a UTF-8 lead byte read as Â..ô.
    if !s.chars().any(|c| ('\u{c2}'..='\u{f4}').contains(&c)) {
        return Cow::Borrowed(s);
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut changed = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let lead = cp1252_byte(c).filter(|b| (0xc2..=0xf4).contains(b));
        if let Some(b) = lead {
            let need = if b >= 0xf0 {
                3
            } else if b >= 0xe0 {
                2
            } else {
                1
            };
            let tail: Option<Vec<u8>> = chars.get(i + 1..i + 1 + need).and_then(|t| {
                t.iter()
                    .map(|&c| cp1252_byte(c).filter(|x| (0x80..=0xbf).contains(x)))
                    .collect()
            });
            if let Some(tail) = tail {
                let mut bytes = vec![b];
                bytes.extend(tail);
                if let Ok(decoded) = std::str::from_utf8(&bytes) {
                    out.push_str(decoded);
                    i += 1 + need;
                    changed = true;
                    continue;
                }
            }
        }
        out.push(c);
        i += 1;
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(s)
    }
}

/// Undoes up to two layers of mojibake.
pub fn fix_mojibake(s: &str) -> Cow<'_, str> {
    match fix_mojibake_once(s) {
        Cow::Borrowed(b) => Cow::Borrowed(b),
        Cow::Owned(once) => match fix_mojibake_once(&once) {
            Cow::Borrowed(_) => Cow::Owned(once),
            Cow::Owned(twice) => Cow::Owned(twice),
        },
    }
}

fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "mdash" => '—',
        "ndash" => '–',
        "hellip" => '…',
        "rsquo" => '’',
        "lsquo" => '‘',
        "rdquo" => '”',
        "ldquo" => '“',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "laquo" => '«',
        "raquo" => '»',
        "euro" => '€',
        "pound" => '£',
        "deg" => '°',
        "eacute" => 'é',
        "egrave" => 'è',
        "aacute" => 'á',
        "agrave" => 'à',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "auml" => 'ä',
        "szlig" => 'ß',
        "ccedil" => 'ç',
        "ntilde" => 'ñ',
        "bull" => '•',
        "middot" => '·',
        "times" => '×',
        _ => return None,
    })
}

/// Decodes HTML entities left in text (`&amp;`, `&#39;`, `&#x2019;`, ...).
pub fn decode_entities(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut changed = false;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest[1..].find(';').map(|e| e + 1).filter(|&e| e <= 12);
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            if let Some(num) = name.strip_prefix('#') {
                let cp = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => num.parse::<u32>().ok(),
                }?;
                char::from_u32(cp).filter(|c| *c != '\0').map(|c| (c, e))
            } else {
                named_entity(name).map(|c| (c, e))
            }
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
                changed = true;
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(s)
    }
}

/// Removes control characters (but tab and newline), C1 controls and invisible format
/// characters (zero-width spaces, byte-order marks, soft hyphens); `\r\n` and `\r` become `\n`.
pub fn remove_controls(s: &str) -> Cow<'_, str> {
    let bad = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(
                c,
                '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}' | '\u{ad}'
            )
    };
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let s = s.replace("\r\n", "\n");
    Cow::Owned(
        s.chars()
            .filter_map(|c| {
                if c == '\r' {
                    Some('\n')
                } else if bad(c) {
                    None
                } else {
                    Some(c)
                }
            })
            .collect(),
    )
}

/// Canonical composition (NFC), only when the text is not already composed.
pub fn nfc(s: &str) -> Cow<'_, str> {
    if unicode_normalization::is_nfc_quick(s.chars()) == unicode_normalization::IsNormalized::Yes {
        return Cow::Borrowed(s);
    }
    let composed: String = s.nfc().collect();
    if composed == s {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(composed)
    }
}

/// Collapses runs of spaces and tabs (and no-break spaces) to one space, trims each line,
/// and keeps at most one blank line between paragraphs.
pub fn normalize_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank_run = 0;
    for line in s.split('\n') {
        let words: Vec<&str> = line
            .split([' ', '\t', '\u{a0}', '\u{3000}'])
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_run > 0 { "\n\n" } else { "\n" });
        }
        blank_run = 0;
        out.push_str(&words.join(" "));
    }
    out
}

/// Which repairs changed a text.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Repairs {
    pub mojibake: bool,
    pub entities: bool,
    pub controls: bool,
    pub nfc: bool,
}

impl Repairs {
    pub fn any(&self) -> bool {
        self.mojibake || self.entities || self.controls || self.nfc
    }
    pub fn names(&self) -> String {
        let mut v = Vec::new();
        for (on, name) in [
            (self.mojibake, "mojibake"),
            (self.entities, "entities"),
            (self.controls, "controls"),
            (self.nfc, "nfc"),
        ] {
            if on {
                v.push(name);
            }
        }
        v.join(",")
    }
}

/// All repairs, in the order that makes each effective: mojibake before entity decoding
/// (entities may spell mojibake-free text), controls after both, NFC last.
pub fn repair(s: &str) -> (String, Repairs) {
    let mut r = Repairs::default();
    let a = fix_mojibake(s);
    r.mojibake = matches!(a, Cow::Owned(_));
    let b = decode_entities(&a);
    r.entities = matches!(b, Cow::Owned(_));
    let c = remove_controls(&b);
    r.controls = matches!(c, Cow::Owned(_));
    let d = nfc(&c);
    r.nfc = matches!(d, Cow::Owned(_));
    (d.into_owned(), r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mojibake_is_undone_and_clean_text_untouched() {
        assert_eq!(
            fix_mojibake("cafÃ© â€œquotedâ€\u{9d} donâ€™t"),
            "café “quoted” don’t"
        );
        assert_eq!(fix_mojibake("Ã¼ber GrÃ¶ÃŸe"), "über Größe");
        assert_eq!(fix_mojibake("ðŸ˜€ smile"), "😀 smile");
        // Double encoding.
        assert_eq!(fix_mojibake("cafÃƒÂ©"), "café");
        for clean in [
            "für naïve Größe",
            "Ångström © 2026",
            "déjà vu",
            "plain ascii",
        ] {
            assert!(matches!(fix_mojibake(clean), Cow::Borrowed(_)), "{clean}");
        }
    }

    #[test]
    fn entities_controls_and_nfc() {
        assert_eq!(
            decode_entities("Tom &amp; Jerry&#39;s &#x2019; &bogus; & x"),
            "Tom & Jerry's ’ &bogus; & x"
        );
        assert_eq!(remove_controls("a\u{0}b\r\nc\u{200b}d\u{85}"), "ab\ncd");
        assert_eq!(nfc("e\u{301}"), "é");
        let (text, r) = repair("cafÃ© &amp; e\u{301}\u{1}");
        assert_eq!(text, "café & é");
        assert_eq!(r.names(), "mojibake,entities,controls,nfc");
    }

    #[test]
    fn whitespace_is_collapsed_per_line_and_paragraph() {
        assert_eq!(
            normalize_whitespace("  a \t b  \n\n\n\n c\u{a0}d \n e"),
            "a b\n\nc d\ne"
        );
    }
}
