//! Decompressed byte streams that keep gzip member boundaries visible.
//!
//! Common Crawl compresses every WARC record as its own gzip member, and the byte offset of
//! that member is what its indexes point at. A reader that hid member boundaries (like
//! `MultiGzDecoder`) could neither report seekable offsets nor resynchronize after a corrupt
//! member, so [`MemberReader`] hands out one member at a time. Uncompressed and zstd files
//! are presented as a single member starting at offset 0.

use std::io::{self, BufRead, Read};

use flate2::bufread::GzDecoder;

use super::inflate::{GzipInflater, Inflated};

/// How a stream of bytes is compressed, decided by its first bytes (never by its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

impl Compression {
    pub fn name(&self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    pub fn sniff(prefix: &[u8]) -> Compression {
        if prefix.starts_with(&GZIP_MAGIC[..2]) {
            Compression::Gzip
        } else if prefix.starts_with(&ZSTD_MAGIC) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Size of the read buffer on the compressed side: large enough that a local file or an HTTP
/// body is read in few system calls.
const INPUT_BUFFER: usize = 4 << 20;

/// Compressed bytes offered to the one-shot decoder at first, and at most: members longer
/// than this are streamed.
const WHOLE_INPUT_START: usize = 1 << 20;
const WHOLE_INPUT_MAX: usize = 64 << 20;
/// Initial and largest output buffer for one-shot decoding.
const WHOLE_OUTPUT_START: usize = 4 << 20;
const WHOLE_OUTPUT_MAX: usize = 512 << 20;

/// Compressed bytes kept behind the start of the current member, so that a corrupt member
/// can be rescanned from its start for the next gzip header (the decoder may have read past
/// it). Members larger than this are rescanned from where decoding stopped.
const MAX_REWIND: usize = 16 << 20;

/// A buffered reader that counts the bytes consumed from it (the compressed offset), can
/// guarantee a minimum look-ahead for header scanning, and can rewind to a mark.
pub struct CountingBufRead<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    consumed: u64,
    mark: Option<usize>,
}

impl<R: Read> CountingBufRead<R> {
    fn new(inner: R) -> Self {
        CountingBufRead {
            inner,
            buf: vec![0; INPUT_BUFFER],
            pos: 0,
            end: 0,
            consumed: 0,
            mark: None,
        }
    }

    /// Remembers the current position for [`rewind`](Self::rewind).
    fn set_mark(&mut self) {
        self.mark = Some(self.pos);
    }

    /// Goes back to the mark if the bytes since are still held. Returns whether it did.
    fn rewind(&mut self) -> bool {
        match self.mark.take() {
            Some(m) => {
                self.consumed -= (self.pos - m) as u64;
                self.pos = m;
                true
            }
            None => false,
        }
    }

    /// Reads more input so that at least `want` bytes are available, unless input ends.
    fn refill(&mut self, want: usize) -> io::Result<()> {
        let keep = self.mark.unwrap_or(self.pos);
        // Compact only when the room after `end` cannot take what is missing: moving the
        // buffered bytes for every member would cost more than decoding them.
        let missing = want.saturating_sub(self.end - self.pos);
        if keep > 0 && self.buf.len() - self.end < missing.max(1) {
            self.buf.copy_within(keep..self.end, 0);
            self.end -= keep;
            self.pos -= keep;
            self.mark = self.mark.map(|m| m - keep);
        }
        while self.end - self.pos < want {
            if self.end == self.buf.len() {
                if self.end >= MAX_REWIND && self.mark.is_some() {
                    // Too much to keep: give up the ability to rewind this member.
                    self.mark = None;
                    self.buf.copy_within(self.pos..self.end, 0);
                    self.end -= self.pos;
                    self.pos = 0;
                } else {
                    let len = self.buf.len();
                    self.buf.resize((len * 2).max(want), 0);
                }
            }
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => break,
                Ok(k) => {
                    self.end += k;
                    if want == 1 {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Makes at least `n` bytes available unless the input ends first.
    fn ensure(&mut self, n: usize) -> io::Result<&[u8]> {
        if self.end - self.pos < n {
            self.refill(n)?;
        }
        Ok(&self.buf[self.pos..self.end])
    }
}

impl<R: Read> Read for CountingBufRead<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for CountingBufRead<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.end {
            self.refill(1)?;
        }
        Ok(&self.buf[self.pos..self.end])
    }
    fn consume(&mut self, amt: usize) {
        let amt = amt.min(self.end - self.pos);
        self.pos += amt;
        self.consumed += amt as u64;
    }
}

/// Where a member starts, and how many unreadable bytes were skipped to find it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberStart {
    pub offset: u64,
    /// Bytes before `offset` that were not a valid member (garbage or a corrupt member's rest).
    pub skipped: u64,
}

// One State per reader; boxing the decoder would cost an allocation per gzip member.
#[allow(clippy::large_enum_variant)]
enum State<R: Read> {
    /// Between members; holds the compressed stream.
    Idle(CountingBufRead<R>),
    /// A gzip member decoded in one shot into `MemberReader::decoded`.
    Whole(CountingBufRead<R>),
    /// A gzip member being streamed (too large for one shot, or corrupt).
    Gzip(GzDecoder<CountingBufRead<R>>),
    Plain(CountingBufRead<R>),
    Zstd(Box<zstd::stream::read::Decoder<'static, CountingBufRead<R>>>),
    Done,
}

/// Decompressed bytes, one member at a time.
pub struct MemberReader<R: Read> {
    state: State<R>,
    kind: Option<Compression>,
    /// The current member failed to decode; its remaining bytes must be skipped by scanning.
    broken: bool,
    inflater: GzipInflater,
    /// Output of one-shot decoding; `decoded[decoded_pos..decoded_len]` is still unread.
    decoded: Vec<u8>,
    decoded_pos: usize,
    decoded_len: usize,
}

impl<R: Read> MemberReader<R> {
    pub fn new(inner: R) -> Self {
        MemberReader {
            state: State::Idle(CountingBufRead::new(inner)),
            kind: None,
            broken: false,
            inflater: GzipInflater::new(),
            decoded: Vec::new(),
            decoded_pos: 0,
            decoded_len: 0,
        }
    }

    /// The compression found at the start of the stream (known after the first member).
    pub fn compression(&self) -> Option<Compression> {
        self.kind
    }

    /// Finishes the current member (discarding what was not read) and starts the next one.
    /// Returns `None` at the end of the input.
    pub fn next_member(&mut self) -> io::Result<Option<MemberStart>> {
        let mut input = match std::mem::replace(&mut self.state, State::Done) {
            State::Done | State::Plain(_) | State::Zstd(_) => return Ok(None),
            State::Idle(input) | State::Whole(input) => input,
            State::Gzip(mut decoder) => {
                if !self.broken {
                    // Drain the rest of the member so that the next one starts where it should.
                    if let Err(e) = io::copy(&mut decoder, &mut io::sink()) {
                        if e.kind() != io::ErrorKind::InvalidInput
                            && e.kind() != io::ErrorKind::InvalidData
                            && e.kind() != io::ErrorKind::UnexpectedEof
                        {
                            return Err(e);
                        }
                        self.broken = true;
                    }
                }
                decoder.into_inner()
            }
        };
        let kind = match self.kind {
            Some(kind) => kind,
            None => {
                let kind = Compression::sniff(input.fill_buf()?);
                self.kind = Some(kind);
                kind
            }
        };
        let broken = std::mem::take(&mut self.broken);
        match kind {
            Compression::None => {
                self.state = State::Plain(input);
                Ok(Some(MemberStart {
                    offset: 0,
                    skipped: 0,
                }))
            }
            Compression::Zstd => {
                let decoder = zstd::stream::read::Decoder::with_buffer(input)?;
                self.state = State::Zstd(Box::new(decoder));
                Ok(Some(MemberStart {
                    offset: 0,
                    skipped: 0,
                }))
            }
            Compression::Gzip => {
                let skipped = if broken {
                    // The decoder may have read into the next member: rescan from the start
                    // of the broken one when its bytes are still held.
                    let rewound = input.rewind();
                    let skipped = skip_to_magic(&mut input)?;
                    if rewound {
                        // The broken member itself is reported as a decoding error, not as
                        // skipped garbage.
                        0
                    } else {
                        skipped
                    }
                } else {
                    skip_padding_then_garbage(&mut input)?
                };
                if input.fill_buf()?.is_empty() {
                    return Ok(None);
                }
                let offset = input.consumed;
                input.set_mark();
                self.state = match self.inflate_whole(&mut input)? {
                    Some(consumed) => {
                        input.consume(consumed);
                        State::Whole(input)
                    }
                    // Streaming also salvages the readable start of a corrupt member.
                    None => State::Gzip(GzDecoder::new(input)),
                };
                Ok(Some(MemberStart { offset, skipped }))
            }
        }
    }

    /// Decodes the member at the start of `input` in one shot. Returns the compressed length,
    /// or `None` if the member is too large or does not decode (then it is streamed instead).
    fn inflate_whole<S: Read>(
        &mut self,
        input: &mut CountingBufRead<S>,
    ) -> io::Result<Option<usize>> {
        let mut want = WHOLE_INPUT_START;
        if self.decoded.len() < WHOLE_OUTPUT_START {
            self.decoded.resize(WHOLE_OUTPUT_START, 0);
        }
        loop {
            let available = input.ensure(want)?;
            let at_eof = available.len() < want;
            match self.inflater.gzip_member(available, &mut self.decoded) {
                Inflated::Done { consumed, produced } => {
                    self.decoded_pos = 0;
                    self.decoded_len = produced;
                    return Ok(Some(consumed));
                }
                Inflated::NeedsSpace if self.decoded.len() < WHOLE_OUTPUT_MAX => {
                    let bigger = self.decoded.len() * 2;
                    self.decoded.resize(bigger, 0);
                }
                Inflated::BadOrShort if !at_eof && want < WHOLE_INPUT_MAX => want *= 4,
                _ => return Ok(None),
            }
        }
    }

    /// Marks the current member as undecodable after a read error, so that the next call to
    /// [`next_member`](Self::next_member) scans for the next gzip header instead of draining.
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }
}

/// Skips NUL padding between members (some writers pad to block size), then, if the next bytes
/// are not a gzip header, scans forward to one. Returns the number of non-padding bytes skipped.
fn skip_padding_then_garbage<R: Read>(input: &mut CountingBufRead<R>) -> io::Result<u64> {
    loop {
        let buf = input.fill_buf()?;
        let padding = buf.iter().take_while(|&&b| b == 0).count();
        if padding == 0 {
            break;
        }
        input.consume(padding);
    }
    let head = input.ensure(GZIP_MAGIC.len())?;
    if head.is_empty() || head.starts_with(&GZIP_MAGIC) {
        return Ok(0);
    }
    skip_to_magic(input)
}

/// Scans forward to the next gzip header (1f 8b 08), consuming everything before it.
/// A false match inside compressed data is harmless: decoding it fails and the scan repeats.
fn skip_to_magic<R: Read>(input: &mut CountingBufRead<R>) -> io::Result<u64> {
    let start = input.consumed;
    // The current position may be the start of the member that just failed: step past it.
    let mut from = 1;
    loop {
        let buf = input.ensure(GZIP_MAGIC.len().max(from + GZIP_MAGIC.len()))?;
        if buf.len() < GZIP_MAGIC.len() + from {
            let n = buf.len();
            input.consume(n);
            return Ok(input.consumed - start);
        }
        match memchr::memmem::find(&buf[from..], &GZIP_MAGIC) {
            Some(i) => {
                input.consume(from + i);
                return Ok(input.consumed - start);
            }
            None => {
                // Keep the last bytes: a header may straddle the buffer boundary.
                let n = buf.len() - (GZIP_MAGIC.len() - 1);
                input.consume(n);
                from = 0;
            }
        }
    }
}

impl<R: Read> Read for MemberReader<R> {
    /// Reads the current member; `Ok(0)` means the member (not necessarily the input) ended.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.broken {
            return Ok(0);
        }
        let result = match &mut self.state {
            State::Whole(_) => {
                let n = buf.len().min(self.decoded_len - self.decoded_pos);
                buf[..n].copy_from_slice(&self.decoded[self.decoded_pos..self.decoded_pos + n]);
                self.decoded_pos += n;
                Ok(n)
            }
            State::Gzip(d) => d.read(buf),
            State::Plain(r) => r.read(buf),
            State::Zstd(d) => d.read(buf),
            State::Idle(_) | State::Done => Ok(0),
        };
        if result.is_err() {
            self.broken = true;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn members(bytes: Vec<u8>) -> Vec<(MemberStart, Result<Vec<u8>, String>)> {
        let mut r = MemberReader::new(io::Cursor::new(bytes));
        let mut out = Vec::new();
        while let Some(start) = r.next_member().unwrap() {
            let mut data = Vec::new();
            let res = r
                .read_to_end(&mut data)
                .map(|_| data)
                .map_err(|e| e.to_string());
            out.push((start, res));
        }
        out
    }

    #[test]
    fn gzip_members_report_their_compressed_offsets() {
        let a = gz(b"first");
        let b = gz(b"second");
        let mut file = a.clone();
        file.extend_from_slice(&b);
        let m = members(file);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].0.offset, 0);
        assert_eq!(m[1].0.offset, a.len() as u64);
        assert_eq!(m[1].1.as_deref().unwrap(), b"second");
    }

    #[test]
    fn garbage_between_members_is_skipped_and_counted() {
        let mut file = gz(b"one");
        file.extend_from_slice(b"GARBAGE!");
        let second_at = file.len() as u64;
        file.extend_from_slice(&gz(b"two"));
        let m = members(file);
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[1].0,
            MemberStart {
                offset: second_at,
                skipped: 8
            }
        );
    }

    #[test]
    fn corrupt_member_is_skipped_to_the_next_one() {
        let mut first = gz(&vec![b'x'; 5000]);
        let mid = first.len() / 2;
        for byte in &mut first[12..mid] {
            *byte ^= 0x5a;
        }
        let second_at = first.len() as u64;
        let mut file = first;
        file.extend_from_slice(&gz(b"survivor"));
        let m = members(file);
        assert!(m[0].1.is_err());
        let last = m.last().unwrap();
        assert_eq!(last.0.offset, second_at);
        assert_eq!(last.1.as_deref().unwrap(), b"survivor");
    }

    #[test]
    fn truncated_member_ends_the_input_with_an_error() {
        let mut file = gz(&vec![b'y'; 10_000]);
        file.truncate(file.len() - 10);
        let m = members(file);
        assert_eq!(m.len(), 1);
        assert!(m[0].1.is_err());
    }

    #[test]
    fn plain_and_zstd_are_one_member() {
        assert_eq!(members(b"plain text".to_vec()).len(), 1);
        let z = zstd::encode_all(&b"zstd text"[..], 3).unwrap();
        let m = members(z);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].1.as_deref().unwrap(), b"zstd text");
    }
}
