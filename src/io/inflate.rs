//! One-shot gzip member decoding with libdeflate, the fastest inflater measured here
//! (about 1.5x zlib-rs). It needs the whole member in memory and an output buffer large
//! enough for all of it, which suits Common Crawl's one-record-per-member layout; callers fall
//! back to streaming (flate2) for members too large for that, or that do not decode.

use std::ptr::NonNull;

use libdeflate_sys as ffi;

/// Outcome of one decoding attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inflated {
    /// The member decoded: `consumed` input bytes (header and trailer included) gave
    /// `produced` output bytes.
    Done { consumed: usize, produced: usize },
    /// The output buffer is too small.
    NeedsSpace,
    /// The input is corrupt or ends before the member does.
    BadOrShort,
}

/// An owned libdeflate decompressor.
pub struct GzipInflater {
    raw: NonNull<ffi::libdeflate_decompressor>,
}

// SAFETY: a libdeflate decompressor has no thread affinity; it is only used through `&mut`.
unsafe impl Send for GzipInflater {}

impl GzipInflater {
    pub fn new() -> GzipInflater {
        // SAFETY: plain allocation; null only when out of memory.
        let raw = unsafe { ffi::libdeflate_alloc_decompressor() };
        GzipInflater {
            raw: NonNull::new(raw).expect("out of memory allocating a libdeflate decompressor"),
        }
    }

    /// Decodes the gzip member at the start of `input` into `out`.
    pub fn gzip_member(&mut self, input: &[u8], out: &mut [u8]) -> Inflated {
        let mut consumed = 0usize;
        let mut produced = 0usize;
        // SAFETY: the pointers and lengths come from live slices; libdeflate writes at most
        // `out.len()` bytes and reports how much it read and wrote.
        let result = unsafe {
            ffi::libdeflate_gzip_decompress_ex(
                self.raw.as_ptr(),
                input.as_ptr().cast(),
                input.len(),
                out.as_mut_ptr().cast(),
                out.len(),
                &mut consumed,
                &mut produced,
            )
        };
        match result {
            ffi::libdeflate_result_LIBDEFLATE_SUCCESS => Inflated::Done { consumed, produced },
            ffi::libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE => Inflated::NeedsSpace,
            _ => Inflated::BadOrShort,
        }
    }
}

impl Default for GzipInflater {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for GzipInflater {
    fn drop(&mut self) {
        // SAFETY: allocated by libdeflate_alloc_decompressor and freed once.
        unsafe { ffi::libdeflate_free_decompressor(self.raw.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn decodes_one_member_and_reports_its_length() {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b"hello libdeflate").unwrap();
        let member = e.finish().unwrap();
        let mut input = member.clone();
        input.extend_from_slice(b"next member bytes");
        let mut inf = GzipInflater::new();
        let mut out = vec![0; 64];
        assert_eq!(
            inf.gzip_member(&input, &mut out),
            Inflated::Done {
                consumed: member.len(),
                produced: 16
            }
        );
        assert_eq!(&out[..16], b"hello libdeflate");
        assert_eq!(inf.gzip_member(&input, &mut out[..4]), Inflated::NeedsSpace);
        assert_eq!(
            inf.gzip_member(&member[..member.len() - 3], &mut out),
            Inflated::BadOrShort
        );
    }
}
