//! NumPy `.npy` files (format 1.0) for one-dimensional integer arrays: how Megatron caches its
//! blending indices, and what `numpy.load` reads.

use std::path::Path;

use anyhow::Result;

use super::digest::{write_digested, FileDigest};

/// Element types written here.
pub trait NpyElement: Copy {
    const DESCR: &'static str;
    fn write_le(self, out: &mut Vec<u8>);
}

impl NpyElement for i16 {
    const DESCR: &'static str = "<i2";
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl NpyElement for i64 {
    const DESCR: &'static str = "<i8";
    fn write_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

/// The header: magic, version 1.0, length, and the dict padded with spaces to a multiple of
/// 64 bytes, ending in a newline.
fn header(descr: &str, len: usize) -> Vec<u8> {
    let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({len},), }}");
    let unpadded = 10 + dict.len() + 1;
    let pad = (64 - unpadded % 64) % 64;
    let mut h = b"\x93NUMPY\x01\x00".to_vec();
    h.extend_from_slice(&((dict.len() + pad + 1) as u16).to_le_bytes());
    h.extend_from_slice(dict.as_bytes());
    h.extend(std::iter::repeat_n(b' ', pad));
    h.push(b'\n');
    h
}

/// Writes `values` to `path` atomically; returns the file's size and sha256.
pub fn write_npy<T: NpyElement>(path: &Path, values: &[T]) -> Result<FileDigest> {
    let mut bytes = header(T::DESCR, values.len());
    for &v in values {
        v.write_le(&mut bytes);
    }
    write_digested(path, &bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_is_aligned() {
        let h = super::header("<i2", 12345);
        assert_eq!(h.len() % 64, 0);
        assert_eq!(*h.last().unwrap(), b'\n');
    }
}
