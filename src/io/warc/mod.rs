//! A streaming WARC/1.0 and 1.1 reader that survives the broken files real crawls contain.
//!
//! Records are read from [`MemberReader`], so each record knows the compressed offset of its
//! gzip member (the offset Common Crawl's indexes use). Every problem (garbage between records,
//! a wrong Content-Length, a truncated or corrupt member, a header that is not UTF-8) becomes
//! one [`RecordError`] naming the byte offset and the reason, after which the reader
//! resynchronizes on the next `WARC/` line or gzip member. Nothing can make it loop forever:
//! every error path consumes input.

use std::collections::VecDeque;
use std::io::{self, Read};

use super::compression::{Compression, MemberReader, MemberStart};

pub use record::*;

mod record;
#[cfg(test)]
mod tests;

const BUFFER: usize = 1 << 17;

/// Where a member starts in the decompressed stream.
#[derive(Debug, Clone, Copy)]
struct Boundary {
    /// Decompressed position of the member's first byte, counted over the whole file.
    start: u64,
    member: MemberStart,
}

/// Iterates over the records of one WARC stream: `Ok(record)` for each wanted record,
/// `Err(error)` for each problem.
///
/// The decompressed members are read as one continuous stream (a few writers split one record
/// over several gzip members), while member boundaries are remembered: they give records their
/// seekable offsets, end a block early when a new member starts a new record, and are the
/// first place to resynchronize after garbage.
pub struct WarcReader<R: Read> {
    src: MemberReader<R>,
    filter: TypeFilter,
    limits: Limits,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Decompressed position of `buf[pos]`.
    global: u64,
    /// Members from the one holding the current record onwards.
    boundaries: VecDeque<Boundary>,
    started: bool,
    /// No more input (end of file, or a fatal read error).
    src_done: bool,
    /// Items ready to hand out, oldest first.
    queue: VecDeque<Result<Record, RecordError>>,
    /// Reused buffer for blocks of skipped records.
    scratch: Vec<u8>,
}

impl<R: Read> WarcReader<R> {
    pub fn new(input: R, filter: TypeFilter) -> Self {
        Self::with_limits(input, filter, Limits::default())
    }

    pub fn with_limits(input: R, filter: TypeFilter, limits: Limits) -> Self {
        WarcReader {
            src: MemberReader::new(input),
            filter,
            limits,
            buf: vec![0; BUFFER],
            pos: 0,
            end: 0,
            global: 0,
            boundaries: VecDeque::new(),
            started: false,
            src_done: false,
            queue: VecDeque::new(),
            scratch: Vec::new(),
        }
    }

    pub fn compression(&self) -> Option<Compression> {
        self.src.compression()
    }

    /// The seekable location of decompressed position `g`.
    fn location_at(&self, g: u64) -> Location {
        if self.src.compression() == Some(Compression::None) {
            return Location {
                member_offset: g,
                offset_in_member: 0,
            };
        }
        match self.boundaries.iter().rev().find(|b| b.start <= g) {
            Some(b) => Location {
                member_offset: b.member.offset,
                offset_in_member: g - b.start,
            },
            None => Location {
                member_offset: 0,
                offset_in_member: g,
            },
        }
    }

    fn error(&self, kind: ErrorKind, at: Location, message: impl Into<String>) -> RecordError {
        RecordError {
            kind,
            location: at,
            record_id: None,
            message: message.into(),
        }
    }

    /// Position just past the buffered bytes.
    fn buffered_end(&self) -> u64 {
        self.global + (self.end - self.pos) as u64
    }

    /// Starts the next member. Returns false at the end of the input.
    fn open_member(&mut self) -> bool {
        match self.src.next_member() {
            Ok(Some(start)) => {
                if start.skipped > 0 {
                    let at = Location {
                        member_offset: start.offset - start.skipped,
                        offset_in_member: 0,
                    };
                    let message = format!(
                        "skipped {} bytes that are not a gzip member, up to the member at byte {}",
                        start.skipped, start.offset
                    );
                    self.queue
                        .push_back(Err(self.error(ErrorKind::Garbage, at, message)));
                }
                self.boundaries.push_back(Boundary {
                    start: self.buffered_end(),
                    member: start,
                });
                true
            }
            Ok(None) => {
                self.src_done = true;
                false
            }
            Err(e) => {
                let at = self.location_at(self.buffered_end());
                let message = format!("reading the input failed: {e}");
                self.queue
                    .push_back(Err(self.error(ErrorKind::Io, at, message)));
                self.src_done = true;
                false
            }
        }
    }

    /// Reads more decompressed bytes into the buffer, moving on to the next member when one
    /// ends. Returns false when the input is exhausted.
    fn fill(&mut self) -> bool {
        if self.pos == self.end {
            self.pos = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            if self.pos > 0 {
                self.buf.copy_within(self.pos..self.end, 0);
                self.end -= self.pos;
                self.pos = 0;
            } else {
                let len = self.buf.len();
                self.buf.resize(len * 2, 0);
            }
        }
        loop {
            if self.src_done {
                return false;
            }
            if !self.started {
                self.started = true;
                if !self.open_member() {
                    return false;
                }
                continue;
            }
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    if !self.open_member() {
                        return false;
                    }
                }
                Ok(n) => {
                    self.end += n;
                    return true;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let at = self.location_at(self.buffered_end());
                    let decoding = matches!(
                        e.kind(),
                        io::ErrorKind::InvalidData
                            | io::ErrorKind::InvalidInput
                            | io::ErrorKind::UnexpectedEof
                            | io::ErrorKind::Other
                    );
                    if decoding {
                        let message = format!("compressed data is corrupt or truncated here: {e}");
                        self.queue.push_back(Err(self.error(
                            ErrorKind::Decompression,
                            at,
                            message,
                        )));
                        self.src.mark_broken();
                    } else {
                        let message = format!("reading the input failed: {e}");
                        self.queue
                            .push_back(Err(self.error(ErrorKind::Io, at, message)));
                        self.src_done = true;
                        return false;
                    }
                }
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
        self.global += n as u64;
    }

    /// Forgets members that end before the current position.
    fn trim_boundaries(&mut self) {
        while self.boundaries.len() >= 2 && self.boundaries[1].start <= self.global {
            self.boundaries.pop_front();
        }
    }

    /// Start of the first member after the current position, if it is known yet.
    fn next_boundary(&self) -> Option<u64> {
        self.boundaries
            .iter()
            .map(|b| b.start)
            .find(|&s| s > self.global)
    }

    fn at_member_start(&self) -> bool {
        self.global > 0 && self.boundaries.iter().any(|b| b.start == self.global)
    }

    /// Looks at the next bytes without consuming them, reading more if needed.
    fn peek(&mut self, n: usize) -> &[u8] {
        while self.end - self.pos < n {
            if !self.fill() {
                break;
            }
        }
        let avail = (self.end - self.pos).min(n);
        &self.buf[self.pos..self.pos + avail]
    }

    fn next_is_record(&mut self) -> bool {
        let next = self.peek(6);
        next.len() == 6 && next.starts_with(b"WARC/") && next[5].is_ascii_digit()
    }

    /// Reads one line (without its terminator). Lines over `max` bytes are swallowed and
    /// reported as too long. `None` at the end of the input.
    fn read_line(&mut self, max: usize) -> Option<Line> {
        let mut searched = 0;
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.pos + searched..self.end]) {
                let len = searched + i;
                let mut line_end = self.pos + len;
                if line_end > self.pos && self.buf[line_end - 1] == b'\r' {
                    line_end -= 1;
                }
                let line = Line {
                    bytes: self.buf[self.pos..line_end].to_vec(),
                    too_long: false,
                };
                self.consume(len + 1);
                return Some(line);
            }
            searched = self.end - self.pos;
            if searched > max {
                self.consume(searched);
                loop {
                    if !self.fill() {
                        return Some(Line::too_long());
                    }
                    if let Some(i) = memchr::memchr(b'\n', &self.buf[self.pos..self.end]) {
                        self.consume(i + 1);
                        return Some(Line::too_long());
                    }
                    let n = self.end - self.pos;
                    self.consume(n);
                }
            }
            if !self.fill() {
                if self.pos == self.end {
                    return None;
                }
                // A last line without a terminator.
                let line = Line {
                    bytes: self.buf[self.pos..self.end].to_vec(),
                    too_long: false,
                };
                let n = self.end - self.pos;
                self.consume(n);
                return Some(line);
            }
        }
    }

    /// Skips line breaks between records. Returns false at the end of the input.
    fn skip_blank(&mut self) -> bool {
        loop {
            let skip = self.buf[self.pos..self.end]
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            self.consume(skip);
            if self.pos < self.end {
                return true;
            }
            if !self.fill() {
                return false;
            }
        }
    }

    /// Skips forward to the next line starting with `WARC/<digit>` or the next member start,
    /// whichever comes first. Returns the number of bytes skipped.
    fn resync(&mut self) -> u64 {
        const PATTERN: &[u8] = b"\nWARC/";
        let start = self.global;
        let mut at_line_start = self.pos > 0 && self.buf[self.pos - 1] == b'\n';
        loop {
            if at_line_start && self.next_is_record() {
                return self.global - start;
            }
            at_line_start = false;
            let boundary = self.next_boundary().map(|b| (b - self.global) as usize);
            let avail = self.end - self.pos;
            let limit = boundary.map_or(avail, |b| b.min(avail));
            let hay = &self.buf[self.pos..self.pos + limit];
            let mut from = 0;
            let mut found = None;
            while let Some(i) = memchr::memmem::find(&hay[from..], PATTERN) {
                let at = from + i;
                match hay.get(at + PATTERN.len()) {
                    Some(d) if d.is_ascii_digit() => {
                        found = Some(at + 1);
                        break;
                    }
                    Some(_) => from = at + 1,
                    None => break,
                }
            }
            if let Some(at) = found {
                self.consume(at);
                return self.global - start;
            }
            if boundary.is_some_and(|b| b <= avail) {
                self.consume(limit);
                return self.global - start;
            }
            // Keep a tail that may hold the start of a pattern split across reads.
            let keep = PATTERN.len().min(avail);
            self.consume(avail - keep);
            if !self.fill() {
                let n = self.end - self.pos;
                self.consume(n);
                return self.global - start;
            }
        }
    }

    /// Moves up to `len` block bytes into `out` (or discards them). Stops early at the end of
    /// the input or where a new member starts a new record. Returns the bytes moved.
    fn take_block(&mut self, len: u64, mut out: Option<&mut Vec<u8>>) -> u64 {
        if let Some(o) = out.as_mut() {
            o.clear();
            o.reserve((len as usize).min(1 << 24));
        }
        let mut got = 0u64;
        while got < len {
            if self.pos == self.end && !self.fill() {
                break;
            }
            if self.at_member_start() && self.next_is_record() {
                break;
            }
            let mut take = ((len - got) as usize).min(self.end - self.pos);
            if let Some(b) = self.next_boundary() {
                take = take.min((b - self.global) as usize);
            }
            if let Some(o) = out.as_mut() {
                o.extend_from_slice(&self.buf[self.pos..self.pos + take]);
            }
            self.consume(take);
            got += take as u64;
        }
        got
    }

    /// Puts bytes back in front of the buffer (a block that ran into the next record).
    fn unread(&mut self, bytes: &[u8]) {
        let mut rest = bytes.to_vec();
        rest.extend_from_slice(&self.buf[self.pos..self.end]);
        if self.buf.len() < rest.len() {
            self.buf.resize(rest.len(), 0);
        }
        self.buf[..rest.len()].copy_from_slice(&rest);
        self.pos = 0;
        self.end = rest.len();
        self.global -= bytes.len() as u64;
    }

    /// True if the block is properly followed by line breaks and then the next record, the
    /// next member or the end of the input. Off-by-a-few line breaks are tolerated.
    fn block_end_ok(&mut self) -> bool {
        let next = self.peek(24);
        let breaks = next
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        if breaks == next.len() {
            return true;
        }
        let at_boundary = self
            .boundaries
            .iter()
            .any(|b| b.start == self.global + breaks as u64);
        let next = self.peek(breaks + 6);
        // A proper CRLF CRLF trailer followed by something else means the record is complete
        // and garbage follows it (reported by the next step), not a wrong Content-Length.
        at_boundary
            || next[breaks..].starts_with(b"WARC/")
            || next.starts_with(b"\r\n\r\n")
            || next.starts_with(b"\n\n")
    }

    /// Reads one record (or finds one problem) and queues the result.
    fn step(&mut self) {
        self.trim_boundaries();
        if !self.skip_blank() {
            return;
        }
        self.trim_boundaries();
        let record_start = self.global;
        let at = self.location_at(record_start);
        let Some(first) = self.read_line(64) else {
            return;
        };
        let Some(version) = parse_version(&first.bytes) else {
            if record_start == 0 && looks_like_arc(&first.bytes) {
                let message =
                    "this is an ARC file, not WARC (convert it with warcio or jwarc first)";
                self.queue
                    .push_back(Err(self.error(ErrorKind::NotWarc, at, message)));
                self.src_done = true;
                self.pos = self.end;
                return;
            }
            let skipped = first.bytes.len() as u64 + 1 + self.resync();
            let message = format!("skipped {skipped} bytes that are not a WARC record");
            self.queue
                .push_back(Err(self.error(ErrorKind::Garbage, at, message)));
            return;
        };

        // Header fields up to the blank line.
        let mut headers: Vec<(String, String)> = Vec::with_capacity(16);
        let mut header_bytes = 0usize;
        let mut problem: Option<(ErrorKind, String)> = None;
        loop {
            let Some(line) = self.read_line(self.limits.max_header_bytes) else {
                let message = "the input ends inside the record header";
                self.queue
                    .push_back(Err(self.error(ErrorKind::Truncated, at, message)));
                return;
            };
            if line.bytes.is_empty() && !line.too_long {
                break;
            }
            header_bytes += line.bytes.len();
            if line.too_long || header_bytes > self.limits.max_header_bytes {
                problem.get_or_insert((ErrorKind::BadHeader, "the header is too long".into()));
                continue;
            }
            if matches!(line.bytes.first(), Some(b' ' | b'\t')) {
                if let Some(last) = headers.last_mut() {
                    last.1.push(' ');
                    last.1.push_str(String::from_utf8_lossy(&line.bytes).trim());
                }
                continue;
            }
            if let Err(e) = std::str::from_utf8(&line.bytes) {
                problem.get_or_insert((
                    ErrorKind::BadHeader,
                    format!(
                        "header line {} is not valid UTF-8 (bad byte at position {} of the line)",
                        headers.len() + 1,
                        e.valid_up_to()
                    ),
                ));
            }
            let text = String::from_utf8_lossy(&line.bytes);
            match text.split_once(':') {
                Some((k, v)) => headers.push((k.trim().to_string(), v.trim().to_string())),
                None => {
                    problem.get_or_insert((
                        ErrorKind::BadHeader,
                        format!("header line `{}` has no `:`", truncate_for_message(&text)),
                    ));
                }
            }
        }
        let find = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let record_id = find("WARC-Record-ID");
        let record_type = RecordType::parse(&find("WARC-Type").unwrap_or_default());
        let error = |kind: ErrorKind, message: String| RecordError {
            kind,
            location: at,
            record_id: record_id.clone(),
            message,
        };

        let length = match find("Content-Length").map(|v| v.trim().parse::<u64>()) {
            Some(Ok(n)) => n,
            other => {
                let message = match other {
                    None => "the record has no Content-Length".to_string(),
                    _ => "Content-Length is not a number".to_string(),
                };
                self.resync();
                self.queue
                    .push_back(Err(error(ErrorKind::BadContentLength, message)));
                return;
            }
        };
        if length > self.limits.max_block_bytes {
            self.take_block(length, None);
            let message = format!(
                "the block of {length} bytes is over the limit of {} bytes; record skipped",
                self.limits.max_block_bytes
            );
            self.queue
                .push_back(Err(error(ErrorKind::TooLarge, message)));
            return;
        }

        let mut block = std::mem::take(&mut self.scratch);
        let got = self.take_block(length, Some(&mut block));
        let mut incomplete = None;
        if got < length {
            incomplete = Some(error(
                ErrorKind::Truncated,
                format!("the record is truncated: Content-Length is {length} but only {got} bytes follow"),
            ));
        } else if !self.block_end_ok() {
            let message = match find_record_start(&block) {
                Some(cut) => {
                    let tail = block.split_off(cut);
                    self.unread(&tail);
                    format!(
                        "Content-Length {length} runs {} bytes into the next record",
                        tail.len()
                    )
                }
                None => {
                    let skipped = self.resync();
                    format!(
                        "Content-Length {length} is too short: {skipped} more bytes follow the block before the next record"
                    )
                }
            };
            incomplete = Some(error(ErrorKind::WrongContentLength, message));
        }
        if let Some((kind, message)) = problem {
            self.scratch = block;
            self.queue.push_back(Err(error(kind, message)));
            return;
        }
        let truncated = incomplete.is_some();
        if let Some(e) = incomplete {
            self.queue.push_back(Err(e));
        }
        if !self.filter.wants(&record_type) {
            self.scratch = block;
            return;
        }
        let block = if block.capacity() > 4 * block.len().max(1 << 16) {
            // Do not hand out (and then re-grow) a huge allocation for a small block.
            let small = block.clone();
            self.scratch = block;
            small
        } else {
            block
        };
        self.queue.push_back(Ok(Record {
            version,
            record_type,
            headers,
            block,
            location: at,
            truncated,
        }));
    }
}

struct Line {
    bytes: Vec<u8>,
    too_long: bool,
}

impl Line {
    fn too_long() -> Line {
        Line {
            bytes: Vec::new(),
            too_long: true,
        }
    }
}

/// `WARC/1.0` → `1.0`. Old 0.x versions (ClueWeb09 uses 0.18) share the same layout.
fn parse_version(line: &[u8]) -> Option<String> {
    let rest = line.strip_prefix(b"WARC/")?;
    let rest = std::str::from_utf8(rest).ok()?.trim();
    let ok = !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit() || c == '.');
    ok.then(|| rest.to_string())
}

/// ARC files start with a `filedesc://` version block.
fn looks_like_arc(line: &[u8]) -> bool {
    line.starts_with(b"filedesc://")
}

/// Where, inside a block, a following record starts (a line `WARC/<digit>...`), with the line
/// breaks before it excluded.
fn find_record_start(block: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&block[from..], b"\nWARC/") {
        let at = from + i;
        if block.get(at + 6).is_some_and(|b| b.is_ascii_digit()) {
            let breaks = block[..at + 1]
                .iter()
                .rev()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            return Some(at + 1 - breaks);
        }
        from = at + 1;
    }
    None
}

fn truncate_for_message(s: &str) -> String {
    s.chars().take(60).collect()
}

impl<R: Read> Iterator for WarcReader<R> {
    type Item = Result<Record, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Some(item);
            }
            if self.src_done && self.pos == self.end {
                return None;
            }
            let before = (self.global, self.src_done, self.end);
            self.step();
            if self.queue.is_empty() && before == (self.global, self.src_done, self.end) {
                // Nothing consumed and nothing produced: the input is exhausted.
                return None;
            }
        }
    }
}
