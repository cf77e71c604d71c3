//! A flat, pre-order copy of the parsed HTML tree: the extractor's analysis runs over plain
//! vectors indexed by node number (children always come after their parent), so every pass
//! is a simple loop, iterative, and cheap on deep or huge pages.

use scraper::node::Node as HtmlNode;
use scraper::Html;

/// One node of the flat tree.
#[derive(Debug, Clone)]
pub struct Node {
    pub parent: Option<usize>,
    /// Lowercase tag name (see [`intern_tag`]), or empty for text.
    pub tag: &'static str,
    /// For text nodes: the text. For elements: lowercase `class` and `id`, space-separated.
    pub text: String,
    pub children: Vec<usize>,
    pub depth: u32,
    /// Attributes the extractor looks at.
    pub attrs: Attrs,
}

#[derive(Debug, Clone, Default)]
pub struct Attrs {
    pub hidden: bool,
    pub role: Option<String>,
    pub itemprop: Option<String>,
    pub lang: Option<String>,
}

impl Node {
    pub fn is_text(&self) -> bool {
        self.tag.is_empty()
    }
}

/// The flat tree, or the reason it could not be built within the limits.
pub struct Dom {
    pub nodes: Vec<Node>,
    pub title: Option<String>,
    pub og_title: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomError {
    TooDeep,
    TooManyNodes,
}

fn style_hides(style: &str) -> bool {
    let s: String = style
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    s.contains("display:none") || s.contains("visibility:hidden")
}

/// The tag names the extractor distinguishes, as static strings (no allocation per element).
/// Any other element is `x-other`, which the extractor treats as inline.
pub fn intern_tag(name: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "a",
        "abbr",
        "address",
        "article",
        "aside",
        "audio",
        "b",
        "blockquote",
        "body",
        "br",
        "button",
        "canvas",
        "caption",
        "center",
        "code",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "em",
        "embed",
        "fieldset",
        "figcaption",
        "figure",
        "font",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "head",
        "header",
        "hr",
        "html",
        "i",
        "iframe",
        "img",
        "input",
        "label",
        "li",
        "link",
        "main",
        "map",
        "menu",
        "meta",
        "nav",
        "noscript",
        "object",
        "ol",
        "option",
        "p",
        "pre",
        "section",
        "select",
        "small",
        "span",
        "strong",
        "style",
        "summary",
        "svg",
        "table",
        "tbody",
        "td",
        "template",
        "textarea",
        "tfoot",
        "th",
        "thead",
        "time",
        "title",
        "tr",
        "u",
        "ul",
        "video",
        "script",
    ];
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name))
        .copied()
        .unwrap_or("x-other")
}

/// Finds `needle` (ASCII, lowercase) in `hay` ignoring ASCII case.
fn find_ascii_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
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
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'-')
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

impl Dom {
    /// Parses `html` and flattens it, refusing trees deeper or larger than the limits.
    pub fn parse(html: &str, max_depth: u32, max_nodes: usize) -> Result<Dom, DomError> {
        let html = slim_tags(&close_runaway_text_elements(&strip_non_text(html)));
        if estimated_depth(&html, max_depth) > max_depth {
            return Err(DomError::TooDeep);
        }
        let doc = Html::parse_document(&html);
        let mut nodes: Vec<Node> = Vec::with_capacity(1024);
        let mut stack: Vec<usize> = Vec::new();
        let mut title = None;
        let mut og_title = None;
        let mut in_title = false;
        let mut in_skip = 0u32;
        for edge in doc.tree.root().traverse() {
            match edge {
                ego_tree::iter::Edge::Open(n) => {
                    let parent = stack.last().copied();
                    let depth = stack.len() as u32;
                    if depth > max_depth {
                        return Err(DomError::TooDeep);
                    }
                    if nodes.len() >= max_nodes {
                        return Err(DomError::TooManyNodes);
                    }
                    let node = match n.value() {
                        HtmlNode::Element(e) => {
                            let tag = intern_tag(e.name());
                            if tag == "title" {
                                in_title = true;
                            }
                            if tag == "meta" {
                                let prop =
                                    e.attr("property").or_else(|| e.attr("name")).unwrap_or("");
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
                            Node {
                                parent,
                                tag,
                                text: class_id,
                                children: Vec::new(),
                                depth,
                                attrs: Attrs {
                                    hidden,
                                    role: e.attr("role").map(|r| r.to_ascii_lowercase()),
                                    itemprop: e.attr("itemprop").map(|r| r.to_ascii_lowercase()),
                                    lang: e.attr("lang").map(str::to_string),
                                },
                            }
                        }
                        HtmlNode::Text(t) => {
                            if in_title && title.is_none() {
                                title = Some(t.text.trim().to_string());
                            }
                            if in_skip > 0 {
                                // Script and style bodies are never text; skip them early.
                                stack.push(usize::MAX);
                                continue;
                            }
                            Node {
                                parent,
                                tag: "",
                                text: t.text.to_string(),
                                children: Vec::new(),
                                depth,
                                attrs: Attrs::default(),
                            }
                        }
                        // Document, doctype, comments, processing instructions: keep the
                        // structure (so indices stay parents) but no content.
                        _ => Node {
                            parent,
                            tag: "#other",
                            text: String::new(),
                            children: Vec::new(),
                            depth,
                            attrs: Attrs::default(),
                        },
                    };
                    let parent = parent.filter(|&p| p != usize::MAX);
                    let index = nodes.len();
                    if let Some(p) = parent {
                        nodes[p].children.push(index);
                    }
                    nodes.push(Node { parent, ..node });
                    stack.push(index);
                }
                ego_tree::iter::Edge::Close(n) => {
                    if let HtmlNode::Element(e) = n.value() {
                        let tag = e.name();
                        if tag.eq_ignore_ascii_case("title") {
                            in_title = false;
                        }
                        if matches!(tag, "script" | "style" | "noscript" | "template") {
                            in_skip = in_skip.saturating_sub(1);
                        }
                    }
                    stack.pop();
                }
            }
        }
        Ok(Dom {
            nodes,
            title,
            og_title,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_in_pre_order_with_parents() {
        let dom = Dom::parse(
            "<html><head><title>T</title><script>var x='<p>no</p>'</script></head><body><div class='A b' id='Main'><p>hi</p></div></body></html>",
            100,
            1000,
        )
        .unwrap();
        assert_eq!(dom.title.as_deref(), Some("T"));
        let div = dom.nodes.iter().position(|n| n.tag == "div").unwrap();
        assert_eq!(dom.nodes[div].text, "a b main");
        let p = dom.nodes[div].children[0];
        assert_eq!(dom.nodes[p].tag, "p");
        let t = dom.nodes[p].children[0];
        assert_eq!(dom.nodes[t].text, "hi");
        assert_eq!(dom.nodes[t].parent, Some(p));
        assert!(!dom
            .nodes
            .iter()
            .any(|n| n.is_text() && n.text.contains("no")));
        for (i, n) in dom.nodes.iter().enumerate() {
            if let Some(p) = n.parent {
                assert!(p < i);
            }
        }
    }

    #[test]
    fn non_text_bodies_are_stripped_but_tags_stay() {
        let html = "<p>a<!-- c --></p><SCRIPT type=x>if (a<b) {}</script ><style>p{}</STYLE><svg viewBox='0'><path/></svg><p>b</p>";
        assert_eq!(
            strip_non_text(html),
            "<p>a</p><SCRIPT type=x></script ><style></STYLE><svg viewBox='0'></svg><p>b</p>"
        );
        assert!(matches!(
            strip_non_text("<p>plain</p>"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(
            strip_non_text("<p>x</p><script>never closed"),
            "<p>x</p><script>never closed"
        );
        assert_eq!(
            strip_non_text("<scripts>kept</scripts>"),
            "<scripts>kept</scripts>"
        );
    }

    #[test]
    fn slimming_keeps_only_the_attributes_the_extractor_reads() {
        let html = r#"<div class="a b" data-x='1 > 2' onclick=go() id=main><a href="/x?a=1&b=2">x</a><br/><img src=y /><p>q</p></div><p"#;
        assert_eq!(
            slim_tags(html),
            r#"<div class="a b" id=main><a>x</a><br/><img/><p>q</p></div><p"#
        );
        assert_eq!(slim_tags("a < b and <3"), "a < b and <3");
    }

    #[test]
    fn a_title_never_closed_ends_at_the_next_tag() {
        let html = "<html><head><title>News (The Times)stray code\n</head><body><p>Story</p>";
        assert_eq!(
            close_runaway_text_elements(html),
            "<html><head><title>News (The Times)stray code\n</title></head><body><p>Story</p>"
        );
        let dom = Dom::parse(html, 100, 1000).unwrap();
        assert!(dom.nodes.iter().any(|n| n.text == "Story"));
        // Closed ones, and other elements whose names start alike, are left alone.
        let fine = "<title>A</title><titles>x</titles><textarea>a <b> c</textarea>";
        assert_eq!(close_runaway_text_elements(fine), fine);
        assert_eq!(
            close_runaway_text_elements("<p><textarea>draft<p>after"),
            "<p><textarea>draft</textarea><p>after"
        );
    }

    #[test]
    fn depth_estimate_counts_nesting_not_siblings() {
        assert_eq!(
            estimated_depth("<div><div><p>a<p>b</div><br><img src=x/></div>", 100),
            2
        );
        assert_eq!(estimated_depth(&"<div></div>".repeat(1000), 100), 1);
        assert!(estimated_depth(&"<div>".repeat(100_000), 1024) > 1024);
    }

    #[test]
    fn depth_and_size_limits() {
        let deep = "<div>".repeat(300);
        assert!(matches!(
            Dom::parse(&deep, 100, 1_000_000),
            Err(DomError::TooDeep)
        ));
        let wide = "<p>x</p>".repeat(2000);
        assert!(matches!(
            Dom::parse(&wide, 100, 1000),
            Err(DomError::TooManyNodes)
        ));
    }
}
