//! The HTTP response inside a WARC `response` record: status line, headers, and the payload
//! with its transfer and content codings undone.
//!
//! Common Crawl stores payloads already decoded (and renames the coding headers to
//! `X-Crawler-*`), but other crawlers (wget, ClueWeb, Heritrix) store them as sent, chunked
//! and gzip-compressed. Decoding is attempted only when a header asks for it, is bounded in
//! size, and falls back to the raw bytes with a note when the payload does not decode.

use std::borrow::Cow;
use std::io::Read;

/// Status line and headers of an HTTP response.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpHead {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl HttpHead {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The media type without parameters, lowercased (`text/html`).
    pub fn mime_type(&self) -> Option<String> {
        let ct = self.header("Content-Type")?;
        let mime = ct.split(';').next()?.trim().to_ascii_lowercase();
        (!mime.is_empty()).then_some(mime)
    }

    /// The `charset` parameter of Content-Type, lowercased.
    pub fn charset(&self) -> Option<String> {
        charset_param(self.header("Content-Type")?)
    }
}

/// Extracts `charset=...` from a Content-Type value.
pub fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches(['"', '\'']).to_ascii_lowercase())
            .filter(|c| !c.is_empty())
    })
}

/// Why a response block could not be parsed as HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotHttp(pub String);

/// Splits a response block into its parsed head and the raw payload after the blank line.
pub fn parse_response(block: &[u8]) -> Result<(HttpHead, &[u8]), NotHttp> {
    let (head_end, body_start) = match memchr::memmem::find(block, b"\r\n\r\n") {
        Some(i) => (i, i + 4),
        None => match memchr::memmem::find(block, b"\n\n") {
            Some(i) => (i, i + 2),
            None => (block.len(), block.len()),
        },
    };
    let head = String::from_utf8_lossy(&block[..head_end]);
    let mut lines = head.split('\n').map(|l| l.trim_end_matches('\r'));
    let status_line = lines.next().unwrap_or_default();
    if !status_line.starts_with("HTTP/") {
        return Err(NotHttp(format!(
            "the block does not start with an HTTP status line: `{}`",
            status_line.chars().take(40).collect::<String>()
        )));
    }
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| NotHttp(format!("bad HTTP status line `{status_line}`")))?;
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok((HttpHead { status, headers }, &block[body_start..]))
}

/// The payload after decoding, with what was done to it.
#[derive(Debug)]
pub struct Payload<'a> {
    pub bytes: Cow<'a, [u8]>,
    /// Codings that were undone, in order (`chunked`, `gzip`, ...).
    pub decoded: Vec<&'static str>,
    /// Codings a header asked for that could not be undone; the bytes stay as they were.
    pub failed: Vec<String>,
}

/// Undoes `Transfer-Encoding: chunked` and `Content-Encoding: gzip|deflate|br`, producing at
/// most `max_bytes` bytes (a decompression bomb ends in a failure note, not an exhausted box).
pub fn decode_payload<'a>(head: &HttpHead, raw: &'a [u8], max_bytes: usize) -> Payload<'a> {
    let mut out = Payload {
        bytes: Cow::Borrowed(raw),
        decoded: Vec::new(),
        failed: Vec::new(),
    };
    let chunked = head
        .header("Transfer-Encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        match dechunk(raw) {
            Some(body) => {
                out.bytes = Cow::Owned(body);
                out.decoded.push("chunked");
            }
            None => out.failed.push("chunked".into()),
        }
    }
    let codings = head
        .header("Content-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    for coding in codings
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .rev()
    {
        let decoded = match coding {
            "gzip" | "x-gzip" => {
                inflate(flate2::read::MultiGzDecoder::new(&out.bytes[..]), max_bytes)
            }
            // "deflate" is zlib-wrapped by the RFC, raw deflate by many servers: try both.
            "deflate" => inflate(flate2::read::ZlibDecoder::new(&out.bytes[..]), max_bytes)
                .or_else(|| inflate(flate2::read::DeflateDecoder::new(&out.bytes[..]), max_bytes)),
            "br" => inflate(
                brotli_decompressor::Decompressor::new(&out.bytes[..], 4096),
                max_bytes,
            ),
            "identity" | "none" => continue,
            other => {
                out.failed.push(other.to_string());
                break;
            }
        };
        match decoded {
            Some(body) => {
                out.bytes = Cow::Owned(body);
                out.decoded.push(match coding {
                    "gzip" | "x-gzip" => "gzip",
                    "deflate" => "deflate",
                    _ => "br",
                });
            }
            None => {
                // Crawlers often store the decoded payload but keep the header: leave it as is.
                out.failed.push(coding.to_string());
                break;
            }
        }
    }
    out
}

fn inflate(mut reader: impl Read, max_bytes: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let n = (&mut reader)
        .take(max_bytes as u64 + 1)
        .read_to_end(&mut out)
        .ok()?;
    (n <= max_bytes && n > 0).then_some(out)
}

/// Decodes chunked transfer coding. `None` if the framing is broken.
fn dechunk(mut raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    loop {
        let line_end = memchr::memchr(b'\n', raw)?;
        let line = std::str::from_utf8(&raw[..line_end]).ok()?.trim();
        let size_text = line.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        raw = &raw[line_end + 1..];
        if size == 0 {
            return Some(out);
        }
        if raw.len() < size {
            // A truncated last chunk: keep what arrived.
            out.extend_from_slice(raw);
            return Some(out);
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size..];
        raw = raw
            .strip_prefix(b"\r\n")
            .or_else(|| raw.strip_prefix(b"\n"))
            .unwrap_or(raw);
        if raw.is_empty() {
            return Some(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn parses_status_headers_and_charset() {
        let block = b"HTTP/1.1 404 Not Found\r\nContent-Type: text/HTML; charset=\"ISO-8859-1\"\r\nX-Long: a\r\n b\r\n\r\n<html>";
        let (head, body) = parse_response(block).unwrap();
        assert_eq!(head.status, 404);
        assert_eq!(head.mime_type().as_deref(), Some("text/html"));
        assert_eq!(head.charset().as_deref(), Some("iso-8859-1"));
        assert_eq!(head.header("x-long"), Some("a b"));
        assert_eq!(body, b"<html>");
    }

    #[test]
    fn rejects_non_http_blocks() {
        assert!(parse_response(b"GET / HTTP/1.1\r\n\r\n").is_err());
    }

    #[test]
    fn dechunks_then_gunzips() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"<p>hello world</p>").unwrap();
        let gz = gz.finish().unwrap();
        let (a, b) = gz.split_at(7);
        let mut raw = format!("{:x}\r\n", a.len()).into_bytes();
        raw.extend_from_slice(a);
        raw.extend_from_slice(format!("\r\n{:x}\r\n", b.len()).as_bytes());
        raw.extend_from_slice(b);
        raw.extend_from_slice(b"\r\n0\r\n\r\n");
        let head = HttpHead {
            status: 200,
            headers: vec![
                ("Transfer-Encoding".into(), "chunked".into()),
                ("Content-Encoding".into(), "gzip".into()),
            ],
        };
        let p = decode_payload(&head, &raw, 1 << 20);
        assert_eq!(&p.bytes[..], b"<p>hello world</p>");
        assert_eq!(p.decoded, ["chunked", "gzip"]);
        assert!(p.failed.is_empty());
    }

    #[test]
    fn undecodable_payload_stays_raw_with_a_note() {
        let head = HttpHead {
            status: 200,
            headers: vec![("Content-Encoding".into(), "gzip".into())],
        };
        let p = decode_payload(&head, b"<html>already plain</html>", 1 << 20);
        assert_eq!(&p.bytes[..], b"<html>already plain</html>");
        assert_eq!(p.failed, ["gzip"]);
    }

    #[test]
    fn decompression_bombs_are_capped() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![0u8; 10 << 20]).unwrap();
        let head = HttpHead {
            status: 200,
            headers: vec![("Content-Encoding".into(), "gzip".into())],
        };
        let raw = gz.finish().unwrap();
        let p = decode_payload(&head, &raw, 1 << 20);
        assert_eq!(p.failed, ["gzip"]);
        assert_eq!(p.bytes.len(), raw.len());
    }

    #[test]
    fn brotli_and_deflate() {
        let head = |c: &str| HttpHead {
            status: 200,
            headers: vec![("Content-Encoding".into(), c.into())],
        };
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(b"zlib body").unwrap();
        let z = z.finish().unwrap();
        assert_eq!(
            &decode_payload(&head("deflate"), &z, 1 << 20).bytes[..],
            b"zlib body"
        );
        // "Hello" compressed with brotli quality 0 (a fixed byte sequence).
        let br: &[u8] = &[0x0b, 0x02, 0x80, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x03];
        assert_eq!(
            &decode_payload(&head("br"), br, 1 << 20).bytes[..],
            b"Hello"
        );
    }
}
