//! Document shards written by sieve, and foreign corpora (JSONL or Parquet with a text field)
//! brought in by `sieve import`.

use std::collections::BTreeMap;
use std::fs::File;

use anyhow::{bail, Context, Result};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ReadItem, ReadIter};
use crate::doc::{make_id, Document};
use crate::io::shards::{decompress, footer_at, jsonl_docs, read_docs, ShardFormat};
use crate::io::source::Input;

/// How to read a foreign corpus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportSpec {
    pub dataset: String,
    /// Field holding the text; `a.b` reaches into nested JSON objects.
    #[serde(default = "default_text_field")]
    pub text_field: String,
    /// Field holding the URL, if any.
    #[serde(default = "default_url_field")]
    pub url_field: String,
    /// Further fields copied into `meta` (as strings). A field named `id` is always kept as
    /// `meta.source_id`, because sieve ids are derived from the file and line instead.
    #[serde(default)]
    pub meta_fields: Vec<String>,
}

fn default_text_field() -> String {
    "text".into()
}
fn default_url_field() -> String {
    "url".into()
}

impl ImportSpec {
    pub fn new(dataset: &str) -> Self {
        ImportSpec {
            dataset: dataset.into(),
            text_field: default_text_field(),
            url_field: default_url_field(),
            meta_fields: Vec::new(),
        }
    }
}

/// Reads sieve document shards (Parquet locally; JSONL from anywhere).
pub fn read_shards(input: &Input) -> Result<ReadIter> {
    let name = input.to_string();
    let docs = match (ShardFormat::from_path(&input.key), input.local_path()) {
        (Some(ShardFormat::Parquet), Some(path)) => read_docs(path)?,
        (Some(ShardFormat::Parquet), None) => read_docs(input.spool()?.path())?,
        _ => jsonl_docs(decompress(input.open()?)?, name),
    };
    Ok(Box::new(docs.map(|d| match d {
        Ok(doc) => ReadItem::Doc(doc),
        Err(e) => ReadItem::Error {
            kind: "bad_document",
            message: format!("{e:#}"),
        },
    })))
}

/// Reads a foreign corpus.
pub fn read_import(input: &Input, spec: &ImportSpec) -> Result<ReadIter> {
    match ShardFormat::from_path(&input.key) {
        Some(ShardFormat::Parquet) => match input.local_path() {
            Some(path) => read_parquet_corpus(input, path, spec),
            // Remote Parquet: a local copy, deleted once the reader has it open.
            None => read_parquet_corpus(input, input.spool()?.path(), spec),
        },
        Some(_) => read_jsonl_corpus(input, spec),
        None => bail!("{input}: not a JSONL or Parquet corpus (by its extension)"),
    }
}

fn field<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, part| v.get(part))
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
        other => Some(other.to_string()),
    }
}

fn read_jsonl_corpus(input: &Input, spec: &ImportSpec) -> Result<ReadIter> {
    let reader = decompress(input.open()?)?;
    let name = input.to_string();
    let key = input.key.clone();
    let spec = spec.clone();
    Ok(Box::new(
        std::io::BufRead::split(reader, b'\n')
            .enumerate()
            .filter(|(_, l)| !matches!(l, Ok(l) if l.iter().all(u8::is_ascii_whitespace)))
            .map(move |(i, line)| {
                let line_no = i + 1;
                let line = match line {
                    Ok(l) => l,
                    Err(e) => {
                        return ReadItem::Fatal(format!("{name}: cannot read line {line_no}: {e}"))
                    }
                };
                let value: Value = match serde_json::from_slice(&line) {
                    Ok(v) => v,
                    Err(e) => {
                        return ReadItem::Error {
                            kind: "bad_json",
                            message: format!("{name}: line {line_no} is not JSON: {e}"),
                        }
                    }
                };
                let text = match field(&value, &spec.text_field) {
                    Some(Value::String(s)) => s.clone(),
                    Some(_) => {
                        return ReadItem::Error {
                            kind: "bad_text_field",
                            message: format!(
                                "{name}: line {line_no}: `{}` is not a string",
                                spec.text_field
                            ),
                        }
                    }
                    None => {
                        return ReadItem::Error {
                            kind: "missing_text_field",
                            message: format!(
                                "{name}: line {line_no} has no `{}` field",
                                spec.text_field
                            ),
                        }
                    }
                };
                let mut meta = BTreeMap::new();
                if let Some(id) = value.get("id").and_then(scalar_string) {
                    meta.insert("source_id".to_string(), id);
                }
                for f in &spec.meta_fields {
                    if let Some(v) = field(&value, f).and_then(scalar_string) {
                        meta.insert(f.clone(), v);
                    }
                }
                ReadItem::Doc(Document {
                    id: make_id(&spec.dataset, &key, &line_no.to_string()),
                    dataset: spec.dataset.clone(),
                    url: field(&value, &spec.url_field).and_then(scalar_string),
                    text,
                    meta,
                    ..Default::default()
                })
            }),
    ))
}

/// Casts a column to strings, or `None` if it is absent.
fn string_column(batch: &RecordBatch, name: &str) -> Result<Option<arrow::array::StringArray>> {
    let Some(col) = batch.column_by_name(name) else {
        return Ok(None);
    };
    let cast = arrow::compute::cast(col, &DataType::Utf8)
        .with_context(|| format!("column `{name}` cannot be read as text"))?;
    Ok(Some(cast.as_string::<i32>().clone()))
}

fn read_parquet_corpus(
    input: &Input,
    path: &std::path::Path,
    spec: &ImportSpec,
) -> Result<ReadIter> {
    let name = input.to_string();
    let file = File::open(path).with_context(|| format!("cannot open {name}"))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("{name}: not a readable Parquet file ({})", footer_at(path)))?;
    if builder.schema().field_with_name(&spec.text_field).is_err() {
        bail!("{name}: no column `{}` (use --text-field)", spec.text_field);
    }
    let reader = builder.with_batch_size(1024).build()?;
    let key = input.key.clone();
    let spec = spec.clone();
    let mut row = 0usize;
    Ok(Box::new(reader.flat_map(move |batch| -> Vec<ReadItem> {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                return vec![ReadItem::Error {
                    kind: "bad_parquet",
                    message: format!("{name}: cannot read rows after row {row}: {e}"),
                }]
            }
        };
        let columns = (|| -> Result<_> {
            let text = string_column(&batch, &spec.text_field)?.expect("checked above");
            let url = string_column(&batch, &spec.url_field)?;
            let id = string_column(&batch, "id")?;
            let mut extra = Vec::new();
            for f in &spec.meta_fields {
                if let Some(c) = string_column(&batch, f)? {
                    extra.push((f.clone(), c));
                }
            }
            Ok((text, url, id, extra))
        })();
        let (text, url, id, extra) = match columns {
            Ok(c) => c,
            Err(e) => {
                return vec![ReadItem::Error {
                    kind: "bad_parquet",
                    message: format!("{name}: rows {row}..: {e:#}"),
                }]
            }
        };
        let get = |a: &arrow::array::StringArray, i: usize| {
            (!a.is_null(i)).then(|| a.value(i).to_string())
        };
        let mut out = Vec::with_capacity(batch.num_rows());
        for i in 0..batch.num_rows() {
            let r = row + i;
            let Some(t) = get(&text, i) else {
                out.push(ReadItem::Error {
                    kind: "missing_text_field",
                    message: format!("{name}: row {r}: `{}` is null", spec.text_field),
                });
                continue;
            };
            let mut meta = BTreeMap::new();
            if let Some(v) = id.as_ref().and_then(|a| get(a, i)) {
                meta.insert("source_id".to_string(), v);
            }
            for (f, col) in &extra {
                if let Some(v) = get(col, i) {
                    meta.insert(f.clone(), v);
                }
            }
            out.push(ReadItem::Doc(Document {
                id: make_id(&spec.dataset, &key, &r.to_string()),
                dataset: spec.dataset.clone(),
                url: url.as_ref().and_then(|a| get(a, i)),
                text: t,
                meta,
                ..Default::default()
            }));
        }
        row += batch.num_rows();
        out
    })))
}
