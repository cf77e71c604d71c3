//! sha256 of what sieve writes: every file a manifest lists carries its size and digest, so a
//! reader can prove the bytes it reads are the ones that were written.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::atomic::AtomicFile;

/// A file's size and sha256, as recorded in manifests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    pub bytes: u64,
    pub sha256: String,
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sha256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// A writer that hashes what passes through it.
pub struct Hashing<W: Write> {
    inner: W,
    ctx: ring::digest::Context,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.ctx.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Hashing<W> {
    pub fn new(inner: W) -> Self {
        Hashing {
            inner,
            ctx: ring::digest::Context::new(&ring::digest::SHA256),
            bytes: 0,
        }
    }

    /// The inner writer back, with the size and digest of everything written.
    pub fn digest(self) -> (W, FileDigest) {
        let sha256 = hex(self.ctx.finish().as_ref());
        (
            self.inner,
            FileDigest {
                bytes: self.bytes,
                sha256,
            },
        )
    }
}

/// Writes a whole file atomically; returns its size and sha256.
pub fn write_digested(path: &Path, bytes: &[u8]) -> Result<FileDigest> {
    AtomicFile::write_all(path, bytes)?;
    Ok(FileDigest {
        bytes: bytes.len() as u64,
        sha256: sha256_hex(bytes),
    })
}

/// sha256 and size of a file on disk.
pub fn digest_file(path: &Path) -> Result<FileDigest> {
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hashing = Hashing::new(std::io::sink());
    std::io::copy(&mut f, &mut hashing)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(hashing.digest().1)
}
