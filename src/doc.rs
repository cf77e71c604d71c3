//! The one record that flows through every stage, and its one Arrow schema.
//!
//! Every reader and writer in `io::shards` goes through [`schema`], [`to_batch`] and
//! [`from_batch`], so a column added here is added everywhere at once.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use anyhow::{anyhow, bail, Context, Result};
use arrow::array::{
    Array, ArrayRef, AsArray, Float32Array, Float32Builder, MapBuilder, MapFieldNames, RecordBatch,
    StringArray, StringBuilder, UInt64Array, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Float32Type, Schema, SchemaRef, UInt64Type};
use serde::{Deserialize, Serialize};

/// One document. Optional fields are null until the stage that fills them has run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Document {
    /// Stable and unique: `{dataset}/{source key}#{position}` (see [`make_id`]).
    pub id: String,
    /// The source corpus; it carries the dataset's dedup priority.
    pub dataset: String,
    #[serde(default)]
    pub url: Option<String>,
    pub text: String,
    #[serde(default)]
    pub lang: Option<String>,
    #[serde(default)]
    pub lang_score: Option<f32>,
    #[serde(default)]
    pub quality: Option<f32>,
    /// Lineage back to the crawl: the WARC file, the byte offset a reader can seek to
    /// (the gzip member for Common Crawl files) and the WARC-Record-ID.
    #[serde(default)]
    pub warc_path: Option<String>,
    #[serde(default)]
    pub warc_offset: Option<u64>,
    #[serde(default)]
    pub warc_record_id: Option<String>,
    /// Stage annotations (charset decision, page title, sampling draws, ...). Sorted, so that
    /// output bytes never depend on insertion order.
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
}

/// Builds a document id from its dataset, the key of its source file (its path relative to the
/// input root) and the position of the record inside that file (byte offset or line number).
pub fn make_id(dataset: &str, source_key: &str, position: &str) -> String {
    format!("{dataset}/{source_key}#{position}")
}

impl Document {
    /// Size used for the stats' byte counters: the UTF-8 length of the text.
    pub fn text_bytes(&self) -> u64 {
        self.text.len() as u64
    }
}

const META_KEYS: &str = "keys";
const META_VALUES: &str = "values";
const META_ENTRIES: &str = "entries";

fn meta_field_names() -> MapFieldNames {
    MapFieldNames {
        entry: META_ENTRIES.to_string(),
        key: META_KEYS.to_string(),
        value: META_VALUES.to_string(),
    }
}

fn meta_type() -> DataType {
    DataType::Map(
        Arc::new(Field::new(
            META_ENTRIES,
            DataType::Struct(
                vec![
                    Field::new(META_KEYS, DataType::Utf8, false),
                    Field::new(META_VALUES, DataType::Utf8, true),
                ]
                .into(),
            ),
            false,
        )),
        false,
    )
}

/// The Arrow schema of document shards. Column order is part of the on-disk format.
pub fn schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            Arc::new(Schema::new(vec![
                Field::new("id", DataType::Utf8, false),
                Field::new("dataset", DataType::Utf8, false),
                Field::new("url", DataType::Utf8, true),
                Field::new("text", DataType::Utf8, false),
                Field::new("lang", DataType::Utf8, true),
                Field::new("lang_score", DataType::Float32, true),
                Field::new("quality", DataType::Float32, true),
                Field::new("warc_path", DataType::Utf8, true),
                Field::new("warc_offset", DataType::UInt64, true),
                Field::new("warc_record_id", DataType::Utf8, true),
                Field::new("meta", meta_type(), true),
            ]))
        })
        .clone()
}

fn strings<'a>(docs: &'a [Document], f: impl Fn(&'a Document) -> Option<&'a str>) -> ArrayRef {
    let bytes: usize = docs.iter().map(|d| f(d).map_or(0, str::len)).sum();
    let mut b = StringBuilder::with_capacity(docs.len(), bytes);
    for d in docs {
        b.append_option(f(d));
    }
    Arc::new(b.finish())
}

fn floats(docs: &[Document], f: impl Fn(&Document) -> Option<f32>) -> ArrayRef {
    let mut b = Float32Builder::with_capacity(docs.len());
    for d in docs {
        b.append_option(f(d));
    }
    Arc::new(b.finish())
}

/// Converts documents into one record batch of [`schema`].
pub fn to_batch(docs: &[Document]) -> Result<RecordBatch> {
    let mut offsets = UInt64Builder::with_capacity(docs.len());
    for d in docs {
        offsets.append_option(d.warc_offset);
    }
    let mut meta = MapBuilder::new(
        Some(meta_field_names()),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    for d in docs {
        for (k, v) in &d.meta {
            meta.keys().append_value(k);
            meta.values().append_value(v);
        }
        meta.append(true)?;
    }
    let columns: Vec<ArrayRef> = vec![
        strings(docs, |d| Some(d.id.as_str())),
        strings(docs, |d| Some(d.dataset.as_str())),
        strings(docs, |d| d.url.as_deref()),
        strings(docs, |d| Some(d.text.as_str())),
        strings(docs, |d| d.lang.as_deref()),
        floats(docs, |d| d.lang_score),
        floats(docs, |d| d.quality),
        strings(docs, |d| d.warc_path.as_deref()),
        Arc::new(offsets.finish()),
        strings(docs, |d| d.warc_record_id.as_deref()),
        Arc::new(meta.finish()),
    ];
    Ok(RecordBatch::try_new(schema(), columns)?)
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    batch
        .column_by_name(name)
        .ok_or_else(|| anyhow!("not a sieve document shard: column `{name}` is missing"))
}

fn string_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    column(batch, name)?
        .as_string_opt::<i32>()
        .ok_or_else(|| anyhow!("column `{name}` should be a UTF-8 string column"))
}

fn opt_str(a: &StringArray, i: usize) -> Option<String> {
    (!a.is_null(i)).then(|| a.value(i).to_string())
}

/// Converts a record batch written with [`schema`] back into documents.
pub fn from_batch(batch: &RecordBatch) -> Result<Vec<Document>> {
    let id = string_column(batch, "id")?;
    let dataset = string_column(batch, "dataset")?;
    let url = string_column(batch, "url")?;
    let text = string_column(batch, "text")?;
    let lang = string_column(batch, "lang")?;
    let lang_score: &Float32Array = column(batch, "lang_score")?
        .as_primitive_opt::<Float32Type>()
        .context("column `lang_score` should be float32")?;
    let quality: &Float32Array = column(batch, "quality")?
        .as_primitive_opt::<Float32Type>()
        .context("column `quality` should be float32")?;
    let warc_path = string_column(batch, "warc_path")?;
    let warc_offset: &UInt64Array = column(batch, "warc_offset")?
        .as_primitive_opt::<UInt64Type>()
        .context("column `warc_offset` should be uint64")?;
    let warc_record_id = string_column(batch, "warc_record_id")?;
    let meta = column(batch, "meta")?
        .as_map_opt()
        .context("column `meta` should be a map<string, string>")?;
    let meta_keys = meta
        .keys()
        .as_string_opt::<i32>()
        .context("meta keys should be strings")?;
    let meta_values = meta
        .values()
        .as_string_opt::<i32>()
        .context("meta values should be strings")?;
    let meta_offsets = meta.value_offsets();

    let mut docs = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        if id.is_null(i) || text.is_null(i) || dataset.is_null(i) {
            bail!("row {i}: id, dataset and text must not be null");
        }
        let mut m = BTreeMap::new();
        if !meta.is_null(i) {
            for j in meta_offsets[i] as usize..meta_offsets[i + 1] as usize {
                let value = if meta_values.is_null(j) {
                    String::new()
                } else {
                    meta_values.value(j).to_string()
                };
                m.insert(meta_keys.value(j).to_string(), value);
            }
        }
        docs.push(Document {
            id: id.value(i).to_string(),
            dataset: dataset.value(i).to_string(),
            url: opt_str(url, i),
            text: text.value(i).to_string(),
            lang: opt_str(lang, i),
            lang_score: (!lang_score.is_null(i)).then(|| lang_score.value(i)),
            quality: (!quality.is_null(i)).then(|| quality.value(i)),
            warc_path: opt_str(warc_path, i),
            warc_offset: (!warc_offset.is_null(i)).then(|| warc_offset.value(i)),
            warc_record_id: opt_str(warc_record_id, i),
            meta: m,
        });
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Document> {
        let mut full = Document {
            id: make_id("web", "a.warc.gz", "0"),
            dataset: "web".into(),
            url: Some("https://example.org/".into()),
            text: "héllo wörld".into(),
            lang: Some("de".into()),
            lang_score: Some(0.75),
            quality: Some(0.25),
            warc_path: Some("a.warc.gz".into()),
            warc_offset: Some(1234),
            warc_record_id: Some("<urn:uuid:1>".into()),
            meta: BTreeMap::new(),
        };
        full.meta.insert("charset".into(), "utf-8".into());
        full.meta.insert("title".into(), "T".into());
        let empty = Document {
            id: make_id("web", "a.warc.gz", "99"),
            dataset: "web".into(),
            text: String::new(),
            ..Default::default()
        };
        vec![full, empty]
    }

    #[test]
    fn batch_round_trip_keeps_nulls_and_meta() {
        let docs = sample();
        let batch = to_batch(&docs).unwrap();
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.column_by_name("url").unwrap().null_count(), 1);
        assert_eq!(from_batch(&batch).unwrap(), docs);
    }

    #[test]
    fn id_names_dataset_source_and_position() {
        assert_eq!(make_id("cc", "x.warc.gz", "42"), "cc/x.warc.gz#42");
    }
}
