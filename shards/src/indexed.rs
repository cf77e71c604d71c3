//! Megatron's indexed dataset (MMIDIDX version 1): `P.bin` holds every document's tokens
//! back to back; `P.idx` holds the header and, per document, its length and byte offset.
//!
//! `.idx` layout, little-endian and unpadded: `"MMIDIDX\0\0"`, u64 version 1, u8 dtype code
//! (8 = uint16, 4 = int32), u64 sequence count S, u64 document count + 1, i32[S] lengths,
//! i64[S] byte offsets, i64[S + 1] document indices. One sequence per document, so the
//! document indices are `0..=S`. The arrays start at byte 34, unaligned: read them element by
//! element, never by casting.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::digest::{FileDigest, Hashing};
use crate::atomic::AtomicFile;

const MAGIC: &[u8; 9] = b"MMIDIDX\x00\x00";
const HEADER: usize = 34;

/// Token storage type: Megatron's rule is uint16 when the vocabulary has fewer than 65,500
/// tokens (`tools/preprocess_data.py`), int32 otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenDtype {
    Uint16,
    Int32,
}

impl TokenDtype {
    pub fn for_vocab(vocab_size: u32) -> TokenDtype {
        if vocab_size < 65_500 {
            TokenDtype::Uint16
        } else {
            TokenDtype::Int32
        }
    }

    pub fn code(self) -> u8 {
        match self {
            TokenDtype::Uint16 => 8,
            TokenDtype::Int32 => 4,
        }
    }

    pub fn from_code(code: u8) -> Result<TokenDtype> {
        match code {
            8 => Ok(TokenDtype::Uint16),
            4 => Ok(TokenDtype::Int32),
            other => {
                bail!("dtype code {other} is not a token type (expected 8 = uint16 or 4 = int32)")
            }
        }
    }

    /// Appends `ids` to `out` as little-endian elements of this type; an id that does not
    /// fit is an error, never a silent truncation.
    pub fn encode(self, ids: &[u32], out: &mut Vec<u8>) -> Result<()> {
        match self {
            TokenDtype::Uint16 => {
                for &t in ids {
                    let t = u16::try_from(t)
                        .map_err(|_| anyhow::anyhow!("token id {t} does not fit uint16"))?;
                    out.extend_from_slice(&t.to_le_bytes());
                }
            }
            TokenDtype::Int32 => {
                for &t in ids {
                    let t = i32::try_from(t)
                        .map_err(|_| anyhow::anyhow!("token id {t} does not fit int32"))?;
                    out.extend_from_slice(&t.to_le_bytes());
                }
            }
        }
        Ok(())
    }

    pub fn size(self) -> usize {
        match self {
            TokenDtype::Uint16 => 2,
            TokenDtype::Int32 => 4,
        }
    }
}

/// `P.bin` and `P.idx` for a prefix `P`.
pub fn bin_path(prefix: &Path) -> PathBuf {
    with_suffix(prefix, ".bin")
}

pub fn idx_path(prefix: &Path) -> PathBuf {
    with_suffix(prefix, ".idx")
}

/// The prefix `path` names (`P`, `P.bin` or `P.idx`), if its `.idx` exists.
pub fn existing_prefix(path: &Path) -> Option<PathBuf> {
    let s = path.to_string_lossy();
    let prefix = PathBuf::from(s.trim_end_matches(".idx").trim_end_matches(".bin"));
    idx_path(&prefix).exists().then_some(prefix)
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// What a finished prefix holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrittenPrefix {
    pub documents: u64,
    pub tokens: u64,
    pub bin: FileDigest,
    pub idx: FileDigest,
}

/// Streams documents into `P.bin`; `finish` writes `P.idx`. Both go through temporary names
/// and are renamed into place, `.bin` first, so a reader that finds the `.idx` finds both.
pub struct IndexedWriter {
    prefix: PathBuf,
    dtype: TokenDtype,
    bin: Hashing<AtomicFile>,
    lengths: Vec<i32>,
    tokens: u64,
    scratch: Vec<u8>,
}

impl IndexedWriter {
    pub fn create(prefix: &Path, dtype: TokenDtype) -> Result<IndexedWriter> {
        Ok(IndexedWriter {
            prefix: prefix.to_path_buf(),
            dtype,
            bin: Hashing::new(AtomicFile::create(&bin_path(prefix))?),
            lengths: Vec::new(),
            tokens: 0,
            scratch: Vec::new(),
        })
    }

    /// Appends one document (its end-of-document token already appended).
    pub fn add(&mut self, tokens: &[u32]) -> Result<()> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let result = self
            .dtype
            .encode(tokens, &mut scratch)
            .with_context(|| format!("cannot encode a document for {}", self.prefix.display()))
            .and_then(|()| self.add_raw(&scratch));
        self.scratch = scratch;
        result
    }

    /// Appends a document already encoded in this writer's dtype (little-endian bytes).
    pub fn add_raw(&mut self, bytes: &[u8]) -> Result<()> {
        let n = bytes.len() / self.dtype.size();
        if n > i32::MAX as usize {
            bail!("a document of {n} tokens does not fit an int32 length");
        }
        self.bin
            .write_all(bytes)
            .with_context(|| format!("cannot write {}", bin_path(&self.prefix).display()))?;
        self.lengths.push(n as i32);
        self.tokens += n as u64;
        Ok(())
    }

    pub fn documents(&self) -> u64 {
        self.lengths.len() as u64
    }

    pub fn finish(self) -> Result<WrittenPrefix> {
        let (bin, bin_digest) = self.bin.digest();
        bin.commit()?;
        let mut idx = Hashing::new(AtomicFile::create(&idx_path(&self.prefix))?);
        let s = self.lengths.len() as u64;
        let mut head = Vec::with_capacity(HEADER);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&1u64.to_le_bytes());
        head.push(self.dtype.code());
        head.extend_from_slice(&s.to_le_bytes());
        head.extend_from_slice(&(s + 1).to_le_bytes());
        idx.write_all(&head)?;
        let mut w = BufWriter::new(&mut idx);
        for &l in &self.lengths {
            w.write_all(&l.to_le_bytes())?;
        }
        let mut pointer = 0i64;
        for &l in &self.lengths {
            w.write_all(&pointer.to_le_bytes())?;
            pointer += l as i64 * self.dtype.size() as i64;
        }
        for d in 0..=s as i64 {
            w.write_all(&d.to_le_bytes())?;
        }
        w.flush()?;
        drop(w);
        let (idx, idx_digest) = idx.digest();
        idx.commit()?;
        Ok(WrittenPrefix {
            documents: s,
            tokens: self.tokens,
            bin: bin_digest,
            idx: idx_digest,
        })
    }
}

/// A prefix opened for reading: the index in memory, the tokens read on demand.
pub struct IndexedReader {
    pub prefix: PathBuf,
    pub dtype: TokenDtype,
    pub lengths: Vec<i32>,
    pub pointers: Vec<i64>,
    bin: File,
}

fn read_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

impl IndexedReader {
    pub fn open(prefix: &Path) -> Result<IndexedReader> {
        let idx = idx_path(prefix);
        let mut bytes = Vec::new();
        File::open(&idx)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .with_context(|| format!("cannot read {}", idx.display()))?;
        let bad = |what: &str| anyhow::anyhow!("{}: {what}", idx.display());
        if bytes.len() < HEADER || &bytes[..9] != MAGIC {
            return Err(bad("not a Megatron MMIDIDX index (bad magic)"));
        }
        if read_u64(&bytes, 9) != 1 {
            return Err(bad("index version is not 1"));
        }
        let dtype = TokenDtype::from_code(bytes[17]).map_err(|e| bad(&e.to_string()))?;
        let s = read_u64(&bytes, 18) as usize;
        let d = read_u64(&bytes, 26) as usize;
        let expected = HEADER as u128 + 12 * s as u128 + 8 * d as u128;
        if bytes.len() as u128 != expected {
            return Err(bad(&format!(
                "{} bytes, expected {expected} for {s} sequences and {d} document indices \
                 (multimodal indices are not supported)",
                bytes.len()
            )));
        }
        let lengths: Vec<i32> = (0..s)
            .map(|k| {
                let at = HEADER + 4 * k;
                i32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
            })
            .collect();
        let pointers: Vec<i64> = (0..s)
            .map(|k| read_u64(&bytes, HEADER + 4 * s + 8 * k) as i64)
            .collect();
        let docs_at = HEADER + 12 * s;
        if d == 0
            || read_u64(&bytes, docs_at) != 0
            || read_u64(&bytes, docs_at + 8 * (d - 1)) as usize != s
        {
            return Err(bad(
                "document indices do not run from 0 to the sequence count",
            ));
        }
        let mut expect = 0i64;
        for (k, (&l, &p)) in lengths.iter().zip(&pointers).enumerate() {
            if l < 0 || p != expect {
                return Err(bad(&format!(
                    "sequence {k} (its length at byte {}): length {l} or offset {p} out of order",
                    HEADER + 4 * k
                )));
            }
            expect += l as i64 * dtype.size() as i64;
        }
        let bin_file = bin_path(prefix);
        let bin =
            File::open(&bin_file).with_context(|| format!("cannot open {}", bin_file.display()))?;
        let size = bin.metadata()?.len();
        if size != expect as u64 {
            bail!(
                "{}: {size} bytes, but the index describes {expect}",
                bin_file.display()
            );
        }
        Ok(IndexedReader {
            prefix: prefix.to_path_buf(),
            dtype,
            lengths,
            pointers,
            bin,
        })
    }

    pub fn len(&self) -> usize {
        self.lengths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }

    pub fn total_tokens(&self) -> u64 {
        self.lengths.iter().map(|&l| l as u64).sum()
    }

    /// Document `k`'s raw bytes (little-endian elements of `dtype`).
    pub fn raw(&self, k: usize, out: &mut Vec<u8>) -> Result<()> {
        let n = self.lengths[k] as usize * self.dtype.size();
        out.resize(n, 0);
        self.bin
            .read_exact_at(out, self.pointers[k] as u64)
            .with_context(|| format!("cannot read {}", bin_path(&self.prefix).display()))
    }

    /// Document `k`'s tokens.
    pub fn tokens(&self, k: usize, out: &mut Vec<u32>) -> Result<()> {
        let mut raw = Vec::new();
        self.raw(k, &mut raw)?;
        out.clear();
        decode_raw(self.dtype, &raw, out);
        Ok(())
    }
}

/// Little-endian elements of `dtype` → token ids.
pub fn decode_raw(dtype: TokenDtype, raw: &[u8], out: &mut Vec<u32>) {
    match dtype {
        TokenDtype::Uint16 => out.extend(
            raw.chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]) as u32),
        ),
        TokenDtype::Int32 => out.extend(
            raw.chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as u32),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_worked_example() {
        // shards.md §1.6: [10,20,30,EOD] and [40,EOD], uint16.
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("tiny");
        let mut w = IndexedWriter::create(&prefix, TokenDtype::Uint16).unwrap();
        w.add(&[10, 20, 30, 50256]).unwrap();
        w.add(&[40, 50256]).unwrap();
        let written = w.finish().unwrap();
        let idx = std::fs::read(idx_path(&prefix)).unwrap();
        assert_eq!(idx.len(), 82);
        assert_eq!(&idx[..9], MAGIC);
        assert_eq!(idx[17], 8);
        let bin = std::fs::read(bin_path(&prefix)).unwrap();
        assert_eq!(
            bin,
            [0x0a, 0, 0x14, 0, 0x1e, 0, 0x50, 0xc4, 0x28, 0, 0x50, 0xc4]
        );
        assert_eq!(written.tokens, 6);
        let r = IndexedReader::open(&prefix).unwrap();
        let mut t = Vec::new();
        r.tokens(1, &mut t).unwrap();
        assert_eq!(t, [40, 50256]);
        assert_eq!(r.pointers, [0, 8]);
        assert_eq!(
            crate::digest::digest_file(&bin_path(&prefix)).unwrap(),
            written.bin
        );
    }

    #[test]
    fn truncated_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("t");
        let mut w = IndexedWriter::create(&prefix, TokenDtype::Int32).unwrap();
        w.add(&[1, 2, 3]).unwrap();
        w.finish().unwrap();
        let bin = bin_path(&prefix);
        let bytes = std::fs::read(&bin).unwrap();
        std::fs::write(&bin, &bytes[..8]).unwrap();
        let err = IndexedReader::open(&prefix).err().unwrap().to_string();
        assert!(err.contains("the index describes 12"), "{err}");
    }
}
