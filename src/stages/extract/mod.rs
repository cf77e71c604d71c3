//! The `extract` stage: raw HTML documents (from WARC responses) → main text.
//! Documents that did not come from the web (imported corpora) pass through unchanged.
//!
//! Only successful (HTTP 200) HTML responses are extracted; everything else is dropped with a
//! reason. Limits keep any single page from hanging or exhausting a run: the HTML size, the
//! DOM depth and node count, and a time budget checked between parsing and extraction (the
//! size limits bound each phase, so the check cannot be skipped by a slow phase for long).

pub mod dom;
pub mod explain;
pub mod extractor;
pub mod html;
mod page;
pub mod patterns;
mod reading;

use std::time::{Duration, Instant};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::doc::Document;
use crate::pipeline::stage::{Emit, Stage};
use dom::{Dom, DomBuffers, DomError};

/// The extract stage's settings: the `sieve extract` flags and the spec's `[[stage]]` keys are
/// these fields (`--max-html-bytes` is `max_html_bytes`), with the defaults of `Default` for
/// both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct ExtractOptions {
    /// Larger pages are dropped (`html_too_large`). Common Crawl truncates at 1 MiB.
    #[arg(long, default_value_t = ExtractOptions::default().max_html_bytes)]
    pub max_html_bytes: usize,
    /// Deeper DOMs are dropped (`dom_too_deep`). Tree building costs time proportional to
    /// depth × tags, so this bounds parsing time; real pages with many unclosed inline tags
    /// reach depths of a thousand or more.
    #[arg(long, default_value_t = ExtractOptions::default().max_depth)]
    pub max_depth: u32,
    /// DOMs with more nodes are dropped (`dom_too_large`).
    #[arg(long, default_value_t = ExtractOptions::default().max_nodes)]
    pub max_nodes: usize,
    /// Pages that take longer (milliseconds) are dropped (`extract_timeout`).
    #[arg(long, default_value_t = ExtractOptions::default().time_budget_ms)]
    pub time_budget_ms: u64,
    /// Keep documents whose extracted text is empty (dropped as `no_text` otherwise).
    #[arg(long)]
    pub keep_empty: bool,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            max_html_bytes: 4 << 20,
            max_depth: 3000,
            max_nodes: 1_000_000,
            time_budget_ms: 5_000,
            keep_empty: false,
        }
    }
}

pub struct ExtractStage {
    options: ExtractOptions,
    /// The DOM's buffers, kept from page to page.
    buffers: Option<DomBuffers>,
}

impl ExtractStage {
    pub fn new(options: ExtractOptions) -> Self {
        ExtractStage {
            options,
            buffers: None,
        }
    }

    /// Keeps a page's DOM buffers for the next page, unless an outlier page grew them past
    /// what ordinary pages need (a worker should not hold an outlier's size for good).
    fn keep_buffers(&mut self, buffers: DomBuffers) {
        const KEEP_AT_MOST: usize = 16 << 20;
        self.buffers = (buffers.retained_bytes() <= KEEP_AT_MOST).then_some(buffers);
    }

    pub fn from_table(table: &toml::Table) -> Result<Box<dyn Stage>> {
        let options: ExtractOptions = toml::Value::Table(table.clone()).try_into()?;
        Ok(Box::new(ExtractStage::new(options)))
    }
}

/// Media types extracted as HTML.
fn is_html_type(mime: &str) -> bool {
    matches!(
        mime,
        "text/html" | "application/xhtml+xml" | "application/xml" | "text/xml"
    )
}

/// True if the text does not look like markup or prose: many control or replacement
/// characters in its first kilobytes (binary data labelled text/html).
pub fn looks_binary(text: &str) -> bool {
    let sample: Vec<char> = text.chars().take(4096).collect();
    if sample.is_empty() {
        return false;
    }
    let bad = sample
        .iter()
        .filter(|&&c| {
            c == '\u{fffd}' || (c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0c'))
        })
        .count();
    bad * 10 > sample.len()
}

/// Documents read from WARC records (or raw-HTML shards made from them) carry their record
/// type or content type; only those are extracted.
fn is_web_document(doc: &Document) -> bool {
    doc.meta.contains_key("warc_type") || doc.meta.contains_key("content_type")
}

/// Why a page is not extracted, if it is not.
fn precheck(doc: &Document, options: &ExtractOptions) -> Option<&'static str> {
    if let Some(status) = doc.meta.get("http_status") {
        if status != "200" {
            return Some("http_status");
        }
    }
    if let Some(mime) = doc.meta.get("content_type") {
        if !is_html_type(mime)
            && !doc
                .text
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("<!doctype html")
        {
            return Some("not_html");
        }
    }
    if doc.text.len() > options.max_html_bytes {
        return Some("html_too_large");
    }
    if looks_binary(&doc.text) {
        return Some("binary_content");
    }
    None
}

impl Stage for ExtractStage {
    fn name(&self) -> &'static str {
        "extract"
    }

    fn process(&mut self, mut doc: Document, out: &mut Emit) -> Result<()> {
        if !is_web_document(&doc) {
            // Imported corpora are text already: they pass through untouched.
            out.keep(doc);
            return Ok(());
        }
        if let Some(reason) = precheck(&doc, &self.options) {
            out.drop(doc, reason);
            return Ok(());
        }
        let start = Instant::now();
        let budget = Duration::from_millis(self.options.time_budget_ms);
        let buffers = self.buffers.take().unwrap_or_default();
        let (max_depth, max_nodes) = (self.options.max_depth, self.options.max_nodes);
        let dom = match Dom::parse_with(&doc.text, max_depth, max_nodes, buffers) {
            Ok(d) => d,
            Err((error, buffers)) => {
                self.keep_buffers(buffers);
                let reason = match error {
                    DomError::TooDeep => "dom_too_deep",
                    DomError::TooManyNodes => "dom_too_large",
                };
                out.drop(doc, reason);
                return Ok(());
            }
        };
        if start.elapsed() > budget {
            self.keep_buffers(dom.into_buffers());
            out.drop(doc, "extract_timeout");
            return Ok(());
        }
        let extracted = extractor::extract(&dom);
        self.keep_buffers(dom.into_buffers());
        if start.elapsed() > budget {
            out.drop(doc, "extract_timeout");
            return Ok(());
        }
        if let Some(t) = extracted.title {
            doc.meta.insert("title".into(), t);
        }
        if let Some(l) = extracted.html_lang {
            doc.meta.insert("html_lang".into(), l);
        }
        doc.meta
            .insert("extract_method".into(), extracted.method.into());
        doc.text = extracted.text;
        if doc.text.is_empty() && !self.options.keep_empty {
            out.drop(doc, "no_text");
        } else {
            out.keep(doc);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(text: &str, status: &str, mime: &str) -> Document {
        let mut d = Document {
            id: "t/x#0".into(),
            dataset: "t".into(),
            text: text.into(),
            ..Default::default()
        };
        d.meta.insert("http_status".into(), status.into());
        d.meta.insert("content_type".into(), mime.into());
        d
    }

    fn run(doc: Document, options: ExtractOptions) -> Emit {
        let mut emit = Emit::default();
        ExtractStage::new(options).process(doc, &mut emit).unwrap();
        emit
    }

    fn reason(e: &Emit) -> Option<&'static str> {
        e.dropped.first().map(|(_, r)| *r)
    }

    #[test]
    fn drops_non_200_non_html_and_binary_with_reasons() {
        let html = "<html><body><p>hello</p></body></html>";
        assert_eq!(
            reason(&run(page(html, "404", "text/html"), Default::default())),
            Some("http_status")
        );
        assert_eq!(
            reason(&run(
                page(html, "200", "application/json"),
                Default::default()
            )),
            Some("not_html")
        );
        let binary: String = (0..3000)
            .map(|i| char::from_u32((i * 7 % 32) as u32).unwrap())
            .collect();
        assert_eq!(
            reason(&run(page(&binary, "200", "text/html"), Default::default())),
            Some("binary_content")
        );
    }

    #[test]
    fn huge_and_deep_pages_hit_their_limits() {
        let one_line = format!(
            "<html><body><p>{}</p></body></html>",
            "word ".repeat(10 << 20)
        );
        assert_eq!(
            reason(&run(
                page(&one_line, "200", "text/html"),
                Default::default()
            )),
            Some("html_too_large")
        );
        let deep = format!(
            "<html><body>{}<p>x</p></body></html>",
            "<div>".repeat(100_000)
        );
        assert_eq!(
            reason(&run(page(&deep, "200", "text/html"), Default::default())),
            Some("dom_too_deep")
        );
    }

    /// A flat page of 5,000 paragraphs: dropped as `dom_too_large` under a 1,000-node limit,
    /// as `extract_timeout` with a zero time budget, and kept with the defaults.
    #[test]
    fn wide_and_slow_pages_hit_their_limits() {
        let wide = format!(
            "<html><body>{}</body></html>",
            "<p>some words in a paragraph</p>".repeat(5000)
        );
        let small = ExtractOptions {
            max_nodes: 1000,
            ..Default::default()
        };
        assert_eq!(
            reason(&run(page(&wide, "200", "text/html"), small)),
            Some("dom_too_large")
        );
        let hurried = ExtractOptions {
            time_budget_ms: 0,
            ..Default::default()
        };
        assert_eq!(
            reason(&run(page(&wide, "200", "text/html"), hurried)),
            Some("extract_timeout")
        );
        let e = run(page(&wide, "200", "text/html"), Default::default());
        assert_eq!((e.kept.len(), reason(&e)), (1, None));
    }
}
