//! What the WARC reader yields: records with their location, and the errors it reports
//! instead of records (each naming the byte offset and the reason), with the reader's limits.

use std::fmt;

/// The record types of WARC 1.1 (section 6). Unknown types are kept by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecordType {
    Warcinfo,
    Response,
    Resource,
    Request,
    Metadata,
    Revisit,
    Conversion,
    Continuation,
    Other(String),
}

impl RecordType {
    pub fn parse(name: &str) -> RecordType {
        match name.trim().to_ascii_lowercase().as_str() {
            "warcinfo" => RecordType::Warcinfo,
            "response" => RecordType::Response,
            "resource" => RecordType::Resource,
            "request" => RecordType::Request,
            "metadata" => RecordType::Metadata,
            "revisit" => RecordType::Revisit,
            "conversion" => RecordType::Conversion,
            "continuation" => RecordType::Continuation,
            other => RecordType::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            RecordType::Warcinfo => "warcinfo",
            RecordType::Response => "response",
            RecordType::Resource => "resource",
            RecordType::Request => "request",
            RecordType::Metadata => "metadata",
            RecordType::Revisit => "revisit",
            RecordType::Conversion => "conversion",
            RecordType::Continuation => "continuation",
            RecordType::Other(name) => name,
        }
    }
}

/// Which record types the caller wants; the others are skipped without being copied out.
#[derive(Debug, Clone)]
pub struct TypeFilter(Option<Vec<RecordType>>);

impl TypeFilter {
    pub fn all() -> Self {
        TypeFilter(None)
    }
    pub fn only(types: &[RecordType]) -> Self {
        TypeFilter(Some(types.to_vec()))
    }
    pub(super) fn wants(&self, t: &RecordType) -> bool {
        self.0.as_ref().is_none_or(|ts| ts.contains(t))
    }
}

/// Where a record starts: the compressed offset of its gzip member (or the byte offset in an
/// uncompressed file), plus its offset inside the decompressed member when it is not the
/// member's first record (whole-file gzip or zstd).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub member_offset: u64,
    pub offset_in_member: u64,
}

impl Location {
    /// `1234` for a record at the start of its member, `0+5120` otherwise.
    pub fn key(&self) -> String {
        if self.offset_in_member == 0 {
            self.member_offset.to_string()
        } else {
            format!("{}+{}", self.member_offset, self.offset_in_member)
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.offset_in_member == 0 {
            write!(f, "byte {}", self.member_offset)
        } else {
            write!(
                f,
                "byte {} of the member at byte {}",
                self.offset_in_member, self.member_offset
            )
        }
    }
}

/// One WARC record with its block (for `response` records: HTTP headers + payload).
#[derive(Debug, Clone)]
pub struct Record {
    pub version: String,
    pub record_type: RecordType,
    /// Header fields in file order, names as written.
    pub headers: Vec<(String, String)>,
    pub block: Vec<u8>,
    pub location: Location,
    /// The block is incomplete: the input ended, or the next record began, before
    /// Content-Length bytes (an error for the same record was reported just before it).
    pub truncated: bool,
}

impl Record {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn record_id(&self) -> Option<&str> {
        self.header("WARC-Record-ID")
    }
    pub fn target_uri(&self) -> Option<&str> {
        // Some writers wrap the URI in <>, as WARC 1.0's grammar did.
        self.header("WARC-Target-URI")
            .map(|u| u.trim_start_matches('<').trim_end_matches('>'))
    }
}

/// The ways a record can be broken. Each is a stats reason, so names are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Bytes that are neither a record nor a gzip member.
    Garbage,
    /// A header line that is not `Name: value`, or not UTF-8, or too long.
    BadHeader,
    /// Content-Length missing or not a number.
    BadContentLength,
    /// The block does not end where Content-Length says it does.
    WrongContentLength,
    /// The input or the gzip member ended inside the record.
    Truncated,
    /// The gzip or zstd data cannot be decoded.
    Decompression,
    /// The block is larger than the configured limit.
    TooLarge,
    /// The file is not WARC at all (e.g. the older ARC format).
    NotWarc,
    /// Reading the underlying file or stream failed.
    Io,
}

impl ErrorKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorKind::Garbage => "warc_garbage",
            ErrorKind::BadHeader => "warc_bad_header",
            ErrorKind::BadContentLength => "warc_bad_content_length",
            ErrorKind::WrongContentLength => "warc_wrong_content_length",
            ErrorKind::Truncated => "warc_truncated",
            ErrorKind::Decompression => "warc_decompression",
            ErrorKind::TooLarge => "warc_too_large",
            ErrorKind::NotWarc => "warc_not_warc",
            ErrorKind::Io => "warc_io",
        }
    }
}

/// A located problem in a WARC file. The reader goes on after it unless it is `Io`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub kind: ErrorKind,
    pub location: Location,
    pub record_id: Option<String>,
    pub message: String,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)?;
        if let Some(id) = &self.record_id {
            write!(f, " (record {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for RecordError {}

/// Limits that keep one bad record from exhausting memory.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_header_bytes: usize,
    pub max_block_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 1 << 20,
            max_block_bytes: 256 << 20,
        }
    }
}
