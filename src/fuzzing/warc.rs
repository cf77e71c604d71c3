//! The WARC record reader and the HTTP payload decoder.

use std::io::Write;

use crate::io::http_payload::{decode_payload, parse_response};
use crate::io::warc::{Limits, TypeFilter, WarcReader};
use crate::text::charset;

/// The payload size limit the HTTP check gives the decoder.
const MAX: usize = 1 << 16;

/// The WARC reader on arbitrary bytes, stored raw, gzip-compressed or zstd-compressed (the
/// first input byte picks which). Beyond not panicking or hanging: every record and error is
/// located inside the file, records come in file order, no block exceeds the limit (the reader
/// recognises compressed input by its bytes, so blocks may outgrow the input), and the reader
/// hands out a bounded number of items (it always makes progress).
/// (Errors are reported as they are found, so an error about a member can follow one found
/// inside it, and one inside a record's block precedes that record.)
pub fn warc_reader(data: &[u8]) {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let file: Vec<u8> = match mode % 3 {
        0 => body.to_vec(),
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
    let mut last_record = None;
    let mut items = 0usize;
    for item in reader {
        items += 1;
        assert!(items <= body.len() + 2, "more items than input bytes");
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
                r.location
            }
            Err(e) => e.location,
        };
        assert!(
            location.member_offset <= file.len() as u64,
            "a location past the end of the file"
        );
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
