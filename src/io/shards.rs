//! Document shards on disk: Parquet (zstd) and JSONL (plain, `.gz`, `.zst`), read and written
//! as streams. Writers write under a temporary name in the destination directory and rename
//! when complete, so a reader never sees half a shard.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression as ParquetCompression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::doc::{self, Document};

/// The on-disk formats of document shards.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum ShardFormat {
    Parquet,
    Jsonl,
    JsonlGz,
    JsonlZst,
}

impl ShardFormat {
    pub fn extension(&self) -> &'static str {
        match self {
            ShardFormat::Parquet => "parquet",
            ShardFormat::Jsonl => "jsonl",
            ShardFormat::JsonlGz => "jsonl.gz",
            ShardFormat::JsonlZst => "jsonl.zst",
        }
    }

    /// The format a file name implies, if it names a shard.
    pub fn from_path(path: &str) -> Option<ShardFormat> {
        let p = path.to_ascii_lowercase();
        [
            ShardFormat::Parquet,
            ShardFormat::JsonlGz,
            ShardFormat::JsonlZst,
            ShardFormat::Jsonl,
        ]
        .into_iter()
        .find(|f| p.ends_with(&format!(".{}", f.extension())))
        .or_else(|| {
            let json = [".json", ".json.gz", ".json.zst", ".ndjson", ".ndjson.gz"];
            json.iter().any(|s| p.ends_with(s)).then(|| {
                if p.ends_with(".gz") {
                    ShardFormat::JsonlGz
                } else if p.ends_with(".zst") {
                    ShardFormat::JsonlZst
                } else {
                    ShardFormat::Jsonl
                }
            })
        })
    }
}

pub use sieve_shards::atomic::AtomicFile;

/// Writes documents to one shard.
pub trait DocWriter: Send {
    fn write(&mut self, doc: Document) -> Result<()>;
    /// Flushes, closes and renames the shard into place.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// Opens a writer for `path` in `format`.
pub fn create_writer(path: &Path, format: ShardFormat) -> Result<Box<dyn DocWriter>> {
    let file = AtomicFile::create(path)?;
    let out = match format {
        ShardFormat::Parquet => return Ok(Box::new(ParquetDocWriter::new(file)?)),
        ShardFormat::Jsonl => JsonlOut::Plain(file),
        ShardFormat::JsonlGz => JsonlOut::Gzip(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::new(6),
        )),
        ShardFormat::JsonlZst => JsonlOut::Zstd(zstd::stream::write::Encoder::new(file, 3)?),
    };
    Ok(Box::new(JsonlDocWriter {
        out,
        line: Vec::with_capacity(1 << 16),
    }))
}

enum JsonlOut {
    Plain(AtomicFile),
    Gzip(flate2::write::GzEncoder<AtomicFile>),
    Zstd(zstd::stream::write::Encoder<'static, AtomicFile>),
}

impl JsonlOut {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            JsonlOut::Plain(w) => w,
            JsonlOut::Gzip(w) => w,
            JsonlOut::Zstd(w) => w,
        }
    }

    fn finish(self) -> Result<()> {
        match self {
            JsonlOut::Plain(f) => f.commit(),
            JsonlOut::Gzip(w) => w.finish()?.commit(),
            JsonlOut::Zstd(w) => w.finish()?.commit(),
        }
    }
}

struct JsonlDocWriter {
    out: JsonlOut,
    line: Vec<u8>,
}

impl DocWriter for JsonlDocWriter {
    fn write(&mut self, doc: Document) -> Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, &doc)?;
        self.line.push(b'\n');
        self.out.writer().write_all(&self.line)?;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<()> {
        self.out.finish()
    }
}

/// Documents per Arrow batch handed to the Parquet writer.
const BATCH_DOCS: usize = 1024;
/// Text bytes per Parquet row group: large enough for good compression, small enough that
/// readers stream a shard in bounded memory.
const ROW_GROUP_BYTES: usize = 64 << 20;
/// The writer holds a row group's encoded pages until the group is flushed: a group is also
/// closed when they reach this size (about 30 MB of web text), so a worker's memory stops
/// growing with its shard and does not depend on how well the text compresses. Pass 1 over
/// 100k generated pages peaked at 96–101 MB with 64 MB groups alone, 75 MB with this.
const WRITER_MEMORY_BYTES: usize = 8 << 20;

struct ParquetDocWriter {
    writer: ArrowWriter<AtomicFile>,
    pending: Vec<Document>,
    bytes_in_group: usize,
}

impl ParquetDocWriter {
    fn new(file: AtomicFile) -> Result<Self> {
        let props = WriterProperties::builder()
            .set_compression(ParquetCompression::ZSTD(ZstdLevel::try_new(3)?))
            .set_max_row_group_row_count(Some(1_000_000))
            .set_created_by(format!("sieve {}", env!("CARGO_PKG_VERSION")))
            .build();
        let writer = ArrowWriter::try_new(file, doc::schema(), Some(props))?;
        Ok(ParquetDocWriter {
            writer,
            pending: Vec::with_capacity(BATCH_DOCS),
            bytes_in_group: 0,
        })
    }

    fn write_pending(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = doc::to_batch(&self.pending)?;
        self.writer.write(&batch)?;
        self.pending.clear();
        if self.bytes_in_group >= ROW_GROUP_BYTES
            || self.writer.memory_size() >= WRITER_MEMORY_BYTES
        {
            self.writer.flush()?;
            self.bytes_in_group = 0;
        }
        Ok(())
    }
}

impl DocWriter for ParquetDocWriter {
    fn write(&mut self, doc: Document) -> Result<()> {
        self.bytes_in_group += doc.text.len();
        self.pending.push(doc);
        if self.pending.len() >= BATCH_DOCS {
            self.write_pending()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        self.write_pending()?;
        let file = self.writer.into_inner()?;
        file.commit()
    }
}

/// A stream of documents, or of errors naming the file and the row or line.
pub type DocIter = Box<dyn Iterator<Item = Result<Document>> + Send>;

/// Opens a local sieve document shard (written by [`create_writer`]).
pub fn read_docs(path: &Path) -> Result<DocIter> {
    let name = path.to_string_lossy();
    let format = ShardFormat::from_path(&name).ok_or_else(|| {
        anyhow!(
            "{}: not a document shard (.parquet or .jsonl[.gz|.zst])",
            name
        )
    })?;
    match format {
        ShardFormat::Parquet => read_parquet_docs(path),
        _ => {
            let reader = open_decompressed(path)?;
            Ok(jsonl_docs(reader, name.into_owned()))
        }
    }
}

/// Opens a local file and undoes gzip or zstd compression, decided by its first bytes.
pub fn open_decompressed(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    decompress(Box::new(file))
}

/// Undoes gzip or zstd compression of a stream, decided by its first bytes.
pub fn decompress(input: Box<dyn Read + Send>) -> Result<Box<dyn BufRead + Send>> {
    let mut buffered = BufReader::with_capacity(1 << 18, input);
    let head = buffered.fill_buf()?;
    Ok(match crate::io::compression::Compression::sniff(head) {
        crate::io::compression::Compression::Gzip => Box::new(BufReader::with_capacity(
            1 << 18,
            flate2::bufread::MultiGzDecoder::new(buffered),
        )),
        crate::io::compression::Compression::Zstd => Box::new(BufReader::with_capacity(
            1 << 18,
            zstd::stream::read::Decoder::with_buffer(buffered)?,
        )),
        crate::io::compression::Compression::None => Box::new(buffered),
    })
}

/// Reads sieve documents from JSONL bytes; `name` is used in error messages.
pub fn jsonl_docs(reader: Box<dyn BufRead + Send>, name: String) -> DocIter {
    Box::new(
        reader
            .split(b'\n')
            .enumerate()
            .filter(|(_, line)| !matches!(line, Ok(l) if l.iter().all(u8::is_ascii_whitespace)))
            .map(move |(i, line)| {
                let line = line.with_context(|| format!("{name}: cannot read line {}", i + 1))?;
                serde_json::from_slice::<Document>(&line)
                    .with_context(|| format!("{name}: line {} is not a sieve document", i + 1))
            }),
    )
}

/// Where a Parquet file's metadata is read from, for errors about it: the footer, the last
/// 8 bytes (metadata length and magic).
pub fn footer_at(path: &Path) -> String {
    match std::fs::metadata(path) {
        Ok(m) if m.len() >= 8 => format!("footer at byte {}", m.len() - 8),
        Ok(m) => format!("{} bytes, shorter than a Parquet footer", m.len()),
        Err(_) => "size unknown".into(),
    }
}

fn read_parquet_docs(path: &Path) -> Result<DocIter> {
    let name = path.display().to_string();
    let file = File::open(path).with_context(|| format!("cannot open {name}"))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("{name}: not a readable Parquet file ({})", footer_at(path)))?
        .with_batch_size(BATCH_DOCS)
        .build()?;
    let mut row = 0usize;
    Ok(Box::new(reader.flat_map(move |batch| {
        let result: Vec<Result<Document>> = match batch {
            Err(e) => vec![Err(anyhow!(
                "{name}: cannot read rows after row {row}: {e}"
            ))],
            Ok(batch) => match doc::from_batch(&batch) {
                Ok(docs) => {
                    row += docs.len();
                    docs.into_iter().map(Ok).collect()
                }
                Err(e) => vec![Err(e.context(format!("{name}: rows {row}..")))],
            },
        };
        result
    })))
}

/// Number of rows in a Parquet shard, from its footer.
pub fn parquet_row_count(path: &Path) -> Result<(u64, usize)> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    let meta = builder.metadata();
    Ok((
        meta.file_metadata().num_rows() as u64,
        meta.num_row_groups(),
    ))
}

/// Checks that a path looks like something we can write shards into.
pub fn ensure_output_dir(dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!("output {} exists and is not a directory", dir.display());
    }
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::make_id;

    fn docs(n: usize) -> Vec<Document> {
        (0..n)
            .map(|i| {
                let mut d = Document {
                    id: make_id("t", "f", &i.to_string()),
                    dataset: "t".into(),
                    text: format!("document number {i} ü"),
                    warc_offset: (i % 2 == 0).then_some(i as u64),
                    ..Default::default()
                };
                d.meta.insert("i".into(), i.to_string());
                d
            })
            .collect()
    }

    #[test]
    fn every_format_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        for format in [
            ShardFormat::Parquet,
            ShardFormat::Jsonl,
            ShardFormat::JsonlGz,
            ShardFormat::JsonlZst,
        ] {
            let path = dir.path().join(format!("s.{}", format.extension()));
            let mut w = create_writer(&path, format).unwrap();
            for d in docs(2500) {
                w.write(d).unwrap();
            }
            assert!(!path.exists(), "{format:?} visible before finish");
            w.finish().unwrap();
            let back: Vec<Document> = read_docs(&path).unwrap().map(Result::unwrap).collect();
            assert_eq!(back, docs(2500), "{format:?}");
            let leftovers: Vec<_> = fs::read_dir(dir.path())
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .ends_with(".tmp")
                })
                .collect();
            assert!(leftovers.is_empty());
        }
    }

    #[test]
    fn abandoned_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        let mut w = create_writer(&path, ShardFormat::Jsonl).unwrap();
        w.write(docs(1).remove(0)).unwrap();
        drop(w);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn bad_jsonl_line_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.jsonl");
        let good = serde_json::to_string(&docs(1)[0]).unwrap();
        fs::write(&path, format!("{good}\n{{nope\n{good}\n")).unwrap();
        let items: Vec<_> = read_docs(&path).unwrap().collect();
        assert_eq!(items.len(), 3);
        let err = format!("{:#}", items[1].as_ref().unwrap_err());
        assert!(err.contains("bad.jsonl") && err.contains("line 2"), "{err}");
        assert!(items[2].is_ok());
    }
}
