//! Deciding how to decode a page's bytes: byte-order mark, then the HTTP header, then a
//! `<meta>` declaration in the first 1024 bytes (the HTML standard's prescan), then detection
//! (chardetng). The decision and where it came from are returned so that they can be recorded
//! in `meta` and audited.

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

/// Where the encoding decision came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Bom,
    Http,
    Meta,
    /// The declared single-byte charset was overridden because the bytes are valid UTF-8 with
    /// non-ASCII text (a very common mislabelling).
    Utf8Override,
    /// No declaration: the bytes are valid UTF-8.
    Utf8Valid,
    Detected,
}

impl Source {
    pub fn as_str(&self) -> &'static str {
        match self {
            Source::Bom => "bom",
            Source::Http => "http",
            Source::Meta => "meta",
            Source::Utf8Override => "utf8-override",
            Source::Utf8Valid => "utf8-valid",
            Source::Detected => "detected",
        }
    }
}

/// The text and how it was decoded.
#[derive(Debug)]
pub struct Decoded {
    pub text: String,
    pub encoding: &'static Encoding,
    pub source: Source,
    /// Some bytes were not valid in the chosen encoding and became U+FFFD.
    pub had_errors: bool,
}

/// Finds `<meta charset=...>` or `<meta http-equiv=content-type content="...charset=...">` in
/// the first 1024 bytes.
pub fn prescan_meta(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(1024)];
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&lower[from..], b"<meta") {
        let start = from + i;
        let end = memchr::memchr(b'>', &lower[start..]).map_or(lower.len(), |e| start + e);
        let tag = &lower[start..end];
        if let Some(p) = memchr::memmem::find(tag, b"charset") {
            let rest = &tag[p + 7..];
            let rest = rest
                .iter()
                .skip_while(|b| b.is_ascii_whitespace())
                .copied()
                .collect::<Vec<u8>>();
            if let Some(rest) = rest.strip_prefix(b"=") {
                let value: Vec<u8> = rest
                    .iter()
                    .skip_while(|b| b.is_ascii_whitespace() || **b == b'"' || **b == b'\'')
                    .take_while(|b| {
                        !(b.is_ascii_whitespace()
                            || matches!(**b, b'"' | b'\'' | b';' | b'/' | b'>'))
                    })
                    .copied()
                    .collect();
                if let Some(enc) = Encoding::for_label(&value) {
                    // The standard maps a declared UTF-16 to UTF-8 at this point.
                    return Some(
                        if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE {
                            UTF_8
                        } else {
                            enc
                        },
                    );
                }
            }
        }
        from = end.max(start + 5);
    }
    None
}

fn is_single_byte_legacy(enc: &'static Encoding) -> bool {
    enc != UTF_8 && enc.is_single_byte()
}

/// Decodes page bytes given the charset label of the HTTP Content-Type, if any.
pub fn decode(bytes: &[u8], http_label: Option<&str>) -> Decoded {
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        let (text, had_errors) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        return Decoded {
            text: text.into_owned(),
            encoding: enc,
            source: Source::Bom,
            had_errors,
        };
    }
    let declared = http_label
        .and_then(|l| Encoding::for_label(l.as_bytes()))
        .map(|e| (e, Source::Http))
        .or_else(|| prescan_meta(bytes).map(|e| (e, Source::Meta)));
    let utf8 = std::str::from_utf8(bytes).ok();
    match (declared, utf8) {
        (Some((enc, _)), Some(text)) if is_single_byte_legacy(enc) && !text.is_ascii() => Decoded {
            text: text.to_string(),
            encoding: UTF_8,
            source: Source::Utf8Override,
            had_errors: false,
        },
        (Some((enc, source)), _) => {
            let (text, _, had_errors) = enc.decode(bytes);
            Decoded {
                text: text.into_owned(),
                encoding: enc,
                source,
                had_errors,
            }
        }
        (None, Some(text)) => Decoded {
            text: text.to_string(),
            encoding: UTF_8,
            source: Source::Utf8Valid,
            had_errors: false,
        },
        (None, None) => {
            let mut detector =
                chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
            detector.feed(&bytes[..bytes.len().min(64 << 10)], bytes.len() <= 64 << 10);
            let enc = detector.guess(None, chardetng::Utf8Detection::Allow);
            let enc = if enc == UTF_8 { WINDOWS_1252 } else { enc };
            let (text, _, had_errors) = enc.decode(bytes);
            Decoded {
                text: text.into_owned(),
                encoding: enc,
                source: Source::Detected,
                had_errors,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_wins() {
        let d = decode(b"\xef\xbb\xbfcaf\xc3\xa9", Some("iso-8859-1"));
        assert_eq!((d.text.as_str(), d.source), ("café", Source::Bom));
    }

    #[test]
    fn http_then_meta() {
        let d = decode(b"<p>caf\xe9</p>", Some("ISO-8859-1"));
        assert_eq!((d.text.as_str(), d.source), ("<p>café</p>", Source::Http));
        let page = b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1251\"></head>\xcf\xf0\xe8\xe2\xe5\xf2";
        let d = decode(page, None);
        assert_eq!(d.source, Source::Meta);
        assert!(d.text.ends_with("Привет"));
        assert_eq!(
            prescan_meta(b"<meta charset='EUC-JP'>"),
            Some(encoding_rs::EUC_JP)
        );
    }

    #[test]
    fn mislabelled_utf8_is_kept_as_utf8() {
        let d = decode("<p>café</p>".as_bytes(), Some("iso-8859-1"));
        assert_eq!(
            (d.text.as_str(), d.source),
            ("<p>café</p>", Source::Utf8Override)
        );
    }

    #[test]
    fn undeclared_legacy_bytes_are_detected() {
        let text = "Значительная часть текста написана по-русски, чтобы детектор мог уверенно определить кодировку страницы.";
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(text);
        let d = decode(&bytes, None);
        assert_eq!(d.source, Source::Detected);
        assert_eq!(d.encoding, encoding_rs::WINDOWS_1251);
        assert_eq!(d.text, text);
    }
}
