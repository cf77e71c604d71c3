//! The extractor's DOM: the page's nodes in document order, children after their parent, so
//! every pass of the extractor is a plain loop over a slice, iterative and cheap on deep or
//! huge pages.
//!
//! It is built in one pass by sieve's own HTML parser (`html/`): text nodes are spans of the
//! page (only text that character references or merging changed lives in a buffer), tag names
//! are static strings, and each element's `class` and `id` are interned once in the page's
//! table. The buffers are reused from page to page ([`DomBuffers`]).

use std::cell::OnceCell;
use std::collections::HashMap;

use super::html::builder::{Builder, Limits};
use super::html::tags::{Names, Tag};
use super::html::tokenizer::Span;
use super::html::tree::Tree;
use super::patterns::class_weight;

/// "No node" in the links of [`Node`].
pub const NONE: u32 = u32::MAX;

/// One node of the flat tree.
#[derive(Debug, Clone)]
pub struct Node {
    pub(crate) parent: u32,
    pub(crate) first_child: u32,
    pub(crate) last_child: u32,
    pub(crate) next_sibling: u32,
    pub(crate) prev_sibling: u32,
    /// Lowercase tag name (see [`intern_tag`]), empty for text, `#other` for the document,
    /// doctype and comments.
    pub tag: &'static str,
    /// Ancestors above the node (the document is at depth 0).
    pub depth: u32,
    /// A text node's text.
    pub(crate) text: Span,
    /// An element's lowercase `class` and `id`, space-separated, as a number of the page's
    /// class table (0 for none).
    pub class: u32,
    pub attrs: NodeAttrs,
    /// The parser's name for the element (also for names the extractor does not know).
    pub(crate) name: Tag,
    /// HTML, MathML or SVG (see `html::builder`).
    pub(crate) ns: u8,
}

/// What the extractor reads of an element's attributes.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeAttrs {
    /// `hidden`, `aria-hidden="true"` or a style that hides it.
    pub hidden: bool,
    /// An ARIA role of page furniture (navigation, banner, ...).
    pub furniture_role: bool,
    /// `itemprop="articleBody"`.
    pub article_body: bool,
    pub(crate) role: Option<Span>,
    pub(crate) lang: Option<Span>,
}

impl Node {
    pub fn is_text(&self) -> bool {
        self.tag.is_empty()
    }

    pub fn parent(&self) -> Option<usize> {
        (self.parent != NONE).then_some(self.parent as usize)
    }
}

/// The page's distinct `class`/`id` values; number 0 is the empty one.
#[derive(Default)]
pub struct ClassTable {
    numbers: HashMap<Box<str>, u32>,
    values: Vec<Box<str>>,
}

impl ClassTable {
    pub fn clear(&mut self) {
        self.numbers.clear();
        self.values.clear();
        self.values.push("".into());
    }

    pub fn intern(&mut self, value: &str) -> u32 {
        if value.is_empty() {
            return 0;
        }
        if let Some(&n) = self.numbers.get(value) {
            return n;
        }
        let n = self.values.len() as u32;
        self.values.push(value.into());
        self.numbers.insert(value.into(), n);
        n
    }

    pub fn get(&self, n: u32) -> &str {
        &self.values[n as usize]
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// The buffers a DOM is built in, kept between pages so that a worker allocates once.
#[derive(Default)]
pub struct DomBuffers(Box<Buffers>);

#[derive(Default)]
struct Buffers {
    tree: Tree,
    names: Names,
    classes: ClassTable,
    open: Vec<u32>,
}

impl DomBuffers {
    /// Bytes held by the biggest buffers (nodes and text), to let go of them after an outlier
    /// page instead of keeping its size for the rest of a shard.
    pub fn retained_bytes(&self) -> usize {
        let t = &self.0.tree;
        t.nodes.capacity() * std::mem::size_of::<Node>() + t.buf.capacity()
    }
}

/// The flat tree of one page.
pub struct Dom<'a> {
    page: &'a str,
    bufs: DomBuffers,
    pub title: Option<String>,
    pub og_title: Option<String>,
    /// Computed on first use: the page analysis reads them up to four times per page.
    text_facts: OnceCell<Vec<TextFacts>>,
    class_weights: OnceCell<Vec<i8>>,
}

/// What the page analysis counts in a text node.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextFacts {
    /// Visible characters, each whitespace gap counting as one.
    pub chars: u32,
    pub commas: u32,
}

/// The visible characters of a text run (each whitespace gap counting as one) and its commas,
/// in one pass that decodes only non-ASCII characters.
fn facts_of(s: &str) -> TextFacts {
    let b = s.as_bytes();
    let (mut chars, mut commas) = (0u32, 0u32);
    let mut gap = false;
    let mut i = 0;
    while i < b.len() {
        let (space, comma, width) = if b[i] < 0x80 {
            (matches!(b[i], b'\t'..=b'\r' | b' '), b[i] == b',', 1)
        } else {
            let c = s[i..].chars().next().unwrap_or(' ');
            (
                c.is_whitespace(),
                matches!(c, '，' | '、' | '،'),
                c.len_utf8(),
            )
        };
        i += width;
        commas += u32::from(comma);
        if space {
            gap = true;
        } else {
            if gap && chars > 0 {
                chars += 1;
            }
            gap = false;
            chars += 1;
        }
    }
    TextFacts { chars, commas }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomError {
    TooDeep,
    TooManyNodes,
}

pub fn style_hides(style: &str) -> bool {
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

impl<'a> Dom<'a> {
    /// Parses `html`, refusing trees deeper or larger than the limits.
    pub fn parse(html: &'a str, max_depth: u32, max_nodes: usize) -> Result<Dom<'a>, DomError> {
        Self::parse_with(html, max_depth, max_nodes, DomBuffers::default()).map_err(|(e, _)| e)
    }

    /// [`Dom::parse`] in buffers from an earlier page (given back on failure too).
    pub fn parse_with(
        html: &'a str,
        max_depth: u32,
        max_nodes: usize,
        mut bufs: DomBuffers,
    ) -> Result<Dom<'a>, (DomError, DomBuffers)> {
        let limits = Limits {
            max_depth,
            max_nodes,
        };
        let b = &mut *bufs.0;
        let built = Builder::new(
            html,
            &mut b.tree,
            &mut b.names,
            &mut b.classes,
            &mut b.open,
            limits,
        )
        .run();
        match built {
            Ok(found) => Ok(Dom {
                page: html,
                bufs,
                title: found.title,
                og_title: found.og_title,
                text_facts: OnceCell::new(),
                class_weights: OnceCell::new(),
            }),
            Err(e) => Err((e, bufs)),
        }
    }

    /// The buffers, for the next page.
    pub fn into_buffers(self) -> DomBuffers {
        self.bufs
    }

    pub fn nodes(&self) -> &[Node] {
        &self.bufs.0.tree.nodes
    }

    fn span(&self, s: Span) -> &str {
        s.get(self.page, &self.bufs.0.tree.buf)
    }

    /// A text node's text (empty for elements).
    pub fn text(&self, i: usize) -> &str {
        self.span(self.bufs.0.tree.nodes[i].text)
    }

    /// An element's lowercase `class` and `id`, space-separated.
    pub fn class_id(&self, i: usize) -> &str {
        self.bufs.0.classes.get(self.bufs.0.tree.nodes[i].class)
    }

    /// The characters and commas of every node (zero for elements).
    pub fn text_facts(&self) -> &[TextFacts] {
        self.text_facts.get_or_init(|| {
            (0..self.nodes().len())
                .map(|i| {
                    if !self.nodes()[i].is_text() {
                        return TextFacts::default();
                    }
                    facts_of(self.text(i))
                })
                .collect()
        })
    }

    /// [`class_weight`] of an element's class and id, computed once per distinct value.
    pub fn class_weight(&self, i: usize) -> i32 {
        let weights = self.class_weights.get_or_init(|| {
            let classes = &self.bufs.0.classes;
            (0..classes.len())
                .map(|c| class_weight(classes.get(c as u32)) as i8)
                .collect()
        });
        weights[self.bufs.0.tree.nodes[i].class as usize] as i32
    }

    /// An element's `role`, lowercase.
    pub fn role(&self, i: usize) -> Option<String> {
        let r = self.bufs.0.tree.nodes[i].attrs.role?;
        Some(self.span(r).to_ascii_lowercase())
    }

    /// An element's `lang`, as written.
    pub fn lang(&self, i: usize) -> Option<&str> {
        self.bufs.0.tree.nodes[i].attrs.lang.map(|s| self.span(s))
    }

    /// The children of node `i`, in document order.
    pub fn children(&self, i: usize) -> Children<'_> {
        let n = &self.bufs.0.tree.nodes[i];
        Children {
            nodes: &self.bufs.0.tree.nodes,
            front: n.first_child,
            back: n.last_child,
        }
    }
}

/// The children of a node, from either end.
pub struct Children<'d> {
    nodes: &'d [Node],
    front: u32,
    back: u32,
}

impl Iterator for Children<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.front == NONE {
            return None;
        }
        let at = self.front;
        if at == self.back {
            self.front = NONE;
            self.back = NONE;
        } else {
            self.front = self.nodes[at as usize].next_sibling;
        }
        Some(at as usize)
    }
}

impl DoubleEndedIterator for Children<'_> {
    fn next_back(&mut self) -> Option<usize> {
        if self.back == NONE {
            return None;
        }
        let at = self.back;
        if at == self.front {
            self.front = NONE;
            self.back = NONE;
        } else {
            self.back = self.nodes[at as usize].prev_sibling;
        }
        Some(at as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_facts_count_characters_gaps_and_commas() {
        let f = facts_of("  a,  b\u{a0}\u{3000}c， é、x ");
        // a , ␣ b ␣ c ， ␣ é 、 x
        assert_eq!((f.chars, f.commas), (11, 3));
        let f = facts_of("\t\n");
        assert_eq!((f.chars, f.commas), (0, 0));
    }

    #[test]
    fn flattens_in_pre_order_with_parents() {
        let dom = Dom::parse(
            "<html><head><title>T</title><script>var x='<p>no</p>'</script></head><body><div class='A b' id='Main'><p>hi</p></div></body></html>",
            100,
            1000,
        )
        .unwrap();
        assert_eq!(dom.title.as_deref(), Some("T"));
        let nodes = dom.nodes();
        let div = nodes.iter().position(|n| n.tag == "div").unwrap();
        assert_eq!(dom.class_id(div), "a b main");
        let p = dom.children(div).next().unwrap();
        assert_eq!(nodes[p].tag, "p");
        let t = dom.children(p).next().unwrap();
        assert_eq!(dom.text(t), "hi");
        assert_eq!(nodes[t].parent(), Some(p));
        assert!(!(0..nodes.len()).any(|i| nodes[i].is_text() && dom.text(i).contains("no")));
        for (i, n) in nodes.iter().enumerate() {
            if let Some(p) = n.parent() {
                assert!(p < i && n.depth == nodes[p].depth + 1);
            }
        }
    }

    #[test]
    fn comments_and_script_style_svg_bodies_are_not_text() {
        let dom = Dom::parse(
            "<p>a<!-- c -->b</p><SCRIPT type=x>if (a<b) {}</script ><style>p{}</STYLE><svg viewBox='0'><text>s</text></svg><p>c &amp; d</p>",
            100,
            1000,
        )
        .unwrap();
        let texts: Vec<&str> = (0..dom.nodes().len())
            .filter(|&i| dom.nodes()[i].is_text())
            .map(|i| dom.text(i))
            .collect();
        // Text on both sides of a comment is one node, as when comments were cut out first.
        assert_eq!(texts, ["ab", "c & d"]);
    }

    #[test]
    fn a_title_never_closed_ends_at_the_next_tag() {
        let html = "<html><head><title>News (The Times)stray code\n</head><body><p>Story</p>";
        let dom = Dom::parse(html, 100, 1000).unwrap();
        assert_eq!(dom.title.as_deref(), Some("News (The Times)stray code"));
        assert!((0..dom.nodes().len()).any(|i| dom.text(i) == "Story"));
        let dom = Dom::parse("<p><textarea>draft<p>after", 100, 1000).unwrap();
        assert!((0..dom.nodes().len()).any(|i| dom.text(i) == "after"));
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
        // Buffers given back on failure serve the next page.
        let Err((_, bufs)) = Dom::parse_with(&deep, 100, 1_000_000, DomBuffers::default()) else {
            panic!("too deep");
        };
        let dom = Dom::parse_with("<p>ok</p>", 100, 1000, bufs).unwrap_or_else(|_| panic!());
        assert!((0..dom.nodes().len()).any(|i| dom.text(i) == "ok"));
    }
}
