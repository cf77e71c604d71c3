//! The parser sieve used before its own (html5ever through `scraper`, after four rewriting
//! passes), kept for the tests as the reference its trees are compared with.

use scraper::node::Node as HtmlNode;
use scraper::Html;

use super::tokenizer::find_ascii_ci;
use crate::stages::extract::dom::{intern_tag, style_hides, Dom};

/// If `after_lt` (the bytes after a `<`) opens a script, style or svg element, the closing
/// tag that ends its body.
fn raw_text_element(after_lt: &[u8]) -> Option<&'static [u8]> {
    const RAW: &[(&[u8], &[u8])] = &[
        (b"script", b"</script"),
        (b"style", b"</style"),
        (b"svg", b"</svg"),
    ];
    RAW.iter().find_map(|(name, close)| {
        let n = name.len();
        let opens = after_lt.len() > n
            && after_lt[..n].eq_ignore_ascii_case(name)
            && !after_lt[n].is_ascii_alphanumeric();
        opens.then_some(*close)
    })
}

/// Removes the bodies of `<script>`, `<style>` and `<svg>` elements and HTML comments before
/// parsing: they are never text, are often most of a page's bytes, and html5ever would
/// otherwise tokenize them character by character. The tags themselves stay, so the tree
/// keeps its shape.
pub fn strip_non_text(html: &str) -> std::borrow::Cow<'_, str> {
    let bytes = html.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0; // bytes of `html` already handled
    let mut at = 0;
    while let Some(i) = memchr::memchr(b'<', &bytes[at..]) {
        let lt = at + i;
        let rest = &bytes[lt + 1..];
        let (body_start, close): (usize, &[u8]) = if rest.starts_with(b"!--") {
            (lt + 4, b"-->")
        } else if let Some(close) = raw_text_element(rest) {
            match memchr::memchr(b'>', rest) {
                Some(e) => (lt + 1 + e + 1, close),
                None => break,
            }
        } else {
            at = lt + 1;
            continue;
        };
        let Some(end) = find_ascii_ci(&bytes[body_start..], close) else {
            break; // unterminated: leave the rest to the parser
        };
        let body_end = body_start + end;
        let o = out.get_or_insert_with(|| String::with_capacity(html.len() / 2));
        if close == b"-->" {
            // Drop the whole comment.
            o.push_str(&html[copied..lt]);
            copied = body_end + 3;
        } else {
            o.push_str(&html[copied..body_start]);
            copied = body_end;
        }
        at = copied.max(lt + 1);
    }
    match out {
        None => std::borrow::Cow::Borrowed(html),
        Some(mut o) => {
            o.push_str(&html[copied..]);
            std::borrow::Cow::Owned(o)
        }
    }
}

/// Closes a `<title>` or `<textarea>` that is never closed. Their content is text up to the
/// end tag, so one missing end tag (a truncated or mangled head) turns the whole page into
/// the title and leaves no body. Such an element is ended at the next `<`: neither holds
/// markup in a well-formed page.
pub fn close_runaway_text_elements(html: &str) -> std::borrow::Cow<'_, str> {
    let bytes = html.as_bytes();
    let mut inserts: Vec<(usize, &'static str)> = Vec::new();
    for (open, close, end_tag) in [
        (&b"<title"[..], &b"</title"[..], "</title>"),
        (&b"<textarea"[..], &b"</textarea"[..], "</textarea>"),
    ] {
        let mut at = 0;
        while let Some(i) = find_ascii_ci(&bytes[at..], open) {
            let start = at + i;
            let after_name = start + open.len();
            // `<titles>` or `<title-x>` are other elements.
            if bytes
                .get(after_name)
                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'-')
            {
                at = after_name;
                continue;
            }
            let Some(gt) = memchr::memchr(b'>', &bytes[after_name..]) else {
                break;
            };
            let body = after_name + gt + 1;
            match find_ascii_ci(&bytes[body..], close) {
                Some(e) => at = body + e + close.len(),
                None => {
                    if let Some(lt) = memchr::memchr(b'<', &bytes[body..]) {
                        inserts.push((body + lt, end_tag));
                    }
                    break;
                }
            }
        }
    }
    if inserts.is_empty() {
        return std::borrow::Cow::Borrowed(html);
    }
    inserts.sort_unstable();
    let mut out = String::with_capacity(html.len() + 32);
    let mut copied = 0;
    for (at, tag) in inserts {
        out.push_str(&html[copied..at]);
        out.push_str(tag);
        copied = at;
    }
    out.push_str(&html[copied..]);
    std::borrow::Cow::Owned(out)
}

/// Attributes the extractor reads; all others are removed before parsing.
fn is_kept_attribute(name: &[u8]) -> bool {
    const KEPT: &[&[u8]] = &[
        b"class",
        b"id",
        b"role",
        b"itemprop",
        b"hidden",
        b"aria-hidden",
        b"style",
        b"lang",
        b"property",
        b"name",
        b"content",
    ];
    KEPT.iter().any(|k| k.eq_ignore_ascii_case(name))
}

/// Rewrites start tags keeping only the attributes the extractor reads. Attribute parsing is
/// the largest single cost of html5ever on real pages (every `href`, `data-*` and `srcset`
/// is interned and copied), and none of it matters for text extraction. Tags it cannot lex
/// (unterminated) are left as they are.
pub fn slim_tags(html: &str) -> String {
    let b = html.as_bytes();
    let mut out = String::with_capacity(html.len());
    let mut copied = 0;
    let mut at = 0;
    while let Some(i) = memchr::memchr(b'<', &b[at..]) {
        let lt = at + i;
        at = lt + 1;
        let name_len = b[lt + 1..]
            .iter()
            // (The old pass stopped names at `:`, turning `<o:p>` into `<o>`; sieve's parser
            // reads the whole name, and so does the reference, to show other differences.)
            .take_while(|c| !c.is_ascii_whitespace() && !matches!(**c, b'/' | b'>'))
            .count();
        if name_len == 0 || !b[lt + 1].is_ascii_alphabetic() {
            continue;
        }
        // Lex the attributes up to the closing `>`.
        let mut p = lt + 1 + name_len;
        let mut kept: Vec<(usize, usize)> = Vec::new();
        let mut dropped_any = false;
        let end = loop {
            while p < b.len() && (b[p].is_ascii_whitespace() || b[p] == b'/') {
                p += 1;
            }
            if p >= b.len() {
                break None;
            }
            if b[p] == b'>' {
                break Some(p);
            }
            let attr_start = p;
            while p < b.len() && !b[p].is_ascii_whitespace() && !matches!(b[p], b'=' | b'>' | b'/')
            {
                p += 1;
            }
            let name = &b[attr_start..p];
            let mut q = p;
            while q < b.len() && b[q].is_ascii_whitespace() {
                q += 1;
            }
            if q < b.len() && b[q] == b'=' {
                q += 1;
                while q < b.len() && b[q].is_ascii_whitespace() {
                    q += 1;
                }
                if q < b.len() && (b[q] == b'"' || b[q] == b'\'') {
                    let quote = b[q];
                    match memchr::memchr(quote, &b[q + 1..]) {
                        Some(e) => q = q + 1 + e + 1,
                        None => break None,
                    }
                } else {
                    while q < b.len() && !b[q].is_ascii_whitespace() && b[q] != b'>' {
                        q += 1;
                    }
                }
                p = q;
            }
            if name.is_empty() {
                p += 1;
                continue;
            }
            if is_kept_attribute(name) {
                kept.push((attr_start, p));
            } else {
                dropped_any = true;
            }
        };
        let Some(end) = end else { break };
        if dropped_any {
            out.push_str(&html[copied..lt + 1 + name_len]);
            for (s, e) in kept {
                out.push(' ');
                out.push_str(&html[s..e]);
            }
            if b[end - 1] == b'/' {
                out.push('/');
            }
            copied = end;
        }
        at = end;
    }
    out.push_str(&html[copied..]);
    out
}

/// Elements that never nest: void elements and those the parser closes implicitly.
fn never_nests(name: &[u8]) -> bool {
    matches!(
        name,
        b"br"
            | b"img"
            | b"hr"
            | b"meta"
            | b"link"
            | b"input"
            | b"area"
            | b"base"
            | b"col"
            | b"embed"
            | b"param"
            | b"source"
            | b"track"
            | b"wbr"
            | b"p"
            | b"li"
            | b"td"
            | b"th"
            | b"tr"
            | b"option"
            | b"dt"
            | b"dd"
            | b"!doctype"
    )
}

/// A cheap upper estimate of the element nesting depth, from tags alone, stopping once it
/// exceeds `limit`. html5ever's tree building costs time proportional to the depth for every
/// tag, so a page of 100k nested `<div>`s must be refused before it is parsed.
pub fn estimated_depth(html: &str, limit: u32) -> u32 {
    let bytes = html.as_bytes();
    let (mut depth, mut max) = (0u32, 0u32);
    let mut at = 0;
    while let Some(i) = memchr::memchr(b'<', &bytes[at..]) {
        let start = at + i + 1;
        at = start;
        let closing = bytes.get(start) == Some(&b'/');
        let name_start = start + usize::from(closing);
        let name_len = bytes[name_start..]
            .iter()
            .take(16)
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'!')
            .count();
        if name_len == 0 {
            continue;
        }
        let name = bytes[name_start..name_start + name_len].to_ascii_lowercase();
        if name.starts_with(b"!") || never_nests(&name) {
            continue;
        }
        if closing {
            depth = depth.saturating_sub(1);
        } else {
            let end =
                memchr::memchr(b'>', &bytes[name_start..]).map_or(bytes.len(), |e| name_start + e);
            if end > 0 && bytes[end - 1] == b'/' {
                continue;
            }
            depth += 1;
            max = max.max(depth);
            if max > limit {
                return max;
            }
        }
    }
    max
}

/// One node as the extractor sees it, for comparing trees.
#[derive(Debug, Clone, PartialEq)]
pub struct Flat {
    pub depth: u32,
    pub tag: &'static str,
    /// Text, or the lowercase class and id of an element.
    pub text: String,
    pub hidden: bool,
    pub role: Option<String>,
    pub lang: Option<String>,
}

/// The reference tree of `html`: the extractor's view of html5ever's tree, in document order,
/// without the document, doctype and comment nodes. `None` when a limit is hit.
pub fn reference(
    html: &str,
    max_depth: u32,
) -> Option<(Vec<Flat>, Option<String>, Option<String>)> {
    let html = slim_tags(&close_runaway_text_elements(&strip_non_text(html)));
    if estimated_depth(&html, max_depth) > max_depth {
        return None;
    }
    let doc = Html::parse_document(&html);
    let mut out = Vec::new();
    let mut depth = 0u32;
    let mut title = None;
    let mut og_title = None;
    let mut in_title = false;
    let mut in_skip = 0u32;
    // sieve skips a template's inert contents; so does the comparison.
    let mut in_template: Option<u32> = None;
    for edge in doc.tree.root().traverse() {
        match edge {
            ego_tree::iter::Edge::Open(n) => {
                let d = depth;
                depth += 1;
                if in_template.is_some_and(|t| d > t) {
                    continue;
                }
                if let HtmlNode::Element(e) = n.value() {
                    if e.name() == "template" {
                        in_template = Some(d);
                    }
                }
                match n.value() {
                    HtmlNode::Element(e) => {
                        let tag = intern_tag(e.name());
                        if tag == "title" {
                            in_title = true;
                        }
                        if tag == "meta" {
                            let prop = e.attr("property").or_else(|| e.attr("name")).unwrap_or("");
                            if prop.eq_ignore_ascii_case("og:title") {
                                og_title = e.attr("content").map(|s| s.trim().to_string());
                            }
                        }
                        if matches!(tag, "script" | "style" | "noscript" | "template") {
                            in_skip += 1;
                        }
                        let mut class_id = String::new();
                        if let Some(c) = e.attr("class") {
                            class_id.push_str(&c.to_ascii_lowercase());
                        }
                        if let Some(i) = e.attr("id") {
                            class_id.push(' ');
                            class_id.push_str(&i.to_ascii_lowercase());
                        }
                        let hidden = e.attr("hidden").is_some()
                            || e.attr("aria-hidden")
                                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
                            || e.attr("style").is_some_and(style_hides);
                        let foreign = &*e.name.ns != "http://www.w3.org/1999/xhtml";
                        out.push(Flat {
                            depth: d,
                            tag: if foreign { "x-other" } else { tag },
                            text: class_id,
                            hidden,
                            role: e.attr("role").map(|r| r.to_ascii_lowercase()),
                            lang: e.attr("lang").map(str::to_string),
                        });
                    }
                    HtmlNode::Text(t) => {
                        if in_title && title.is_none() {
                            title = Some(t.text.trim().to_string());
                        }
                        let raw_parent = n
                            .parent()
                            .and_then(|p| p.value().as_element().map(|e| e.name()))
                            .is_some_and(|p| {
                                matches!(p, "iframe" | "xmp" | "noembed" | "noframes" | "textarea")
                            });
                        if in_skip == 0 && !raw_parent {
                            out.push(Flat {
                                depth: d,
                                tag: "",
                                text: t.text.to_string(),
                                hidden: false,
                                role: None,
                                lang: None,
                            });
                        }
                    }
                    _ => {}
                }
            }
            ego_tree::iter::Edge::Close(n) => {
                depth -= 1;
                if in_template.is_some_and(|t| depth > t) {
                    continue;
                }
                if in_template == Some(depth) {
                    in_template = None;
                }
                if let HtmlNode::Element(e) = n.value() {
                    let tag = e.name();
                    if tag.eq_ignore_ascii_case("title") {
                        in_title = false;
                    }
                    if matches!(tag, "script" | "style" | "noscript" | "template") {
                        in_skip = in_skip.saturating_sub(1);
                    }
                }
            }
        }
    }
    Some((out, title, og_title))
}

/// The same view of sieve's own tree.
pub fn flatten(dom: &Dom) -> Vec<Flat> {
    let nodes = dom.nodes();
    let mut out = Vec::new();
    let mut skip_below: Option<u32> = None;
    for (i, n) in nodes.iter().enumerate() {
        if let Some(d) = skip_below {
            if n.depth > d {
                continue;
            }
            skip_below = None;
        }
        if n.tag == "#other" {
            continue;
        }
        if n.tag == "template" {
            skip_below = Some(n.depth);
        }
        // Raw text (its markup rewritten by the old passes) is compared by the extraction.
        if n.is_text()
            && n.parent().is_some_and(|p| {
                matches!(
                    nodes[p].name,
                    super::tags::IFRAME
                        | super::tags::TEXTAREA
                        | super::tags::XMP
                        | super::tags::NOEMBED
                        | super::tags::NOFRAMES
                )
            })
        {
            continue;
        }
        out.push(Flat {
            depth: n.depth,
            tag: n.tag,
            text: if n.is_text() {
                dom.text(i).to_string()
            } else {
                dom.class_id(i).to_string()
            },
            hidden: n.attrs.hidden,
            role: dom.role(i),
            lang: dom.lang(i).map(str::to_string),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first difference between sieve's tree of `html` and html5ever's, if any.
    pub fn first_difference(html: &str) -> Option<String> {
        let (want, title, og) = reference(html, 3000)?;
        let dom = match Dom::parse(html, 3000, 10_000_000) {
            Ok(d) => d,
            Err(e) => return Some(format!("sieve refused the page: {e:?}")),
        };
        let got = flatten(&dom);
        if dom.title != title {
            return Some(format!("title {:?} != {:?}", dom.title, title));
        }
        if dom.og_title != og {
            return Some(format!("og:title {:?} != {:?}", dom.og_title, og));
        }
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            if g != w {
                let from = i.saturating_sub(4);
                let show = |v: &[Flat]| {
                    v[from..(i + 3).min(v.len())]
                        .iter()
                        .map(|f| format!("{f:?}"))
                        .collect::<Vec<_>>()
                        .join("\n      ")
                };
                return Some(format!(
                    "node {i}\n  sieve:\n      {}\n  html5ever:\n      {}",
                    show(&got),
                    show(&want)
                ));
            }
        }
        (got.len() != want.len()).then(|| format!("{} nodes != {}", got.len(), want.len()))
    }

    #[test]
    fn small_trees_match_html5ever() {
        let cases = [
            "<p>a<b>b<p>c</b>d</p>e",
            "<table><tr><td>1<td>2</table><p>x",
            "<table>stray<tr><td>cell</td></tr><div>d</div></table>",
            "<ul><li>a<li>b</ul><dl><dt>t<dd>d</dl>",
            "<a href=x>one<div>two</div></a>three",
            "<p><a>x</p>y</a>z",
            "<title>T &amp; U</title><p>caf&eacute; &copy 2019 &#x41;&#66;",
            "<select><option>a<option>b</select><p>after",
            "<h1>a<h2>b</h1>c",
            "<pre>\nline</pre><textarea>\nt</textarea>",
            "<!DOCTYPE html><p>in<table><tr><td>t</table>",
            "<p>in<table><tr><td>t</table>",
            "<math><mi>x</mi><p>out</math>",
            "<b><b><b><b>deep</b></b></b></b>",
            "<template><p>inert</p></template><p>live",
            "<div class='A b' id='Main' role=Navigation hidden>x</div>",
            "a<!-- c -->b<?pi?>c<!bogus>d</ x>e",
            "<frameset><frame></frameset><noframes>nf</noframes>",
            "<body><p>x</body></html>after",
            "<html lang=en><body lang=fr class=a><body class=b id=c>",
        ];
        for html in cases {
            if let Some(d) = first_difference(html) {
                panic!("{html}\n{d}");
            }
        }
    }

    /// Every page of the shared extraction benchmarks, and the pages of `SIEVE_TREE_PAGES`
    /// (JSON lines with the HTML in `text`): `cargo test --release --lib reference -- --ignored`.
    #[test]
    #[ignore]
    fn benchmark_trees_match_html5ever() {
        let data = std::path::Path::new("../shared/data");
        let mut pages: Vec<(String, String)> = Vec::new();
        for name in crate::eval::extraction::BENCHMARKS {
            if let Ok(ps) = crate::eval::extraction::load(name, data) {
                pages.extend(ps.into_iter().map(|p| (format!("{name}/{}", p.id), p.html)));
            }
        }
        if let Ok(path) = std::env::var("SIEVE_TREE_PAGES") {
            let text = std::fs::read_to_string(path).unwrap();
            for line in text.lines() {
                let v: serde_json::Value = serde_json::from_str(line).unwrap();
                pages.push((
                    v["id"].as_str().unwrap().into(),
                    v["text"].as_str().unwrap().into(),
                ));
            }
        }
        let mut differ = 0;
        for (id, html) in &pages {
            if let Some(d) = first_difference(html) {
                differ += 1;
                if differ <= 400 {
                    eprintln!("== {id}: {d}");
                }
            }
        }
        eprintln!("{differ} of {} pages differ", pages.len());
        assert_eq!(differ, 0);
    }
}
