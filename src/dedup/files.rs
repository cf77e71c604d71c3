//! The files between dedup steps: their layout in the work directory and their binary
//! records (little-endian, fixed size where random access needs it).
//!
//! ```text
//! WORK/config.json
//! WORK/signatures/<stem>.docs       header + one 68-byte DocEntry per document
//! WORK/signatures/<stem>.ids        document ids, concatenated (DocEntry points in)
//! WORK/signatures/<stem>.sigs       num_perm u32 per document
//! WORK/signatures/<stem>.shingles   sorted shingle sets, concatenated (--verify exact)
//! WORK/signatures/expected.json     every input stem (written by each signatures task)
//! WORK/lsh/<part>/<stem>.bin        16-byte LshRecords sorted by (key, rank, shard, doc)
//! WORK/edges/<part>.bin             24-byte Edges verified in that partition
//! WORK/components/remove/<stem>.bin documents to drop, with their representative
//! WORK/index/<step>/done/<name>     completion markers of `write_index` (`index_build`)
//! WORK/components/report.json, components.jsonl
//! WORK/<step>/done/<name>           completion markers, written after the outputs
//! ```
//!
//! A `part` is one band (`b07`), the exact-text keys (`exact`) or the URL keys (`url`),
//! and one key range of it (`-r0003`).

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

pub const DOCS_MAGIC: &[u8; 8] = b"SVDEDUP1";
pub const ENTRY_SIZE: usize = 68;
pub const LSH_RECORD_SIZE: usize = 16;
pub const EDGE_SIZE: usize = 24;

/// Edge kinds, strongest first: the reason a document was removed is its strongest edge.
pub const KIND_EXACT: u8 = 0;
pub const KIND_URL: u8 = 1;
pub const KIND_FUZZY: u8 = 2;

pub fn kind_name(kind: u8) -> &'static str {
    match kind {
        KIND_EXACT => "exact",
        KIND_URL => "url",
        _ => "fuzzy",
    }
}

/// Paths inside a work directory.
#[derive(Debug, Clone)]
pub struct WorkDir {
    pub root: PathBuf,
}

impl WorkDir {
    pub fn new(root: &Path) -> WorkDir {
        WorkDir {
            root: root.to_path_buf(),
        }
    }
    pub fn step(&self, step: &str) -> PathBuf {
        self.root.join(step)
    }
    pub fn marker(&self, step: &str, name: &str) -> PathBuf {
        self.root.join(step).join("done").join(name)
    }
    pub fn stats(&self, step: &str, name: &str) -> PathBuf {
        self.root
            .join(step)
            .join("stats")
            .join(format!("{name}.json"))
    }
    pub fn shard_file(&self, stem: &str, ext: &str) -> PathBuf {
        self.root.join("signatures").join(format!("{stem}.{ext}"))
    }
    pub fn lsh_file(&self, part: &str, stem: &str) -> PathBuf {
        self.root.join("lsh").join(part).join(format!("{stem}.bin"))
    }
    pub fn edges_file(&self, part: &str) -> PathBuf {
        self.root.join("edges").join(format!("{part}.bin"))
    }
    pub fn remove_file(&self, stem: &str) -> PathBuf {
        self.root
            .join("components")
            .join("remove")
            .join(format!("{stem}.bin"))
    }

    /// Names with a completion marker in `step`, sorted.
    pub fn done(&self, step: &str) -> Result<Vec<String>> {
        crate::pipeline::tasks::done_names(&self.root.join(step).join("done"))
    }

    /// Every signature shard, in the order that defines shard numbers; fails if a shard the
    /// signatures tasks were given has not finished.
    pub fn signature_shards(&self) -> Result<Vec<String>> {
        let expected = crate::pipeline::tasks::read_expected(
            &self.root.join("signatures").join("expected.json"),
            "sieve dedup signatures",
        )?;
        let done = self.done("signatures")?;
        let missing: Vec<&String> = expected
            .iter()
            .filter(|s| done.binary_search(s).is_err())
            .collect();
        if !missing.is_empty() {
            bail!(
                "{} of {} signature shards are not finished (first: {}); run `sieve dedup signatures` on all inputs first",
                missing.len(),
                expected.len(),
                missing[0]
            );
        }
        let mut shards = expected;
        shards.sort();
        if shards.len() >= 1 << 24 {
            bail!("more than 16.7M input shards: merge inputs into fewer shards");
        }
        Ok(shards)
    }
}

/// The partition name of `band` (or exact/url keys) and key range `range`.
pub fn part_name(kind: u8, band: usize, range: usize) -> String {
    match kind {
        KIND_EXACT => format!("exact-r{range:04}"),
        KIND_URL => format!("url-r{range:04}"),
        _ => format!("b{band:02}-r{range:04}"),
    }
}

/// The kind of a partition from its name.
pub fn part_kind(part: &str) -> u8 {
    if part.starts_with("exact") {
        KIND_EXACT
    } else if part.starts_with("url") {
        KIND_URL
    } else {
        KIND_FUZZY
    }
}

/// The key range of `key` among `ranges` equal slices of the 64-bit key space.
pub fn range_of(key: u64, ranges: usize) -> usize {
    ((key as u128 * ranges as u128) >> 64) as usize
}

/// One document in a signatures shard.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DocEntry {
    pub id_hash: u64,
    pub text_key: u128,
    /// 0 = the document has no usable URL.
    pub url_key: u128,
    pub shingles_start: u64,
    /// 0 = too short for a shingle: no signature, exact dedup only.
    pub shingles_len: u32,
    pub id_start: u64,
    pub id_len: u32,
    /// Index into the shard's dataset list.
    pub dataset: u16,
}

impl DocEntry {
    pub fn has_signature(&self) -> bool {
        self.shingles_len > 0
    }

    pub fn to_bytes(&self) -> [u8; ENTRY_SIZE] {
        let mut b = [0u8; ENTRY_SIZE];
        b[0..8].copy_from_slice(&self.id_hash.to_le_bytes());
        b[8..24].copy_from_slice(&self.text_key.to_le_bytes());
        b[24..40].copy_from_slice(&self.url_key.to_le_bytes());
        b[40..48].copy_from_slice(&self.shingles_start.to_le_bytes());
        b[48..52].copy_from_slice(&self.shingles_len.to_le_bytes());
        b[52..60].copy_from_slice(&self.id_start.to_le_bytes());
        b[60..64].copy_from_slice(&self.id_len.to_le_bytes());
        b[64..66].copy_from_slice(&self.dataset.to_le_bytes());
        b
    }

    pub fn from_bytes(b: &[u8]) -> DocEntry {
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let u128_at = |i: usize| u128::from_le_bytes(b[i..i + 16].try_into().expect("16 bytes"));
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        DocEntry {
            id_hash: u64_at(0),
            text_key: u128_at(8),
            url_key: u128_at(24),
            shingles_start: u64_at(40),
            shingles_len: u32_at(48),
            id_start: u64_at(52),
            id_len: u32_at(60),
            dataset: u16::from_le_bytes([b[64], b[65]]),
        }
    }
}

/// The header of a `.docs` file.
#[derive(Debug, Clone)]
pub struct DocsHeader {
    pub count: u64,
    pub datasets: Vec<String>,
    /// Byte offset of the first entry.
    pub entries_at: u64,
}

pub fn write_docs_header(out: &mut impl Write, count: u64, datasets: &[String]) -> Result<()> {
    let json = serde_json::to_vec(datasets)?;
    out.write_all(DOCS_MAGIC)?;
    out.write_all(&count.to_le_bytes())?;
    out.write_all(&(json.len() as u32).to_le_bytes())?;
    out.write_all(&json)?;
    Ok(())
}

pub fn read_docs_header(r: &mut impl Read, path: &Path) -> Result<DocsHeader> {
    let mut fixed = [0u8; 20];
    r.read_exact(&mut fixed)
        .with_context(|| format!("{}: truncated header", path.display()))?;
    if &fixed[..8] != DOCS_MAGIC {
        bail!("{}: not a sieve dedup docs file", path.display());
    }
    let count = u64::from_le_bytes(fixed[8..16].try_into().expect("8 bytes"));
    let len = u32::from_le_bytes(fixed[16..20].try_into().expect("4 bytes")) as usize;
    let mut json = vec![0u8; len];
    r.read_exact(&mut json)
        .with_context(|| format!("{}: truncated header", path.display()))?;
    let datasets = serde_json::from_slice(&json)
        .with_context(|| format!("{}: bad dataset list", path.display()))?;
    Ok(DocsHeader {
        count,
        datasets,
        entries_at: 20 + len as u64,
    })
}

/// Reads every entry of a `.docs` file in order.
pub struct DocsReader {
    pub header: DocsHeader,
    reader: BufReader<File>,
    left: u64,
    path: PathBuf,
}

impl DocsReader {
    pub fn open(path: &Path) -> Result<DocsReader> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut reader = BufReader::with_capacity(1 << 18, file);
        let header = read_docs_header(&mut reader, path)?;
        Ok(DocsReader {
            left: header.count,
            header,
            reader,
            path: path.to_path_buf(),
        })
    }

    pub fn next_entry(&mut self) -> Result<Option<DocEntry>> {
        if self.left == 0 {
            return Ok(None);
        }
        let mut b = [0u8; ENTRY_SIZE];
        self.reader
            .read_exact(&mut b)
            .with_context(|| format!("{}: truncated", self.path.display()))?;
        self.left -= 1;
        Ok(Some(DocEntry::from_bytes(&b)))
    }
}

/// Random access to one signatures shard (edges, components and explain use it).
pub struct ShardTables {
    pub stem: String,
    pub header: DocsHeader,
    docs: File,
    ids: File,
    sigs: File,
    shingles: Option<File>,
    num_perm: usize,
}

impl ShardTables {
    pub fn open(work: &WorkDir, stem: &str, num_perm: usize) -> Result<ShardTables> {
        Self::open_in(&work.step("signatures"), stem, num_perm)
    }

    /// The tables of shard `stem` in `dir` (a work directory's `signatures/`, or an index
    /// segment).
    pub fn open_in(dir: &Path, stem: &str, num_perm: usize) -> Result<ShardTables> {
        let file = |ext: &str| dir.join(format!("{stem}.{ext}"));
        let open = |ext: &str| {
            let p = file(ext);
            File::open(&p).with_context(|| format!("cannot open {}", p.display()))
        };
        let docs_path = file("docs");
        let mut docs = open("docs")?;
        let header = read_docs_header(&mut docs, &docs_path)?;
        let shingles_path = file("shingles");
        Ok(ShardTables {
            stem: stem.to_string(),
            header,
            docs,
            ids: open("ids")?,
            sigs: open("sigs")?,
            shingles: if shingles_path.exists() {
                Some(open("shingles")?)
            } else {
                None
            },
            num_perm,
        })
    }

    pub fn entry(&self, doc: u32) -> Result<DocEntry> {
        if doc as u64 >= self.header.count {
            bail!("{}: no document {doc}", self.stem);
        }
        let mut b = [0u8; ENTRY_SIZE];
        self.docs
            .read_exact_at(
                &mut b,
                self.header.entries_at + doc as u64 * ENTRY_SIZE as u64,
            )
            .with_context(|| format!("{}.docs: cannot read entry {doc}", self.stem))?;
        Ok(DocEntry::from_bytes(&b))
    }

    pub fn id(&self, entry: &DocEntry) -> Result<String> {
        let mut b = vec![0u8; entry.id_len as usize];
        self.ids
            .read_exact_at(&mut b, entry.id_start)
            .with_context(|| format!("{}.ids: cannot read an id", self.stem))?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }

    pub fn dataset(&self, entry: &DocEntry) -> &str {
        self.header
            .datasets
            .get(entry.dataset as usize)
            .map_or("?", String::as_str)
    }

    pub fn signature(&self, doc: u32, out: &mut Vec<u32>) -> Result<()> {
        read_u32s(
            &self.sigs,
            doc as u64 * self.num_perm as u64,
            self.num_perm,
            out,
        )
        .with_context(|| format!("{}.sigs: cannot read signature {doc}", self.stem))
    }

    pub fn shingles(&self, entry: &DocEntry, out: &mut Vec<u32>) -> Result<()> {
        let Some(f) = &self.shingles else {
            bail!(
                "{}.shingles is missing: signatures were made with --verify estimate",
                self.stem
            );
        };
        read_u32s(f, entry.shingles_start, entry.shingles_len as usize, out)
            .with_context(|| format!("{}.shingles: cannot read a set", self.stem))
    }
}

fn read_u32s(f: &File, index: u64, count: usize, out: &mut Vec<u32>) -> std::io::Result<()> {
    let mut bytes = vec![0u8; count * 4];
    f.read_exact_at(&mut bytes, index * 4)?;
    out.clear();
    out.extend(
        bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes"))),
    );
    Ok(())
}

/// One band key of one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LshRecord {
    pub key: u64,
    /// `rank << 24 | shard`: sorting by it puts the highest-priority member of a bucket
    /// first, then the earliest shard.
    pub rank_shard: u32,
    pub doc: u32,
}

impl LshRecord {
    pub fn new(key: u64, rank: u8, shard: u32, doc: u32) -> LshRecord {
        LshRecord {
            key,
            rank_shard: (rank as u32) << 24 | shard,
            doc,
        }
    }
    pub fn shard(&self) -> u32 {
        self.rank_shard & 0x00ff_ffff
    }
    pub fn to_bytes(self) -> [u8; LSH_RECORD_SIZE] {
        let mut b = [0u8; LSH_RECORD_SIZE];
        b[0..8].copy_from_slice(&self.key.to_le_bytes());
        b[8..12].copy_from_slice(&self.rank_shard.to_le_bytes());
        b[12..16].copy_from_slice(&self.doc.to_le_bytes());
        b
    }
    pub fn from_bytes(b: &[u8]) -> LshRecord {
        LshRecord {
            key: u64::from_le_bytes(b[0..8].try_into().expect("8 bytes")),
            rank_shard: u32::from_le_bytes(b[8..12].try_into().expect("4 bytes")),
            doc: u32::from_le_bytes(b[12..16].try_into().expect("4 bytes")),
        }
    }
}

/// A verified duplicate relation between two documents (shard, doc).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edge {
    pub a: (u32, u32),
    pub b: (u32, u32),
    pub jaccard: f32,
    pub kind: u8,
}

impl Edge {
    pub fn to_bytes(self) -> [u8; EDGE_SIZE] {
        let mut b = [0u8; EDGE_SIZE];
        b[0..4].copy_from_slice(&self.a.0.to_le_bytes());
        b[4..8].copy_from_slice(&self.a.1.to_le_bytes());
        b[8..12].copy_from_slice(&self.b.0.to_le_bytes());
        b[12..16].copy_from_slice(&self.b.1.to_le_bytes());
        b[16..20].copy_from_slice(&self.jaccard.to_le_bytes());
        b[20] = self.kind;
        b
    }
    pub fn from_bytes(b: &[u8]) -> Edge {
        let u = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        Edge {
            a: (u(0), u(4)),
            b: (u(8), u(12)),
            jaccard: f32::from_le_bytes(b[16..20].try_into().expect("4 bytes")),
            kind: b[20],
        }
    }
}

/// Calls `f` for every fixed-size record of a file, streaming.
pub fn for_each_record(
    path: &Path,
    size: usize,
    mut f: impl FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = file.metadata()?.len();
    if len % size as u64 != 0 {
        bail!(
            "{}: {} bytes is not a whole number of {size}-byte records (truncated?)",
            path.display(),
            len
        );
    }
    let mut reader = BufReader::with_capacity(1 << 18, file);
    let mut buf = vec![0u8; size * 4096];
    let mut left = len as usize;
    while left > 0 {
        let n = left.min(buf.len());
        reader
            .read_exact(&mut buf[..n])
            .with_context(|| format!("cannot read {}", path.display()))?;
        for rec in buf[..n].chunks_exact(size) {
            f(rec)?;
        }
        left -= n;
    }
    Ok(())
}

/// A document to drop, as `components` writes it for `filter`.
#[derive(Debug, Clone, PartialEq)]
pub struct Removal {
    pub id_hash: u64,
    /// The document's position in its shard.
    pub position: u32,
    pub component_size: u32,
    pub kind: u8,
    /// 0: the representative is one of the run's documents; i + 1: an indexed document of
    /// the run's `against[i]`.
    pub origin: u8,
    pub representative: String,
}

/// Bytes of a removal record before its representative's id.
const REMOVAL_FIXED: usize = 22;

pub fn write_removal(out: &mut impl Write, r: &Removal) -> Result<()> {
    out.write_all(&r.id_hash.to_le_bytes())?;
    out.write_all(&r.position.to_le_bytes())?;
    out.write_all(&r.component_size.to_le_bytes())?;
    out.write_all(&[r.kind, r.origin])?;
    out.write_all(&(r.representative.len() as u32).to_le_bytes())?;
    out.write_all(r.representative.as_bytes())?;
    Ok(())
}

pub fn read_removals(path: &Path) -> Result<Vec<Removal>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if i + REMOVAL_FIXED > bytes.len() {
            bail!("{}: truncated record at byte {i}", path.display());
        }
        let u32_at = |k: usize| u32::from_le_bytes(bytes[k..k + 4].try_into().expect("4"));
        let id_hash = u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        let len = u32_at(i + 18) as usize;
        let end = i + REMOVAL_FIXED + len;
        if end > bytes.len() {
            bail!("{}: truncated record at byte {i}", path.display());
        }
        out.push(Removal {
            id_hash,
            position: u32_at(i + 8),
            component_size: u32_at(i + 12),
            kind: bytes[i + 16],
            origin: bytes[i + 17],
            representative: String::from_utf8_lossy(&bytes[i + REMOVAL_FIXED..end]).into_owned(),
        });
        i = end;
    }
    Ok(out)
}

/// The 64-bit hash of a document id that `filter` matches removals by.
pub fn id_hash(id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(id.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let e = DocEntry {
            id_hash: 1,
            text_key: u128::MAX - 3,
            url_key: 7,
            shingles_start: 9,
            shingles_len: 10,
            id_start: 11,
            id_len: 12,
            dataset: 13,
        };
        assert_eq!(DocEntry::from_bytes(&e.to_bytes()), e);
        let r = LshRecord::new(5, 3, 77, 9);
        assert_eq!(LshRecord::from_bytes(&r.to_bytes()), r);
        assert_eq!(r.shard(), 77);
        assert!(LshRecord::new(5, 0, 99, 0) < LshRecord::new(5, 1, 0, 0));
        let edge = Edge {
            a: (1, 2),
            b: (3, 4),
            jaccard: 0.85,
            kind: KIND_FUZZY,
        };
        assert_eq!(Edge::from_bytes(&edge.to_bytes()), edge);
        assert_eq!(range_of(u64::MAX, 4), 3);
        assert_eq!(range_of(0, 4), 0);
    }
}
