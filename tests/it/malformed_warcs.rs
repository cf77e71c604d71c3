//! Broken WARC input through the CLI: every problem is a located warning and a counted error,
//! and the records after it still become documents.

use std::io::Write;

use crate::util::{docs_of, read_stage, run_ok, stats};

fn record(id: &str, extra_header: &[u8], body: &str) -> Vec<u8> {
    record_declaring(id, extra_header, body, 0)
}

/// A record whose Content-Length is `short_by` bytes less than its block.
fn record_declaring(id: &str, extra_header: &[u8], body: &str, short_by: usize) -> Vec<u8> {
    let block = format!("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>{body}</p></body></html>");
    let mut r = format!(
        "WARC/1.1\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:{id}>\r\nWARC-Target-URI: https://example.com/{id}\r\n"
    )
    .into_bytes();
    r.extend_from_slice(extra_header);
    let declared = block.len() - short_by;
    r.extend_from_slice(format!("Content-Length: {declared}\r\n\r\n{block}\r\n\r\n").as_bytes());
    r
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn urls(path: &std::path::Path) -> Vec<String> {
    docs_of(path).into_iter().map(|d| d.url.unwrap()).collect()
}

#[test]
fn each_kind_of_damage_is_located_counted_and_survived() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = Vec::new();
    file.extend(gz(&record("ok1", b"", "first")));
    let garbage_at = file.len();
    file.extend_from_slice(b"this is not gzip at all\n");
    file.extend(gz(&record(
        "badheader",
        b"X-Note: caf\xe9\r\n",
        "latin-1 header",
    )));
    file.extend(gz(&record_declaring("wronglen", b"", "wrong length", 30)));
    file.extend(gz(&record("ok2", b"", "second")));
    let cut_member = gz(&record("cut", b"", &"x".repeat(5000)));
    let cut_at = file.len();
    file.extend_from_slice(&cut_member[..cut_member.len() / 2]);
    let input = dir.path().join("broken.warc.gz");
    std::fs::write(&input, &file).unwrap();

    let out = dir.path().join("out");
    let o = run_ok(&[
        "warc",
        "-q",
        "--output",
        out.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);

    let got = urls(&out.join("broken.parquet"));
    assert!(
        got.contains(&"https://example.com/ok1".to_string()),
        "{got:?}"
    );
    assert!(
        got.contains(&"https://example.com/ok2".to_string()),
        "{got:?}"
    );
    assert!(!got.contains(&"https://example.com/badheader".to_string()));

    let s = stats(&out);
    let errors = &read_stage(&s, "read")["errors"];
    assert_eq!(errors["warc_garbage"], 1, "{errors}");
    assert_eq!(errors["warc_bad_header"], 1, "{errors}");
    assert_eq!(errors["warc_wrong_content_length"], 1, "{errors}");
    assert!(errors["warc_truncated"].as_u64().unwrap() >= 1, "{errors}");

    // Warnings name the file and the byte offset.
    assert!(
        stderr.contains(&format!("broken.warc.gz: byte {garbage_at}")),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("byte {cut_at}")), "{stderr}");
    assert!(stderr.contains("not valid UTF-8"), "{stderr}");
}

#[test]
fn truncated_uncompressed_file_never_hangs_and_keeps_earlier_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = record("a", b"", "alpha");
    file.extend(b"\x00\x01 binary junk between records\r\n");
    file.extend(record("b", b"", "beta"));
    let last = record("c", b"", "gamma");
    file.extend_from_slice(&last[..last.len() - 30]);
    let input = dir.path().join("cut.warc");
    std::fs::write(&input, &file).unwrap();
    let out = dir.path().join("out");
    run_ok(&[
        "warc",
        "-q",
        "--output",
        out.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    let got = urls(&out.join("cut.parquet"));
    assert_eq!(got[..2], ["https://example.com/a", "https://example.com/b"]);
    let s = stats(&out);
    let errors = &read_stage(&s, "read")["errors"];
    assert_eq!(errors["warc_garbage"], 1, "{errors}");
    assert_eq!(errors["warc_truncated"], 1, "{errors}");
    // The cut record is kept, marked as incomplete; the others are not.
    let docs = crate::util::docs_of(&out.join("cut.parquet"));
    assert_eq!(docs.len(), 3, "the cut record is kept");
    for d in &docs {
        let incomplete = d.meta.get("warc_block_incomplete").map(String::as_str);
        let want = (d.url.as_deref() == Some("https://example.com/c")).then_some("true");
        assert_eq!(incomplete, want, "{:?}", d.url);
    }
}

/// Records sharing one gzip member carry their offset inside it (`warc_offset_in_member`):
/// the member's offset alone would not find them.
#[test]
fn records_inside_one_member_carry_their_offset_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (record("a", b"", "alpha"), record("b", b"", "beta"));
    let mut member = a.clone();
    member.extend_from_slice(&b);
    let input = dir.path().join("one-member.warc.gz");
    std::fs::write(&input, gz(&member)).unwrap();
    let out = dir.path().join("out");
    run_ok(&[
        "warc",
        "-q",
        "--output",
        out.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    let docs = crate::util::docs_of(&out.join("one-member.parquet"));
    assert_eq!(docs.len(), 2);
    assert!(
        !docs[0].meta.contains_key("warc_offset_in_member"),
        "{:?}",
        docs[0].meta
    );
    assert_eq!(docs[1].meta["warc_offset_in_member"], a.len().to_string());
}

/// A zstd-compressed WARC gives the same documents as the same records gzip-compressed.
#[test]
fn zstd_compressed_warcs_read_like_gzip_ones() {
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<Vec<u8>> = (0..5)
        .map(|k| record(&format!("r{k}"), b"", &format!("text of record {k}")))
        .collect();
    let gz_path = dir.path().join("five.warc.gz");
    std::fs::write(
        &gz_path,
        records.iter().flat_map(|r| gz(r)).collect::<Vec<u8>>(),
    )
    .unwrap();
    let zst_dir = dir.path().join("z");
    std::fs::create_dir(&zst_dir).unwrap();
    let zst_path = zst_dir.join("five.warc.zst");
    std::fs::write(
        &zst_path,
        zstd::encode_all(&records.concat()[..], 3).unwrap(),
    )
    .unwrap();
    let (a, b) = (dir.path().join("gz"), dir.path().join("zst"));
    run_ok(&[
        "warc",
        "-q",
        "--output",
        a.to_str().unwrap(),
        gz_path.to_str().unwrap(),
    ]);
    run_ok(&[
        "warc",
        "-q",
        "--output",
        b.to_str().unwrap(),
        zst_path.to_str().unwrap(),
    ]);
    let (da, db) = (
        crate::util::docs_of(&a.join("five.parquet")),
        crate::util::docs_of(&b.join("five.parquet")),
    );
    assert_eq!(da.len(), 5);
    assert_eq!(db.len(), 5);
    for (x, y) in da.iter().zip(&db) {
        assert_eq!((&x.url, &x.text), (&y.url, &y.text));
    }
}
