//! The HTTP response parser and payload decoder (chunked, gzip, deflate, brotli, zstd
//! Content-Encoding, charset) on arbitrary bytes: no panic, no hang, and the decoded payload
//! never exceeds the size limit it is given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sieve::io::http_payload::{decode_payload, parse_response};
use sieve::text::charset;

const MAX: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
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
});
