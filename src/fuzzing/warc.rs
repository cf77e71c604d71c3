//! The WARC record reader and the HTTP payload decoder.

use std::io::Write;

use crate::io::http_payload::{decode_payload, parse_response};
use crate::io::warc::{Limits, TypeFilter, WarcReader};
use crate::text::charset;

/// The id of the good record the resynchronisation mode puts after the garbage.
const LAST_ID: &str = "<urn:fuzz:last>";

/// A small, valid response record.
fn record(id: &str) -> Vec<u8> {
    let block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>hi</p>";
    let mut r = format!(
        "WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: {id}\r\n\
         WARC-Target-URI: http://example.com/\r\nContent-Type: application/http; msgtype=response\r\n\
         Content-Length: {}\r\n\r\n",
        block.len()
    )
    .into_bytes();
    r.extend_from_slice(block);
    r.extend_from_slice(b"\r\n\r\n");
    r
}

/// The payload size limit the HTTP check gives the decoder.
const MAX: usize = 1 << 16;

/// The WARC reader on arbitrary bytes, stored raw, gzip-compressed or zstd-compressed, or as
/// garbage between two good records (the first input byte picks which). Beyond not panicking or hanging: every record and error is
/// located inside the file, records come in file order, no block exceeds the limit (the reader
/// recognises compressed input by its bytes, so blocks may outgrow the input), and the reader
/// hands out a bounded number of items (it always makes progress).
/// (Errors are reported as they are found, so an error about a member can follow one found
/// inside it, and one inside a record's block precedes that record.)
pub fn warc_reader(data: &[u8]) {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let file: Vec<u8> = match mode % 4 {
        0 => body.to_vec(),
        // Garbage between two good records: the reader must find the second again.
        3 => {
            let mut f = record("<urn:fuzz:first>");
            f.extend_from_slice(body);
            f.extend_from_slice(b"\r\n");
            f.extend_from_slice(&record(LAST_ID));
            f
        }
        1 => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(body).unwrap();
            e.finish().unwrap()
        }
        _ => zstd::encode_all(body, 1).unwrap(),
    };
    let limits = Limits {
        max_header_bytes: 4096,
        max_block_bytes: 1 << 16,
    };
    let reader = WarcReader::with_limits(&file[..], TypeFilter::all(), limits.clone());
    let mut found_last = false;
    let mut last_record = None;
    let mut items = 0usize;
    for item in reader {
        items += 1;
        assert!(items <= body.len() + 4, "more items than input bytes");
        let location = match &item {
            Ok(r) => {
                assert!(
                    r.block.len() as u64 <= limits.max_block_bytes,
                    "block over the limit"
                );
                let here = (r.location.member_offset, r.location.offset_in_member);
                if let Some(before) = last_record {
                    assert!(
                        here > before,
                        "records out of order: {before:?} then {here:?}"
                    );
                }
                last_record = Some(here);
                found_last |= r.header("WARC-Record-ID") == Some(LAST_ID);
                r.location
            }
            Err(e) => e.location,
        };
        assert!(
            location.member_offset <= file.len() as u64,
            "a location past the end of the file"
        );
    }
    // Resynchronisation: unless the garbage itself starts a record (which may then claim
    // the good one as its block), the record after it is read.
    if mode % 4 == 3 && !body.windows(5).any(|w| w.eq_ignore_ascii_case(b"WARC/")) {
        assert!(found_last, "the record after the garbage was lost");
    }
}

/// The HTTP response parser and payload decoder (chunked, gzip, deflate, brotli, zstd
/// Content-Encoding, charset) on arbitrary bytes: no panic, no hang, and the decoded payload
/// never exceeds the size limit it is given.
pub fn http_payload(data: &[u8]) {
    let Ok((head, raw)) = parse_response(data) else {
        return;
    };
    let _ = head.mime_type();
    let payload = decode_payload(&head, raw, MAX);
    assert!(
        payload.bytes.len() <= MAX,
        "payload of {} bytes over the limit",
        payload.bytes.len()
    );
    let text = charset::decode(&payload.bytes, head.charset().as_deref()).text;
    // Decoding turns each input byte into at most one replacement or one character.
    assert!(
        text.chars().count() <= payload.bytes.len(),
        "text longer than its bytes"
    );
}
