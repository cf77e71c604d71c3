//! The HTML tokenizer, over the page's bytes: text runs, tags with the few attributes the
//! extractor reads, comments and doctypes, as the HTML standard's tokenizer gives them.
//!
//! Text and attribute values are spans of the page; only those that a character reference,
//! a carriage return or a NUL changes are written out, into the DOM's text buffer. Bodies that
//! are never text are skipped without being tokenized: comments, and `<script>`, `<style>`
//! and `<svg>` up to their first end tag, as the extractor has always skipped them.

use super::charref::{self, Decoded};
use super::doctype;
use super::tags::{Names, Tag};

/// A piece of text: a range of the page, or of the DOM's text buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Page(u32, u32),
    Buf(u32, u32),
}

impl Span {
    pub const EMPTY: Span = Span::Page(0, 0);

    pub fn len(self) -> usize {
        match self {
            Span::Page(a, b) | Span::Buf(a, b) => (b - a) as usize,
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    pub fn get<'a>(self, page: &'a str, buf: &'a str) -> &'a str {
        match self {
            Span::Page(a, b) => &page[a as usize..b as usize],
            Span::Buf(a, b) => &buf[a as usize..b as usize],
        }
    }

    /// The part from byte `from` to byte `to` of this span.
    pub fn sub(self, from: usize, to: usize) -> Span {
        let (from, to) = (from as u32, to as u32);
        match self {
            Span::Page(a, _) => Span::Page(a + from, a + to),
            Span::Buf(a, _) => Span::Buf(a + from, a + to),
        }
    }
}

/// The attributes the extractor reads; every other attribute is lexed and forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    Class,
    Id,
    Role,
    Itemprop,
    Hidden,
    AriaHidden,
    Style,
    Lang,
    Property,
    Name,
    Content,
}

const ATTR_NAMES: [(&[u8], Attr); 11] = [
    (b"class", Attr::Class),
    (b"id", Attr::Id),
    (b"role", Attr::Role),
    (b"itemprop", Attr::Itemprop),
    (b"hidden", Attr::Hidden),
    (b"aria-hidden", Attr::AriaHidden),
    (b"style", Attr::Style),
    (b"lang", Attr::Lang),
    (b"property", Attr::Property),
    (b"name", Attr::Name),
    (b"content", Attr::Content),
];

fn kept_attr(name: &[u8]) -> Option<Attr> {
    ATTR_NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, a)| *a)
}

/// The kept attributes of a start tag; the first of duplicates wins, as in HTML.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attrs([Option<Span>; 11]);

impl Attrs {
    pub fn get(&self, a: Attr) -> Option<Span> {
        self.0[a as usize]
    }

    /// The value in slot `i` (the order of [`Attr`]).
    pub fn slot(&self, i: usize) -> Option<Span> {
        self.0[i]
    }

    fn set_first(&mut self, a: Attr, v: Span) {
        self.0[a as usize].get_or_insert(v);
    }

    /// Adds the attributes this set lacks (a second `<html>` or `<body>` tag).
    pub fn merge_missing(&mut self, other: &Attrs) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            if mine.is_none() {
                *mine = theirs;
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    Text(Span),
    Start {
        tag: Tag,
        attrs: Attrs,
        self_closing: bool,
    },
    End(Tag),
    Comment,
    Doctype(doctype::Mode),
    Eof,
}

/// How the text after a start tag is read (set by the tree builder, as in the standard).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawKind {
    /// `<title>`, `<textarea>`: references decoded.
    Rcdata,
    /// `<style>`, `<xmp>`, `<iframe>`, `<noembed>`, `<noframes>`, `<noscript>`, `<script>`.
    Rawtext,
    /// `<plaintext>`: the rest of the page.
    Plaintext,
}

pub struct Tokenizer<'a> {
    page: &'a str,
    b: &'a [u8],
    at: usize,
    has_nul: bool,
    /// Set by the tree builder: `<![CDATA[` is text only in SVG or MathML.
    pub in_foreign: bool,
    /// The last text run ended in a carriage return, and only skipped comments came since: a
    /// line feed that follows belongs to the same line break (the old comment-stripping pass
    /// joined them before newlines were normalised).
    pending_cr: bool,
    /// Once a skipped body is left unterminated, nothing after it is skipped any more (the
    /// rest of the page is read as the standard reads it).
    skipping_stopped: bool,
}

fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

/// Finds `needle` (ASCII, lowercase) in `hay` ignoring ASCII case.
pub fn find_ascii_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = needle[0];
    let mut from = 0;
    while let Some(i) = memchr::memchr2(first, first.to_ascii_uppercase(), &hay[from..]) {
        let at = from + i;
        if hay.len() - at >= needle.len() && hay[at..at + needle.len()].eq_ignore_ascii_case(needle)
        {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Builds one piece of text: a span of the page while nothing in it is changed, copied into
/// the buffer from the first change on.
struct TextOut {
    start: usize,
    /// Where the buffer copy starts, once there is one.
    buf_start: Option<usize>,
}

impl TextOut {
    fn new(start: usize) -> TextOut {
        TextOut {
            start,
            buf_start: None,
        }
    }

    /// Copies the page's bytes from the last flush to `to`, then `replacement`.
    fn replace(&mut self, page: &str, to: usize, replacement: &str, next: usize, buf: &mut String) {
        if self.buf_start.is_none() {
            self.buf_start = Some(buf.len());
        }
        buf.push_str(&page[self.start..to]);
        buf.push_str(replacement);
        self.start = next;
    }

    fn finish(self, page: &str, end: usize, buf: &mut String) -> Span {
        match self.buf_start {
            None => Span::Page(self.start as u32, end as u32),
            Some(s) => {
                buf.push_str(&page[self.start..end]);
                Span::Buf(s as u32, buf.len() as u32)
            }
        }
    }
}

impl<'a> Tokenizer<'a> {
    pub fn new(page: &'a str) -> Tokenizer<'a> {
        Tokenizer {
            page,
            b: page.as_bytes(),
            // A byte-order mark is not text.
            at: if page.starts_with('\u{feff}') { 3 } else { 0 },
            has_nul: memchr::memchr(0, page.as_bytes()).is_some(),
            in_foreign: false,
            pending_cr: false,
            skipping_stopped: false,
        }
    }

    /// The next token; text and decoded values go to `buf`, new element names to `names`.
    pub fn next(&mut self, buf: &mut String, names: &mut Names) -> Token {
        loop {
            if self.at >= self.b.len() {
                return Token::Eof;
            }
            if self.b[self.at] != b'<' {
                if std::mem::take(&mut self.pending_cr) && self.b[self.at] == b'\n' {
                    self.at += 1;
                    continue;
                }
                return Token::Text(self.text(buf));
            }
            if let Some(t) = self.markup(buf, names) {
                if !matches!(t, Token::Text(_)) {
                    self.pending_cr = false;
                }
                return t;
            }
        }
    }

    /// A text run from here to the next markup (a `<` that starts a tag, comment or doctype).
    fn text(&mut self, buf: &mut String) -> Span {
        let mut out = TextOut::new(self.at);
        let mut at = self.at;
        loop {
            let Some(i) = memchr::memchr3(b'<', b'&', b'\r', &self.b[at..]) else {
                at = self.b.len();
                break;
            };
            let p = at + i;
            match self.b[p] {
                b'<' => {
                    if self.starts_markup(p) {
                        at = p;
                        break;
                    }
                    at = p + 1;
                }
                b'&' => at = self.reference(&mut out, p, self.b.len(), false, buf),
                _ => {
                    let next = if self.b.get(p + 1) == Some(&b'\n') {
                        p + 2
                    } else {
                        p + 1
                    };
                    out.replace(self.page, p, "\n", next, buf);
                    at = next;
                }
            }
        }
        self.at = at;
        self.pending_cr = at > 0 && self.b[at - 1] == b'\r';
        let span = out.finish(self.page, at, buf);
        if self.has_nul {
            self.drop_nuls(span, buf)
        } else {
            span
        }
    }

    /// Text tokens lose their NULs (the tree builder ignores them in every mode that keeps
    /// text).
    fn drop_nuls(&self, span: Span, buf: &mut String) -> Span {
        let text = span.get(self.page, buf);
        if !text.contains('\0') {
            return span;
        }
        let cleaned: String = text.chars().filter(|&c| c != '\0').collect();
        let start = buf.len();
        buf.push_str(&cleaned);
        Span::Buf(start as u32, buf.len() as u32)
    }

    /// Whether the `<` at `p` starts markup rather than being a literal `<`.
    fn starts_markup(&self, p: usize) -> bool {
        match self.b.get(p + 1) {
            Some(c) if c.is_ascii_alphabetic() => true,
            Some(b'!' | b'?') => true,
            Some(b'/') => self.b.get(p + 2).is_some(),
            _ => false,
        }
    }

    /// Markup at a `<`: the token it gives, or `None` for markup that gives none (a skipped
    /// comment, `</>`) or a `<` that is text after all.
    fn markup(&mut self, buf: &mut String, names: &mut Names) -> Option<Token> {
        let lt = self.at;
        let rest = &self.b[lt + 1..];
        match rest.first() {
            Some(c) if c.is_ascii_alphabetic() => Some(self.start_tag(buf, names)),
            Some(b'/') => match rest.get(1) {
                Some(c) if c.is_ascii_alphabetic() => Some(self.end_tag(names)),
                Some(b'>') => {
                    self.at = lt + 3;
                    None
                }
                Some(_) => Some(self.bogus_comment(lt + 2)),
                None => Some(Token::Text(self.text(buf))),
            },
            Some(b'!') => self.declaration(buf),
            Some(b'?') => Some(self.bogus_comment(lt + 1)),
            _ => Some(Token::Text(self.text(buf))),
        }
    }

    /// `<!--`, `<!DOCTYPE`, `<![CDATA[` or a bogus comment.
    fn declaration(&mut self, buf: &mut String) -> Option<Token> {
        let lt = self.at;
        let rest = &self.b[lt + 2..];
        if rest.starts_with(b"--") {
            if !self.skipping_stopped {
                // Skipped whole, up to the first `-->` after `<!--`.
                match memchr::memmem::find(&self.b[lt + 4..], b"-->") {
                    Some(e) => self.at = lt + 4 + e + 3,
                    None => self.at = self.b.len(),
                }
                return None;
            }
            return Some(self.comment(lt + 4));
        }
        if rest.len() >= 7 && rest[..7].eq_ignore_ascii_case(b"doctype") {
            let body_start = lt + 9;
            return Some(match memchr::memchr(b'>', &self.b[body_start..]) {
                Some(e) => {
                    self.at = body_start + e + 1;
                    Token::Doctype(doctype::mode(Some(&self.b[body_start..body_start + e])))
                }
                None => {
                    self.at = self.b.len();
                    Token::Doctype(doctype::mode(None))
                }
            });
        }
        if rest.starts_with(b"[CDATA[") && self.in_foreign {
            let start = lt + 9;
            let end =
                memchr::memmem::find(&self.b[start..], b"]]>").map_or(self.b.len(), |e| start + e);
            self.at = (end + 3).min(self.b.len());
            let mut out = TextOut::new(start);
            self.normalize_newlines(&mut out, start, end, buf);
            return Some(Token::Text(out.finish(self.page, end, buf)));
        }
        Some(self.bogus_comment(lt + 2))
    }

    /// A real comment, read as the standard does (only after skipping stopped): it ends at
    /// `-->`, `--!>`, or at once for `<!-->` and `<!--->`.
    fn comment(&mut self, body: usize) -> Token {
        let b = self.b;
        if b[body..].starts_with(b">") {
            self.at = body + 1;
        } else if b[body..].starts_with(b"->") {
            self.at = body + 2;
        } else {
            let mut at = body;
            self.at = b.len();
            while let Some(i) = memchr::memmem::find(&b[at..], b"--") {
                let p = at + i + 2;
                if b.get(p) == Some(&b'>') {
                    self.at = p + 1;
                    break;
                }
                if b[p..].starts_with(b"!>") {
                    self.at = p + 2;
                    break;
                }
                at = at + i + 1;
            }
        }
        Token::Comment
    }

    fn bogus_comment(&mut self, from: usize) -> Token {
        self.at = memchr::memchr(b'>', &self.b[from..]).map_or(self.b.len(), |e| from + e + 1);
        Token::Comment
    }

    /// The tag of the name starting at `at` (lowercased), and where the name ends.
    fn tag_name(&mut self, at: usize, names: &mut Names) -> (Tag, usize) {
        let b = self.b;
        let mut end = at;
        let mut plain = true;
        while end < b.len() && !is_space(b[end]) && b[end] != b'/' && b[end] != b'>' {
            plain &= !b[end].is_ascii_uppercase() && b[end] != 0;
            end += 1;
        }
        if plain {
            return (names.tag(&b[at..end]), end);
        }
        let mut name = b[at..end].to_ascii_lowercase();
        if name.contains(&0) {
            name = String::from_utf8_lossy(&name)
                .replace('\0', "\u{FFFD}")
                .into_bytes();
        }
        (names.tag(&name), end)
    }

    fn start_tag(&mut self, buf: &mut String, names: &mut Names) -> Token {
        let lt = self.at;
        let (tag, after_name) = self.tag_name(lt + 1, names);
        let mut attrs = Attrs::default();
        let Some((end, self_closing)) = self.attributes(after_name, Some(&mut attrs), buf) else {
            self.at = self.b.len();
            return Token::Eof;
        };
        self.at = end;
        if !self.skipping_stopped {
            self.skip_raw_body(lt);
        }
        Token::Start {
            tag,
            attrs,
            self_closing,
        }
    }

    /// `<script>`, `<style>` and `<svg>` bodies are never text and are skipped up to the first
    /// `</script`, `</style` or `</svg` (`<svg-x>` and `<script:y>` alike). Unterminated, the
    /// rest of the page is read as the standard reads it.
    fn skip_raw_body(&mut self, lt: usize) {
        const RAW: &[(&[u8], &[u8])] = &[
            (b"script", b"</script"),
            (b"style", b"</style"),
            (b"svg", b"</svg"),
        ];
        let after_lt = &self.b[lt + 1..];
        let Some(close) = RAW.iter().find_map(|(name, close)| {
            let n = name.len();
            let opens = after_lt.len() > n
                && after_lt[..n].eq_ignore_ascii_case(name)
                && !after_lt[n].is_ascii_alphanumeric();
            opens.then_some(*close)
        }) else {
            return;
        };
        // The body starts after the first `>` of the tag.
        let Some(gt) = memchr::memchr(b'>', after_lt) else {
            return;
        };
        let body = (lt + 1 + gt + 1).max(self.at);
        match find_ascii_ci(&self.b[body..], close) {
            Some(e) => self.at = body + e,
            None => self.skipping_stopped = true,
        }
    }

    fn end_tag(&mut self, names: &mut Names) -> Token {
        let lt = self.at;
        let (tag, after_name) = self.tag_name(lt + 2, names);
        let mut scratch = String::new();
        let Some((end, _)) = self.attributes(after_name, None, &mut scratch) else {
            self.at = self.b.len();
            return Token::Eof;
        };
        self.at = end;
        Token::End(tag)
    }

    /// Lexes attributes from `at` to the tag's `>`; keeps the extractor's ones in `attrs`.
    /// Returns the position after the `>` and whether the tag was self-closing, or `None` when
    /// the page ends inside the tag (which is then dropped, as in the standard).
    fn attributes(
        &self,
        mut at: usize,
        mut attrs: Option<&mut Attrs>,
        buf: &mut String,
    ) -> Option<(usize, bool)> {
        let b = self.b;
        loop {
            // Before an attribute name.
            while at < b.len() && is_space(b[at]) {
                at += 1;
            }
            match b.get(at)? {
                b'>' => return Some((at + 1, false)),
                b'/' => {
                    at += 1;
                    match b.get(at)? {
                        b'>' => return Some((at + 1, true)),
                        _ => continue,
                    }
                }
                _ => {}
            }
            // The name: a leading `=` belongs to it.
            let name_start = at;
            at += 1;
            while at < b.len() && !is_space(b[at]) && !matches!(b[at], b'/' | b'>' | b'=') {
                at += 1;
            }
            let name = &b[name_start..at];
            while at < b.len() && is_space(b[at]) {
                at += 1;
            }
            let mut value = None;
            if b.get(at) == Some(&b'=') {
                at += 1;
                while at < b.len() && is_space(b[at]) {
                    at += 1;
                }
                let (v_start, v_end, next) = match b.get(at)? {
                    q @ (b'"' | b'\'') => {
                        let e = memchr::memchr(*q, &b[at + 1..])?;
                        (at + 1, at + 1 + e, at + 1 + e + 1)
                    }
                    b'>' => (at, at, at),
                    _ => {
                        let mut e = at;
                        while e < b.len() && !is_space(b[e]) && b[e] != b'>' {
                            e += 1;
                        }
                        if e >= b.len() {
                            return None;
                        }
                        (at, e, e)
                    }
                };
                value = Some((v_start, v_end));
                at = next;
            }
            if let Some(attrs) = attrs.as_deref_mut() {
                if let Some(which) = kept_attr(name) {
                    let span = match value {
                        None => Span::EMPTY,
                        Some((s, e)) => self.attribute_value(s, e, buf),
                    };
                    attrs.set_first(which, span);
                }
            }
        }
    }

    /// An attribute value with references decoded, newlines normalised and NULs replaced.
    fn attribute_value(&self, start: usize, end: usize, buf: &mut String) -> Span {
        let mut out = TextOut::new(start);
        let mut at = start;
        while let Some(i) = memchr::memchr3(b'&', b'\r', b'\0', &self.b[at..end]) {
            let p = at + i;
            match self.b[p] {
                b'&' => at = self.reference(&mut out, p, end, true, buf),
                b'\r' => {
                    let next = if p + 1 < end && self.b[p + 1] == b'\n' {
                        p + 2
                    } else {
                        p + 1
                    };
                    out.replace(self.page, p, "\n", next, buf);
                    at = next;
                }
                _ => {
                    out.replace(self.page, p, "\u{FFFD}", p + 1, buf);
                    at = p + 1;
                }
            }
        }
        out.finish(self.page, end, buf)
    }

    /// The character reference at the `&` at `p` (reading no further than `end`), written to
    /// `out` in place of its source if there is one; returns where reading goes on.
    fn reference(
        &self,
        out: &mut TextOut,
        p: usize,
        end: usize,
        in_attribute: bool,
        buf: &mut String,
    ) -> usize {
        let Some((n, decoded)) = charref::decode(&self.b[p + 1..end], in_attribute) else {
            return p + 1;
        };
        let next = p + 1 + n;
        match decoded {
            Decoded::Named(s) => out.replace(self.page, p, s, next, buf),
            Decoded::Char(c) => out.replace(self.page, p, c.encode_utf8(&mut [0; 4]), next, buf),
        }
        next
    }

    /// Copies page bytes `from..to` into `out` with CR LF and CR as LF and NUL as U+FFFD.
    fn normalize_newlines(&self, out: &mut TextOut, from: usize, to: usize, buf: &mut String) {
        let mut at = from;
        while let Some(i) = memchr::memchr2(b'\r', b'\0', &self.b[at..to]) {
            let p = at + i;
            if self.b[p] == b'\0' {
                out.replace(self.page, p, "\u{FFFD}", p + 1, buf);
                at = p + 1;
                continue;
            }
            let next = if p + 1 < to && self.b[p + 1] == b'\n' {
                p + 2
            } else {
                p + 1
            };
            out.replace(self.page, p, "\n", next, buf);
            at = next;
        }
    }

    /// The text of a raw-text or RCDATA element whose start tag was just read, up to its end
    /// tag (`</name` then space, `/` or `>`), which is read too.
    ///
    /// A `<title>` or `<textarea>` with no end tag at all ends at the next `<`: one missing
    /// end tag (a truncated or mangled head) would otherwise make the whole page its text.
    pub fn raw_text(&mut self, name: &[u8], kind: RawKind, buf: &mut String) -> Span {
        let start = self.at;
        let (end, end_tag) = match kind {
            RawKind::Plaintext => (self.b.len(), false),
            _ => self.raw_text_end(start, name),
        };
        self.at = end;
        if end_tag {
            let mut scratch = String::new();
            self.at = self
                .attributes(end + 2 + name.len(), None, &mut scratch)
                .map_or(self.b.len(), |(after, _)| after);
        }
        let mut out = TextOut::new(start);
        if kind == RawKind::Rcdata {
            let mut at = start;
            while let Some(i) = memchr::memchr(b'&', &self.b[at..end]) {
                let p = at + i;
                let from = out.start;
                self.normalize_newlines(&mut out, from, p, buf);
                at = self.reference(&mut out, p, end, false, buf);
            }
        }
        let from = out.start;
        self.normalize_newlines(&mut out, from, end, buf);
        out.finish(self.page, end, buf)
    }

    /// Where the text ends, and whether an end tag follows.
    fn raw_text_end(&self, start: usize, name: &[u8]) -> (usize, bool) {
        let b = self.b;
        let mut at = start;
        while let Some(i) = memchr::memmem::find(&b[at..], b"</") {
            let p = at + i;
            let after = p + 2 + name.len();
            if after <= b.len()
                && b[p + 2..after].eq_ignore_ascii_case(name)
                && b.get(after)
                    .is_none_or(|&c| is_space(c) || c == b'/' || c == b'>')
            {
                if after < b.len() {
                    return (p, true);
                }
                // `</title` at the very end: the tokenizer reads it as text.
                return (b.len(), false);
            }
            at = p + 2;
        }
        if name == b"title" || name == b"textarea" {
            let mut close = b"</".to_vec();
            close.extend_from_slice(name);
            if find_ascii_ci(&b[start..], &close).is_none() {
                let end = memchr::memchr(b'<', &b[start..]).map_or(b.len(), |e| start + e);
                return (end, false);
            }
        }
        (b.len(), false)
    }

    /// Skips a `<template>`'s contents (inert until a script uses them) and its end tag,
    /// counting nested templates.
    pub fn skip_template(&mut self) {
        let b = self.b;
        let mut depth = 0usize;
        let mut at = self.at;
        while let Some(i) = memchr::memchr(b'<', &b[at..]) {
            let lt = at + i;
            let closing = b.get(lt + 1) == Some(&b'/');
            let name = lt + 1 + usize::from(closing);
            let after = name + 8;
            let is_template = after < b.len()
                && b[name..after].eq_ignore_ascii_case(b"template")
                && (is_space(b[after]) || b[after] == b'/' || b[after] == b'>');
            at = lt + 1;
            if !is_template {
                continue;
            }
            if !closing {
                depth += 1;
            } else if depth == 0 {
                let mut scratch = String::new();
                self.at = self
                    .attributes(after, None, &mut scratch)
                    .map_or(b.len(), |(end, _)| end);
                return;
            } else {
                depth -= 1;
            }
        }
        self.at = b.len();
    }
}
