use super::*;
use flate2::write::GzEncoder;
use std::io::Write;

pub(crate) fn record(kind: &str, id: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "WARC/1.1\r\nWARC-Type: {kind}\r\nWARC-Record-ID: <urn:uuid:{id}>\r\nWARC-Target-URI: http://example.com/{id}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r.extend_from_slice(b"\r\n\r\n");
    r
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn read_all(bytes: Vec<u8>) -> (Vec<Record>, Vec<RecordError>) {
    let mut ok = Vec::new();
    let mut errs = Vec::new();
    for item in WarcReader::new(io::Cursor::new(bytes), TypeFilter::all()) {
        match item {
            Ok(r) => ok.push(r),
            Err(e) => errs.push(e),
        }
    }
    (ok, errs)
}

fn ids(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| r.record_id().unwrap().to_string())
        .collect()
}

#[test]
fn plain_records_with_offsets() {
    let a = record("response", "a", b"HTTP/1.1 200 OK\r\n\r\nhello");
    let b = record("request", "b", b"GET / HTTP/1.1\r\n\r\n");
    let mut file = a.clone();
    file.extend_from_slice(&b);
    let (ok, errs) = read_all(file);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(ids(&ok), ["<urn:uuid:a>", "<urn:uuid:b>"]);
    assert_eq!(ok[1].location.member_offset, a.len() as u64);
    assert_eq!(ok[0].block, b"HTTP/1.1 200 OK\r\n\r\nhello");
    assert_eq!(ok[0].target_uri(), Some("http://example.com/a"));
}

#[test]
fn type_filter_skips_unwanted_records() {
    let mut file = record("request", "a", b"x");
    file.extend_from_slice(&record("response", "b", b"y"));
    let reader = WarcReader::new(
        io::Cursor::new(file),
        TypeFilter::only(&[RecordType::Response]),
    );
    let got: Vec<_> = reader
        .map(|r| r.unwrap().record_id().unwrap().to_string())
        .collect();
    assert_eq!(got, ["<urn:uuid:b>"]);
}

#[test]
fn whole_file_gzip_gives_offsets_inside_the_member() {
    let a = record("response", "a", b"one");
    let mut plain = a.clone();
    plain.extend_from_slice(&record("response", "b", b"two"));
    let (ok, errs) = read_all(gz(&plain));
    assert!(errs.is_empty());
    assert_eq!(
        ok[1].location,
        Location {
            member_offset: 0,
            offset_in_member: a.len() as u64
        }
    );
    assert_eq!(ok[1].location.key(), format!("0+{}", a.len()));
}

#[test]
fn garbage_between_records_is_reported_and_skipped() {
    let mut file = record("response", "a", b"one");
    let garbage_at = file.len() as u64;
    file.extend_from_slice(b"this is not a record\r\nnor this\r\n");
    file.extend_from_slice(&record("response", "b", b"two"));
    let (ok, errs) = read_all(file);
    assert_eq!(ids(&ok), ["<urn:uuid:a>", "<urn:uuid:b>"]);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].kind, ErrorKind::Garbage);
    assert_eq!(errs[0].location.member_offset, garbage_at);
}

#[test]
fn content_length_too_long_cuts_at_the_next_record() {
    let mut first = record("response", "a", b"0123456789");
    let text = String::from_utf8(first.clone())
        .unwrap()
        .replace("Content-Length: 10", "Content-Length: 60");
    first = text.into_bytes();
    first.extend_from_slice(&record("response", "b", b"two"));
    first.extend_from_slice(&record("response", "c", b"three"));
    let (ok, errs) = read_all(first);
    // The record is kept, flagged as incomplete, after its error.
    assert_eq!(ids(&ok), ["<urn:uuid:a>", "<urn:uuid:b>", "<urn:uuid:c>"]);
    assert!(ok[0].truncated && !ok[1].truncated);
    assert_eq!(ok[0].block, b"0123456789");
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].kind, ErrorKind::WrongContentLength);
    assert_eq!(errs[0].record_id.as_deref(), Some("<urn:uuid:a>"));
}

#[test]
fn content_length_too_short_resyncs() {
    let first = String::from_utf8(record("response", "a", b"0123456789"))
        .unwrap()
        .replace("Content-Length: 10", "Content-Length: 4")
        .into_bytes();
    let mut file = first;
    file.extend_from_slice(&record("response", "b", b"two"));
    let (ok, errs) = read_all(file);
    assert_eq!(ids(&ok), ["<urn:uuid:a>", "<urn:uuid:b>"]);
    assert!(ok[0].truncated);
    assert_eq!(ok[0].block, b"0123");
    assert_eq!(errs[0].kind, ErrorKind::WrongContentLength);
}

#[test]
fn non_utf8_header_is_an_error_for_that_record_only() {
    let mut bad = record("response", "a", b"x");
    let at = bad.windows(8).position(|w| w == b"WARC-Tar").unwrap();
    bad.splice(at..at, b"X-Bad: \xff\xfe\r\n".iter().copied());
    let mut file = bad;
    file.extend_from_slice(&record("response", "b", b"y"));
    let (ok, errs) = read_all(file);
    assert_eq!(ids(&ok), ["<urn:uuid:b>"]);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].kind, ErrorKind::BadHeader);
    assert_eq!(errs[0].location.member_offset, 0);
}

#[test]
fn truncated_gzip_member_then_next_member_is_read() {
    let first = gz(&record("response", "a", &vec![b'z'; 20_000]));
    let cut = first[..first.len() / 2].to_vec();
    let mut file = cut.clone();
    file.extend_from_slice(&gz(&record("response", "b", b"after")));
    let (ok, errs) = read_all(file);
    assert_eq!(ids(&ok), ["<urn:uuid:b>"]);
    assert!(!errs.is_empty());
    assert!(errs
        .iter()
        .all(|e| e.location.member_offset == 0 || e.kind == ErrorKind::Garbage));
    assert_eq!(ok[0].location.member_offset, cut.len() as u64);
}

#[test]
fn truncated_plain_file_ends_with_an_error() {
    let mut file = record("response", "a", b"one");
    let second = record("response", "b", &vec![b'q'; 1000]);
    file.extend_from_slice(&second[..second.len() - 500]);
    let (ok, errs) = read_all(file);
    assert_eq!(ids(&ok), ["<urn:uuid:a>", "<urn:uuid:b>"]);
    assert!(ok[1].truncated && ok[1].block.len() == 504);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].kind, ErrorKind::Truncated);
}

#[test]
fn arbitrary_bytes_never_hang_or_panic() {
    let mut seed = 0x9e3779b97f4a7c15u64;
    let base = {
        let mut f = record("response", "a", b"HTTP/1.1 200 OK\r\n\r\nbody");
        f.extend_from_slice(&record("request", "b", b"GET /"));
        f
    };
    for round in 0..300 {
        let mut bytes = if round % 2 == 0 {
            base.clone()
        } else {
            gz(&base)
        };
        for _ in 0..(round % 7 + 1) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = (seed as usize) % bytes.len();
            bytes[i] = (seed >> 32) as u8;
        }
        if round % 5 == 0 {
            bytes.truncate((seed as usize) % bytes.len());
        }
        let n = WarcReader::new(io::Cursor::new(bytes), TypeFilter::all())
            .take(1000)
            .count();
        assert!(n < 1000);
    }
}
