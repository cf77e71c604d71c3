//! The HTML extractor on one page.

use std::time::{Duration, Instant};

use crate::stages::extract::dom::Dom;
use crate::stages::extract::extractor::extract;

/// HTML parsing and main-text extraction on one arbitrary page, with the extract stage's own
/// limits (tree depth, node count): no panic, no hang, and the extracted text comes from the
/// page (never longer than it) within a time bound per page.
pub fn extract_page(data: &[u8]) {
    let html = String::from_utf8_lossy(data);
    let start = Instant::now();
    let Ok(dom) = Dom::parse(&html, 3000, 1_000_000) else {
        return;
    };
    let out = extract(&dom);
    assert!(
        out.text.len() <= html.len() * 3 + 16,
        "{} bytes of text from a {}-byte page",
        out.text.len(),
        html.len()
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "a page took {:?}",
        start.elapsed()
    );
}
