//! WARC records → raw documents: the HTTP payload of `response` records (decoded to text:
//! byte-order mark, HTTP charset, `<meta>` charset, then detection) and the text of WET
//! `conversion` records, with their lineage.

use std::collections::BTreeMap;

use anyhow::Result;

use super::{ReadItem, ReadIter};
use crate::doc::{make_id, Document};
use crate::io::http_payload::{decode_payload, parse_response};
use crate::io::source::Input;
use crate::io::warc::{ErrorKind, Record, RecordType, TypeFilter, WarcReader};
use crate::text::charset;

/// Largest payload after undoing content codings (bounds decompression bombs).
const MAX_PAYLOAD: usize = 64 << 20;

pub fn read(input: &Input, dataset: &str) -> Result<ReadIter> {
    let reader = WarcReader::new(
        input.open()?,
        TypeFilter::only(&[RecordType::Response, RecordType::Conversion]),
    );
    let dataset = dataset.to_string();
    let key = input.key.clone();
    let name = input.to_string();
    Ok(Box::new(reader.map(move |item| match item {
        Ok(record) => convert(record, &dataset, &key),
        Err(e) if e.kind == ErrorKind::Io => ReadItem::Fatal(format!("{name}: {e}")),
        Err(e) => ReadItem::Error {
            kind: e.kind.as_str(),
            message: format!("{name}: {e}"),
        },
    })))
}

/// Media types whose payload is text worth keeping as a document.
pub fn is_text_type(mime: &str) -> bool {
    mime.starts_with("text/")
        || matches!(
            mime,
            "application/xhtml+xml"
                | "application/xml"
                | "application/rss+xml"
                | "application/atom+xml"
        )
}

/// Cheap sniff for pages served without a usable Content-Type.
fn looks_like_html(payload: &[u8]) -> bool {
    let head = &payload[..payload.len().min(1024)];
    let lower: Vec<u8> = head
        .iter()
        .skip_while(|b| b.is_ascii_whitespace() || **b == 0xef || **b == 0xbb || **b == 0xbf)
        .take(64)
        .map(u8::to_ascii_lowercase)
        .collect();
    lower.starts_with(b"<!doctype html")
        || lower.starts_with(b"<html")
        || lower.starts_with(b"<head")
}

fn convert(record: Record, dataset: &str, key: &str) -> ReadItem {
    let mut meta = BTreeMap::new();
    meta.insert(
        "warc_type".to_string(),
        record.record_type.as_str().to_string(),
    );
    for (name, meta_key) in [
        ("WARC-Date", "warc_date"),
        ("WARC-Truncated", "warc_truncated"),
        (
            "WARC-Identified-Payload-Type",
            "warc_identified_payload_type",
        ),
        (
            "WARC-Identified-Content-Language",
            "warc_identified_language",
        ),
    ] {
        if let Some(v) = record.header(name).filter(|v| !v.is_empty()) {
            meta.insert(meta_key.to_string(), v.to_string());
        }
    }
    if record.truncated {
        meta.insert("warc_block_incomplete".into(), "true".into());
    }
    if record.location.offset_in_member > 0 {
        meta.insert(
            "warc_offset_in_member".into(),
            record.location.offset_in_member.to_string(),
        );
    }
    let block_bytes = record.block.len() as u64;
    let text = match record.record_type {
        RecordType::Conversion => String::from_utf8_lossy(&record.block).into_owned(),
        _ => {
            let Ok((head, raw)) = parse_response(&record.block) else {
                return ReadItem::Dropped {
                    reason: "not_http",
                    bytes: block_bytes,
                };
            };
            meta.insert("http_status".into(), head.status.to_string());
            let mime = head.mime_type();
            if let Some(m) = &mime {
                meta.insert("content_type".into(), m.clone());
            }
            let payload = decode_payload(&head, raw, MAX_PAYLOAD);
            if !payload.decoded.is_empty() {
                meta.insert("http_decoded".into(), payload.decoded.join(","));
            }
            if !payload.failed.is_empty() {
                meta.insert("http_decode_failed".into(), payload.failed.join(","));
            }
            let textual = match &mime {
                Some(m) => is_text_type(m) || looks_like_html(&payload.bytes),
                None => looks_like_html(&payload.bytes),
            };
            if !textual {
                return ReadItem::Dropped {
                    reason: "not_text",
                    bytes: block_bytes,
                };
            }
            let decoded = charset::decode(&payload.bytes, head.charset().as_deref());
            meta.insert(
                "charset".into(),
                decoded.encoding.name().to_ascii_lowercase(),
            );
            meta.insert("charset_source".into(), decoded.source.as_str().into());
            if decoded.had_errors {
                meta.insert("charset_errors".into(), "true".into());
            }
            decoded.text
        }
    };
    ReadItem::Doc(Document {
        id: make_id(dataset, key, &record.location.key()),
        dataset: dataset.to_string(),
        url: record.target_uri().map(str::to_string),
        text,
        warc_path: Some(key.to_string()),
        warc_offset: Some(record.location.member_offset),
        warc_record_id: record.record_id().map(str::to_string),
        meta,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_sniffing() {
        assert!(looks_like_html(b"\n  <!DOCTYPE html><html>"));
        assert!(!looks_like_html(b"\x89PNG\r\n"));
        assert!(is_text_type("text/html") && !is_text_type("image/png"));
    }
}
