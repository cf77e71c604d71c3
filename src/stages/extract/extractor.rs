//! Main-content extraction from a flat DOM: the page analysis, and [`extract`].
//!
//! 1. **Prune**: skip elements that are never main text (scripts, navigation, form controls,
//!    `aside`, `footer`, hidden elements, ARIA furniture roles) and elements whose class/id
//!    reads as boilerplate (comments, sidebars, share bars, cookie banners, ...), except when
//!    such an element holds most of the page's prose (a "content-with-sidebar" wrapper), or
//!    when its class is only presentational (`caption`, `gallery`, ...) and it holds more
//!    prose than the first reading found.
//! 2. **Score** (after Readability): every paragraph-like element with enough text gives
//!    points (length, commas) to its parent and, decaying, to two more ancestors; an
//!    ancestor's points are weighted by its tag and class and multiplied by 1 − link density.
//! 3. **Select** the best container, plus siblings that score close to it or are clean prose,
//!    plus its twins (same tag and class) elsewhere on the page: an article in sections.
//! 4. **Read** ([`super::reading`]): each text block of the body (paragraphs, headings, list
//!    items, table rows, pre) gets a verdict — in a container, continuing one, or decided by
//!    the whole-page fallback — and the kept blocks, separated by a blank line, are the text.
//! 5. **Read again** without class names when the first reading leaves under
//!    [`MIN_MAIN_CHARS`]: the story sat in a box named like furniture.

use super::dom::Dom;
use super::page::Page;
use super::page::MIN_MAIN_CHARS;
use super::reading::{read, Reading};

/// The result of extraction.
#[derive(Debug, Clone, Default)]
pub struct Extracted {
    pub text: String,
    pub title: Option<String>,
    /// `main` when a content container was chosen, `fallback` for the whole-page pass.
    pub method: &'static str,
    /// The page's `<html lang>`, if any.
    pub html_lang: Option<String>,
}

/// Reads the page with class-based pruning and, when that leaves under [`MIN_MAIN_CHARS`],
/// again with the hard rules only: class names mislead when the story sits in a box named
/// like furniture (`caption`, `teaser`, `promo`). Returns the page analysis the chosen
/// reading used, for `--explain`.
pub(super) fn read_page<'a>(dom: &'a Dom<'a>) -> (Page<'a>, Reading) {
    let page = Page::analyse(dom);
    let reading = read(&page);
    let chars = reading.text_chars();
    if chars >= MIN_MAIN_CHARS {
        // A box named like furniture that holds more prose than the whole reading is the
        // article (`<div class="image-with-caption">` wrapping the story).
        if let Some(page) = page.restoring(dom, chars as u32) {
            let reading = read(&page);
            return (page, reading);
        }
        return (page, reading);
    }
    let plain = Page::analyse_without_classes(dom);
    let again = read(&plain);
    if again.text_chars() > chars {
        (plain, again)
    } else {
        (page, reading)
    }
}

/// Extracts the main text of a parsed page.
pub fn extract(dom: &Dom) -> Extracted {
    let title = dom
        .og_title
        .clone()
        .filter(|t| !t.is_empty())
        .or_else(|| dom.title.clone().filter(|t| !t.is_empty()));
    let html_lang = dom
        .nodes()
        .iter()
        .position(|n| n.tag == "html")
        .and_then(|i| dom.lang(i))
        .map(str::to_string);
    let (_, reading) = read_page(dom);
    Extracted {
        text: reading.text(),
        title,
        method: reading.method,
        html_lang,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(html: &str) -> Extracted {
        extract(&Dom::parse(html, 512, 1_000_000).unwrap())
    }

    const ARTICLE: &str = "The committee met on Tuesday, and after a long discussion it agreed to fund the repairs, \
        which had been postponed twice. Residents, who had complained for years, welcomed the news.";

    #[test]
    fn keeps_the_article_and_drops_the_furniture() {
        let html = format!(
            r##"<html lang="en"><head><title>News</title></head><body>
            <div class="cookie-banner"><p>We use cookies to improve your experience on this website, please accept them.</p></div>
            <nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li></ul></nav>
            <div id="content"><h1>Repairs funded</h1><p>{ARTICLE}</p><p>{ARTICLE}</p>
            <ul><li>First point of the plan, explained in a full sentence.</li><li>Second point, also a sentence.</li></ul>
            <div class="share"><a href="#">Share</a> <a href="#">Tweet</a></div></div>
            <aside><p>Most read: something else entirely, with a long teaser text about other news.</p></aside>
            <div class="comments"><p>Great article, I agree with everything, thanks for writing it!</p></div>
            <footer><p>Copyright 2026 Example News. All rights reserved. Imprint, privacy.</p></footer>
            </body></html>"##
        );
        let e = run(&html);
        assert_eq!(e.method, "main");
        assert_eq!(e.title.as_deref(), Some("News"));
        assert_eq!(e.html_lang.as_deref(), Some("en"));
        assert!(
            e.text.contains("Repairs funded\n\nThe committee met"),
            "{}",
            e.text
        );
        assert!(e.text.contains("First point of the plan"));
        for junk in [
            "cookies",
            "Home",
            "Share",
            "Most read",
            "Great article",
            "Copyright",
        ] {
            assert!(!e.text.contains(junk), "{junk} leaked: {}", e.text);
        }
    }

    #[test]
    fn tables_become_rows_and_breaks_become_lines() {
        let html = format!(
            "<body><article><p>{ARTICLE}</p><table><tr><th>Year</th><th>Visitors</th></tr><tr><td>2025</td><td>1200</td></tr></table><p>one<br>two</p><p>{ARTICLE}</p></article></body>"
        );
        let e = run(&html);
        assert!(
            e.text.contains("Year | Visitors\n\n2025 | 1200"),
            "{}",
            e.text
        );
        assert!(e.text.contains("one\ntwo"), "{}", e.text);
    }

    #[test]
    fn a_wrapper_named_like_a_sidebar_is_kept_when_it_holds_the_text() {
        let html = format!("<body><div class='layout-with-sidebar'><p>{ARTICLE}</p><p>{ARTICLE}</p></div><div class='sidebar'><p>short</p></div></body>");
        let e = run(&html);
        assert!(e.text.contains("The committee met"), "{}", e.text);
    }

    #[test]
    fn inline_markup_does_not_split_words() {
        let html = format!("<body><article><p>{ARTICLE} A <b>bold</b>word and <a href='x'>a link</a>.</p><p>{ARTICLE}</p></article></body>");
        let e = run(&html);
        assert!(e.text.contains("A boldword and a link."), "{}", e.text);
    }

    #[test]
    fn pages_without_paragraphs_fall_back_to_prose_blocks() {
        let html = format!("<body><div><span>{ARTICLE}</span></div><div><a href='/a'>link one</a> <a href='/b'>link two</a></div></body>");
        let e = run(&html);
        assert!(e.text.contains("The committee met"), "{}", e.text);
        assert!(!e.text.contains("link one"));
    }
}
