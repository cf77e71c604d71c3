//! Importing foreign corpora (JSONL and Parquet), and sieve's own document shards written and
//! read back.

use crate::doc::Document;
use crate::io::shards::{create_writer, read_docs, ShardFormat};
use crate::io::source::Input;
use crate::read::corpus::{read_import, ImportSpec};
use crate::read::ReadItem;

/// Arbitrary bytes as a JSONL corpus or a Parquet file (the first byte picks), imported as
/// `sieve import` does. Every problem names the file (and, for JSONL, the line); the reader
/// hands out at most one item per line; and the documents it produced come back unchanged
/// through sieve's JSONL and Parquet shard writers and readers.
pub fn corpus_import(data: &[u8]) {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let name = if mode % 2 == 0 {
        "corpus.jsonl"
    } else {
        "corpus.parquet"
    };
    let path = super::scratch_file(name, body);
    let mut spec = ImportSpec::new("fuzz");
    spec.meta_fields = vec!["id".into(), "source".into(), "a.b".into()];
    let Ok(items) = read_import(&Input::local(&path), &spec) else {
        return;
    };
    let lines = body.iter().filter(|&&b| b == b'\n').count() + 1;
    let mut docs: Vec<Document> = Vec::new();
    for (i, item) in items.enumerate() {
        if name.ends_with(".jsonl") {
            assert!(i < lines, "more items than lines");
        }
        match item {
            ReadItem::Doc(d) => docs.push(d),
            ReadItem::Dropped { .. } => {}
            ReadItem::Error { message, .. } | ReadItem::Fatal(message) => {
                assert!(
                    message.contains(name),
                    "a problem that does not name the file: {message}"
                );
                if name.ends_with(".jsonl") {
                    assert!(
                        message.contains("line"),
                        "a JSONL problem without its line: {message}"
                    );
                }
            }
        }
    }
    if docs.is_empty() {
        return;
    }
    for format in [ShardFormat::Jsonl, ShardFormat::Parquet] {
        let out = super::scratch_path(&format!("round-trip.{}", format.extension()));
        let mut w = create_writer(&out, format).expect("opening a shard writer");
        for d in &docs {
            w.write(d.clone()).expect("writing an imported document");
        }
        w.finish().expect("finishing a shard");
        let back: Vec<Document> = read_docs(&out)
            .expect("reading a shard sieve wrote")
            .map(|d| d.expect("a document sieve wrote"))
            .collect();
        assert!(back == docs, "documents changed through {format:?}");
    }
}
