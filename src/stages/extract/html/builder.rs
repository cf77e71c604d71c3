//! Tree construction: tokens → the DOM, by the HTML standard's insertion modes, for the rules
//! whose outcome the extractor can see: implied and misnested end tags (the adoption agency),
//! `<p>` closed by blocks, lists, tables with foster parenting, forms, selects, raw-text
//! elements, frames, `<template>` and MathML/SVG islands.
//!
//! Two deliberate simplifications, both invisible to the extractor: a `<template>`'s contents
//! are skipped (they are inert; the extractor drops them), and scripting counts as enabled,
//! so `<noscript>` is raw text, as in html5ever's default and in browsers.

use super::doctype::Mode as Quirks;
use super::tags::*;
use super::tokenizer::{Attr, Attrs, RawKind, Span, Token, Tokenizer};
use super::tree::Tree;
use crate::stages::extract::dom::{style_hides, ClassTable, DomError, NodeAttrs, NONE};
use crate::stages::extract::patterns::is_boilerplate_role;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Initial,
    BeforeHtml,
    BeforeHead,
    InHead,
    AfterHead,
    InBody,
    InTable,
    InTableText,
    InCaption,
    InColumnGroup,
    InTableBody,
    InRow,
    InCell,
    AfterBody,
    InFrameset,
    AfterFrameset,
    AfterAfterBody,
    AfterAfterFrameset,
}

/// Namespaces: HTML elements, and the MathML and SVG islands in a page.
pub const HTML_NS: u8 = 0;
pub const MATHML_NS: u8 = 1;
pub const SVG_NS: u8 = 2;

/// An entry of the list of active formatting elements.
#[derive(Clone, Copy)]
enum Fmt {
    Marker,
    El(u32, Attrs),
}

/// Which elements bound a "has an element in scope" search.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Default,
    ListItem,
    Button,
    Table,
}

pub struct Limits {
    pub max_depth: u32,
    pub max_nodes: usize,
}

/// What the builder found besides the tree.
#[derive(Default)]
pub struct Found {
    pub title: Option<String>,
    pub og_title: Option<String>,
}

pub struct Builder<'a, 'b> {
    page: &'a str,
    tok: Tokenizer<'a>,
    tree: &'b mut Tree,
    names: &'b mut Names,
    classes: &'b mut ClassTable,
    open: &'b mut Vec<u32>,
    fmt: Vec<Fmt>,
    mode: Mode,
    /// The mode to return to after table text.
    original: Mode,
    head: u32,
    form: u32,
    html_attrs: Attrs,
    body_attrs: Attrs,
    frameset_ok: bool,
    quirks: Quirks,
    foster: bool,
    pending: Vec<Span>,
    pending_non_space: bool,
    ignore_lf: bool,
    limits: Limits,
    error: Option<DomError>,
    found: Found,
    lower: String,
}

fn is_space_byte(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

impl<'a, 'b> Builder<'a, 'b> {
    pub fn new(
        page: &'a str,
        tree: &'b mut Tree,
        names: &'b mut Names,
        classes: &'b mut ClassTable,
        open: &'b mut Vec<u32>,
        limits: Limits,
    ) -> Self {
        tree.clear();
        names.clear();
        classes.clear();
        open.clear();
        let document = Tree::new_node("#other", Tag(u32::MAX), Span::EMPTY);
        tree.push(document);
        Builder {
            page,
            tok: Tokenizer::new(page),
            tree,
            names,
            classes,
            open,
            fmt: Vec::new(),
            mode: Mode::Initial,
            original: Mode::InBody,
            head: NONE,
            form: NONE,
            html_attrs: Attrs::default(),
            body_attrs: Attrs::default(),
            frameset_ok: true,
            quirks: Quirks::Standards,
            foster: false,
            pending: Vec::new(),
            pending_non_space: false,
            ignore_lf: false,
            limits,
            error: None,
            found: Found::default(),
            lower: String::new(),
        }
    }

    /// Builds the whole tree.
    pub fn run(mut self) -> Result<Found, DomError> {
        loop {
            self.tok.in_foreign = self
                .open
                .last()
                .is_some_and(|&n| self.tree.nodes[n as usize].ns != HTML_NS);
            let mut token = self.tok.next(&mut self.tree.buf, self.names);
            if self.ignore_lf {
                self.ignore_lf = false;
                if let Token::Text(span) = token {
                    if span.get(self.page, &self.tree.buf).starts_with('\n') {
                        if span.len() == 1 {
                            continue;
                        }
                        token = Token::Text(span.sub(1, span.len()));
                    }
                }
            }
            self.dispatch(token);
            if let Some(e) = self.error {
                return Err(e);
            }
            if token == Token::Eof {
                break;
            }
        }
        let deepest = self.tree.finish();
        if deepest > self.limits.max_depth {
            return Err(DomError::TooDeep);
        }
        Ok(self.found)
    }

    // ---- the tree ----------------------------------------------------------------------

    fn text_of(&self, span: Span) -> &str {
        span.get(self.page, &self.tree.buf)
    }

    fn tag(&self, node: u32) -> Tag {
        self.tree.nodes[node as usize].name
    }

    fn ns(&self, node: u32) -> u8 {
        self.tree.nodes[node as usize].ns
    }

    /// Whether `node` is the HTML element `tag`.
    fn is(&self, node: u32, tag: Tag) -> bool {
        let n = &self.tree.nodes[node as usize];
        n.name == tag && n.ns == HTML_NS
    }

    fn current(&self) -> u32 {
        self.open.last().copied().unwrap_or(0)
    }

    fn current_is(&self, tag: Tag) -> bool {
        self.open.last().is_some_and(|&n| self.is(n, tag))
    }

    fn check_size(&mut self) -> bool {
        if self.tree.nodes.len() >= self.limits.max_nodes {
            self.error.get_or_insert(DomError::TooManyNodes);
            return false;
        }
        true
    }

    /// A new element, not yet in the tree, with the attributes the extractor reads.
    fn create(&mut self, name: Tag, attrs: &Attrs, ns: u8) -> u32 {
        let mut node = Tree::new_node(extractor_name(name), name, Span::EMPTY);
        if ns != HTML_NS {
            // MathML and SVG elements are none of the HTML elements the extractor knows.
            node.tag = "x-other";
        }
        node.ns = ns;
        self.derive_attrs(&mut node.class, &mut node.attrs, attrs);
        if name == META && ns == HTML_NS {
            let key = attrs.get(Attr::Property).or(attrs.get(Attr::Name));
            if key.is_some_and(|k| self.text_of(k).eq_ignore_ascii_case("og:title")) {
                self.found.og_title = attrs
                    .get(Attr::Content)
                    .map(|c| self.text_of(c).trim().to_string());
            }
        }
        self.tree.push(node)
    }

    fn derive_attrs(&mut self, class: &mut u32, out: &mut NodeAttrs, attrs: &Attrs) {
        let page = self.page;
        let buf = &self.tree.buf;
        let text = |a: Attr| attrs.get(a).map(|s| s.get(page, buf));
        let (class_value, id) = (text(Attr::Class), text(Attr::Id));
        *class = if class_value.is_none() && id.is_none() {
            0
        } else {
            self.lower.clear();
            if let Some(c) = class_value {
                self.lower.push_str(c);
            }
            if let Some(i) = id {
                self.lower.push(' ');
                self.lower.push_str(i);
            }
            self.lower.make_ascii_lowercase();
            self.classes.intern(&self.lower)
        };
        out.hidden = attrs.get(Attr::Hidden).is_some()
            || text(Attr::AriaHidden).is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || text(Attr::Style).is_some_and(style_hides);
        out.role = attrs.get(Attr::Role);
        out.furniture_role =
            text(Attr::Role).is_some_and(|r| is_boilerplate_role(&r.to_ascii_lowercase()));
        out.article_body =
            text(Attr::Itemprop).is_some_and(|v| v.eq_ignore_ascii_case("articlebody"));
        out.lang = attrs.get(Attr::Lang);
    }

    /// Where a node goes when inserted "at the appropriate place" in `target`: (parent,
    /// before), moved out in front of the table when foster parenting applies.
    fn place(&self, target: u32) -> (u32, u32) {
        let t = self.tag(target);
        if self.foster
            && self.ns(target) == HTML_NS
            && matches!(t, TABLE | TBODY | TFOOT | THEAD | TR)
        {
            let Some(ti) = self.open.iter().rposition(|&n| self.is(n, TABLE)) else {
                return (self.open[0], NONE);
            };
            let table = self.open[ti];
            let parent = self.tree.nodes[table as usize].parent;
            if parent != NONE {
                return (parent, table);
            }
            return (self.open[ti.saturating_sub(1)], NONE);
        }
        (target, NONE)
    }

    fn attach(&mut self, node: u32, (parent, before): (u32, u32)) {
        if before == NONE {
            self.tree.append(parent, node);
        } else {
            self.tree.insert_before(parent, node, before);
        }
        if self.tree.nodes[node as usize].depth > self.limits.max_depth {
            self.error.get_or_insert(DomError::TooDeep);
        }
    }

    /// Inserts an element for a start tag at the appropriate place and opens it.
    fn insert(&mut self, name: Tag, attrs: &Attrs) -> u32 {
        self.insert_ns(name, attrs, HTML_NS)
    }

    fn insert_ns(&mut self, name: Tag, attrs: &Attrs, ns: u8) -> u32 {
        if !self.check_size() {
            return NONE;
        }
        let node = self.create(name, attrs, ns);
        let place = self.place(self.current());
        self.attach(node, place);
        self.open.push(node);
        node
    }

    /// Inserts an element and closes it at once (void elements).
    fn insert_void(&mut self, name: Tag, attrs: &Attrs) {
        if self.insert(name, attrs) != NONE {
            self.open.pop();
        }
    }

    fn insert_text(&mut self, span: Span) {
        if span.is_empty() {
            return;
        }
        let (parent, before) = self.place(self.current());
        if !self.check_size() {
            return;
        }
        if let Some(node) = self.tree.add_text(self.page, parent, before, span) {
            if self.tree.nodes[node as usize].depth > self.limits.max_depth {
                self.error.get_or_insert(DomError::TooDeep);
            }
        }
    }

    fn insert_comment(&mut self, parent: u32) {
        if !self.check_size() {
            return;
        }
        let node = self
            .tree
            .push(Tree::new_node("#other", Tag(u32::MAX), Span::EMPTY));
        let place = if parent == NONE {
            self.place(self.current())
        } else {
            (parent, NONE)
        };
        self.attach(node, place);
    }

    /// A raw-text or RCDATA element: the element, its text, and its end tag, read at once.
    fn raw_text_element(&mut self, name: Tag, attrs: &Attrs, kind: RawKind) {
        let node = self.insert(name, attrs);
        let tag_name = self.names.name(name).to_vec();
        let span = self.tok.raw_text(&tag_name, kind, &mut self.tree.buf);
        if node == NONE {
            return;
        }
        let span = if name == TEXTAREA && self.text_of(span).starts_with('\n') {
            span.sub(1, span.len())
        } else {
            span
        };
        // Script, style and noscript bodies are never text: no node for them.
        if !matches!(name, SCRIPT | STYLE | NOSCRIPT) {
            if name == TITLE && self.found.title.is_none() && !span.is_empty() {
                self.found.title = Some(self.text_of(span).trim().to_string());
            }
            self.insert_text(span);
        }
        self.open.pop();
    }

    fn pop_until(&mut self, tag: Tag) {
        while let Some(n) = self.open.pop() {
            if self.is(n, tag) {
                break;
            }
        }
    }

    fn pop_until_node(&mut self, node: u32) {
        while let Some(n) = self.open.pop() {
            if n == node {
                break;
            }
        }
    }

    fn remove_from_stack(&mut self, node: u32) {
        if let Some(i) = self.open.iter().rposition(|&n| n == node) {
            self.open.remove(i);
        }
    }

    fn is_boundary(&self, node: u32, scope: Scope) -> bool {
        let (t, ns) = (self.tag(node), self.ns(node));
        if scope == Scope::Table {
            return ns == HTML_NS && matches!(t, HTML | TABLE | TEMPLATE);
        }
        let default = match ns {
            HTML_NS => matches!(
                t,
                APPLET | CAPTION | HTML | TABLE | TD | TH | MARQUEE | OBJECT | SELECT | TEMPLATE
            ),
            MATHML_NS => matches!(t, MI | MO | MN | MS | MTEXT | ANNOTATION_XML),
            _ => matches!(t, FOREIGNOBJECT | DESC | TITLE),
        };
        default
            || (ns == HTML_NS
                && match scope {
                    Scope::ListItem => matches!(t, OL | UL),
                    Scope::Button => t == BUTTON,
                    _ => false,
                })
    }

    fn in_scope_where(&self, scope: Scope, want: impl Fn(Tag) -> bool) -> bool {
        for &n in self.open.iter().rev() {
            if self.ns(n) == HTML_NS && want(self.tag(n)) {
                return true;
            }
            if self.is_boundary(n, scope) {
                return false;
            }
        }
        false
    }

    fn in_scope(&self, tag: Tag, scope: Scope) -> bool {
        self.in_scope_where(scope, |t| t == tag)
    }

    fn generate_implied_end(&mut self, except: Option<Tag>) {
        while let Some(&n) = self.open.last() {
            let t = self.tag(n);
            if self.ns(n) == HTML_NS && has_implied_end(t) && Some(t) != except {
                self.open.pop();
            } else {
                break;
            }
        }
    }

    fn close_p(&mut self) {
        self.generate_implied_end(Some(P));
        self.pop_until(P);
    }

    fn close_p_in_button_scope(&mut self) {
        if self.in_scope(P, Scope::Button) {
            self.close_p();
        }
    }

    // ---- active formatting elements ------------------------------------------------------

    fn same_attrs(&self, a: &Attrs, b: &Attrs) -> bool {
        (0..11).all(|i| {
            let (x, y) = (a.slot(i), b.slot(i));
            match (x, y) {
                (None, None) => true,
                (Some(x), Some(y)) => self.text_of(x) == self.text_of(y),
                _ => false,
            }
        })
    }

    fn push_formatting(&mut self, node: u32, attrs: Attrs) {
        // At most three identical entries after the last marker (the "Noah's Ark" rule).
        let tag = self.tag(node);
        let mut same = Vec::new();
        for (i, e) in self.fmt.iter().enumerate().rev() {
            match *e {
                Fmt::Marker => break,
                Fmt::El(n, ref a) if self.tag(n) == tag && self.same_attrs(a, &attrs) => {
                    same.push(i)
                }
                _ => {}
            }
        }
        if same.len() >= 3 {
            self.fmt.remove(*same.last().unwrap_or(&0));
        }
        self.fmt.push(Fmt::El(node, attrs));
    }

    fn reconstruct(&mut self) {
        let Some(&last) = self.fmt.last() else {
            return;
        };
        match last {
            Fmt::Marker => return,
            Fmt::El(n, _) if self.open.contains(&n) => return,
            _ => {}
        }
        let mut i = self.fmt.len() - 1;
        while i > 0 {
            match self.fmt[i - 1] {
                Fmt::Marker => break,
                Fmt::El(n, _) if self.open.contains(&n) => break,
                _ => i -= 1,
            }
        }
        for j in i..self.fmt.len() {
            let Fmt::El(old, attrs) = self.fmt[j] else {
                continue;
            };
            let node = self.insert_clone(old);
            if node == NONE {
                return;
            }
            self.fmt[j] = Fmt::El(node, attrs);
        }
    }

    /// A new element like `old` (same name and attributes), inserted and opened.
    fn insert_clone(&mut self, old: u32) -> u32 {
        let node = self.clone_element(old);
        if node == NONE {
            return NONE;
        }
        let place = self.place(self.current());
        self.attach(node, place);
        self.open.push(node);
        node
    }

    fn clone_element(&mut self, old: u32) -> u32 {
        if !self.check_size() {
            return NONE;
        }
        let o = &self.tree.nodes[old as usize];
        let mut node = Tree::new_node(o.tag, o.name, Span::EMPTY);
        node.class = o.class;
        node.attrs = o.attrs;
        node.ns = o.ns;
        self.tree.push(node)
    }

    fn clear_formatting_to_marker(&mut self) {
        while let Some(e) = self.fmt.pop() {
            if matches!(e, Fmt::Marker) {
                break;
            }
        }
    }

    fn fmt_position(&self, node: u32) -> Option<usize> {
        self.fmt
            .iter()
            .rposition(|e| matches!(e, Fmt::El(n, _) if *n == node))
    }

    /// The adoption agency algorithm for the end tag `subject`. Returns false when the end
    /// tag is to be handled as "any other end tag".
    fn adoption_agency(&mut self, subject: Tag) -> bool {
        let cur = self.current();
        if self.is(cur, subject) && self.fmt_position(cur).is_none() {
            self.open.pop();
            return true;
        }
        for _ in 0..8 {
            // The last formatting element named `subject` after the last marker.
            let mut found = None;
            for (i, e) in self.fmt.iter().enumerate().rev() {
                match *e {
                    Fmt::Marker => break,
                    Fmt::El(n, _) if self.tag(n) == subject => {
                        found = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let Some(fmt_index) = found else {
                return false;
            };
            let Fmt::El(formatting, fmt_attrs) = self.fmt[fmt_index] else {
                return false;
            };
            let Some(stack_index) = self.open.iter().rposition(|&n| n == formatting) else {
                self.fmt.remove(fmt_index);
                return true;
            };
            if !self.in_scope_where(Scope::Default, |t| t == subject) {
                return true;
            }
            let furthest = self.open[stack_index + 1..]
                .iter()
                .position(|&n| self.ns(n) == HTML_NS && is_special(self.tag(n)))
                .map(|i| stack_index + 1 + i);
            let Some(furthest_index) = furthest else {
                self.open.truncate(stack_index);
                self.fmt.remove(fmt_index);
                return true;
            };
            let furthest_block = self.open[furthest_index];
            let common_ancestor = self.open[stack_index - 1];
            let mut bookmark = fmt_index;
            let mut node_index = furthest_index;
            let mut last_node = furthest_block;
            let mut inner = 0;
            loop {
                inner += 1;
                node_index -= 1;
                let node = self.open[node_index];
                if node == formatting {
                    break;
                }
                let in_list = self.fmt_position(node);
                if inner > 3 {
                    if let Some(p) = in_list {
                        self.fmt.remove(p);
                        if p < bookmark {
                            bookmark -= 1;
                        }
                    }
                }
                let Some(p) = self.fmt_position(node) else {
                    self.open.remove(node_index);
                    continue;
                };
                let Fmt::El(_, attrs) = self.fmt[p] else {
                    unreachable!("fmt_position finds elements only");
                };
                let clone = self.clone_element(node);
                if clone == NONE {
                    return true;
                }
                self.fmt[p] = Fmt::El(clone, attrs);
                self.open[node_index] = clone;
                if last_node == furthest_block {
                    bookmark = p + 1;
                }
                self.tree.detach(last_node);
                self.tree.append(clone, last_node);
                last_node = clone;
            }
            self.tree.detach(last_node);
            let place = self.place(common_ancestor);
            self.attach(last_node, place);
            let new = self.clone_element(formatting);
            if new == NONE {
                return true;
            }
            self.tree.move_children(furthest_block, new);
            self.tree.append(furthest_block, new);
            // The list: the formatting element out, the new one in at the bookmark.
            let old = self.fmt_position(formatting).unwrap_or(fmt_index);
            self.fmt.remove(old);
            if old < bookmark {
                bookmark -= 1;
            }
            self.fmt
                .insert(bookmark.min(self.fmt.len()), Fmt::El(new, fmt_attrs));
            // The stack: likewise, just below the furthest block.
            self.remove_from_stack(formatting);
            let fb = self
                .open
                .iter()
                .rposition(|&n| n == furthest_block)
                .unwrap_or(self.open.len() - 1);
            self.open.insert(fb + 1, new);
        }
        true
    }

    // ---- dispatch --------------------------------------------------------------------------

    fn dispatch(&mut self, t: Token) {
        let by_mode = match self.open.last() {
            None => true,
            Some(&n) => {
                let (tag, ns) = (self.tag(n), self.ns(n));
                let start = match t {
                    Token::Start { tag, .. } => Some(tag),
                    _ => None,
                };
                let text = matches!(t, Token::Text(_));
                ns == HTML_NS
                    || (ns == MATHML_NS
                        && matches!(tag, MI | MO | MN | MS | MTEXT)
                        && (text || start.is_some_and(|s| s != MGLYPH && s != MALIGNMARK)))
                    || (ns == MATHML_NS && tag == ANNOTATION_XML && start == Some(SVG))
                    || (ns == SVG_NS
                        && matches!(tag, FOREIGNOBJECT | DESC | TITLE)
                        && (text || start.is_some()))
                    || t == Token::Eof
            }
        };
        if by_mode {
            self.process(self.mode, t);
        } else {
            self.foreign(t);
        }
    }

    fn foreign(&mut self, t: Token) {
        match t {
            Token::Text(span) => {
                if !self.is_space(span) {
                    self.frameset_ok = false;
                }
                self.insert_text(span);
            }
            Token::Comment => self.insert_comment(NONE),
            Token::Doctype(_) | Token::Eof => {}
            Token::Start { tag, .. } if breaks_out_of_foreign(tag) => {
                while let Some(&n) = self.open.last() {
                    let (nt, ns) = (self.tag(n), self.ns(n));
                    let integration = (ns == MATHML_NS && matches!(nt, MI | MO | MN | MS | MTEXT))
                        || (ns == SVG_NS && matches!(nt, FOREIGNOBJECT | DESC | TITLE));
                    if ns == HTML_NS || integration {
                        break;
                    }
                    self.open.pop();
                }
                self.process(self.mode, t);
            }
            Token::Start {
                tag,
                attrs,
                self_closing,
            } => {
                let ns = self.ns(self.current());
                if self.insert_ns(tag, &attrs, ns) != NONE && self_closing {
                    self.open.pop();
                }
            }
            Token::End(tag) => {
                let mut i = self.open.len();
                while i > 1 {
                    i -= 1;
                    let n = self.open[i];
                    if self.ns(n) == HTML_NS {
                        self.process(self.mode, t);
                        return;
                    }
                    if self.tag(n) == tag {
                        self.open.truncate(i);
                        return;
                    }
                }
            }
        }
    }

    fn is_space(&self, span: Span) -> bool {
        self.text_of(span).bytes().all(is_space_byte)
    }

    /// Splits a text span into its leading whitespace and the rest.
    fn split_space(&self, span: Span) -> (Span, Span) {
        let n = self
            .text_of(span)
            .bytes()
            .take_while(|&b| is_space_byte(b))
            .count();
        (span.sub(0, n), span.sub(n, span.len()))
    }

    fn process(&mut self, mode: Mode, t: Token) {
        match mode {
            Mode::Initial => self.initial(t),
            Mode::BeforeHtml => self.before_html(t),
            Mode::BeforeHead => self.before_head(t),
            Mode::InHead => self.in_head(t),
            Mode::AfterHead => self.after_head(t),
            Mode::InBody => self.in_body(t),
            Mode::InTable => self.in_table(t),
            Mode::InTableText => self.in_table_text(t),
            Mode::InCaption => self.in_caption(t),
            Mode::InColumnGroup => self.in_column_group(t),
            Mode::InTableBody => self.in_table_body(t),
            Mode::InRow => self.in_row(t),
            Mode::InCell => self.in_cell(t),
            Mode::AfterBody => self.after_body(t),
            Mode::InFrameset | Mode::AfterFrameset => self.in_frameset(mode, t),
            Mode::AfterAfterBody => self.after_after_body(t),
            Mode::AfterAfterFrameset => self.after_after_frameset(t),
        }
    }

    // ---- before the body -------------------------------------------------------------------

    fn initial(&mut self, t: Token) {
        match t {
            Token::Text(span) => {
                let (_, rest) = self.split_space(span);
                if !rest.is_empty() {
                    self.quirks = Quirks::Quirks;
                    self.mode = Mode::BeforeHtml;
                    self.before_html(Token::Text(rest));
                }
            }
            Token::Comment => self.insert_comment(0),
            Token::Doctype(q) => {
                self.quirks = q;
                self.insert_comment(0);
                self.mode = Mode::BeforeHtml;
            }
            _ => {
                self.quirks = Quirks::Quirks;
                self.mode = Mode::BeforeHtml;
                self.before_html(t);
            }
        }
    }

    fn create_html(&mut self, attrs: &Attrs) {
        if !self.check_size() {
            return;
        }
        let node = self.create(HTML, attrs, HTML_NS);
        self.html_attrs = *attrs;
        self.attach(node, (0, NONE));
        self.open.push(node);
        self.mode = Mode::BeforeHead;
    }

    fn before_html(&mut self, t: Token) {
        match t {
            Token::Doctype(_) => {}
            Token::Comment => self.insert_comment(0),
            Token::Text(span) => {
                let (_, rest) = self.split_space(span);
                if !rest.is_empty() {
                    self.create_html(&Attrs::default());
                    self.before_head(Token::Text(rest));
                }
            }
            Token::Start {
                tag: HTML, attrs, ..
            } => self.create_html(&attrs),
            Token::End(tag) if !matches!(tag, HEAD | BODY | HTML | BR) => {}
            _ => {
                self.create_html(&Attrs::default());
                self.before_head(t);
            }
        }
    }

    fn before_head(&mut self, t: Token) {
        match t {
            Token::Text(span) => {
                let (_, rest) = self.split_space(span);
                if !rest.is_empty() {
                    self.implied_head();
                    self.in_head(Token::Text(rest));
                }
            }
            Token::Comment => self.insert_comment(NONE),
            Token::Doctype(_) => {}
            Token::Start { tag: HTML, .. } => self.in_body(t),
            Token::Start {
                tag: HEAD, attrs, ..
            } => {
                self.head = self.insert(HEAD, &attrs);
                self.mode = Mode::InHead;
            }
            Token::End(tag) if !matches!(tag, HEAD | BODY | HTML | BR) => {}
            _ => {
                self.implied_head();
                self.in_head(t);
            }
        }
    }

    fn implied_head(&mut self) {
        self.head = self.insert(HEAD, &Attrs::default());
        self.mode = Mode::InHead;
    }

    /// The start tags "in head" handles wherever they appear.
    fn head_element(&mut self, tag: Tag, attrs: &Attrs) -> bool {
        match tag {
            BASE | BASEFONT | BGSOUND | LINK | META => self.insert_void(tag, attrs),
            TITLE => self.raw_text_element(tag, attrs, RawKind::Rcdata),
            NOSCRIPT | NOFRAMES | STYLE | SCRIPT => {
                self.raw_text_element(tag, attrs, RawKind::Rawtext)
            }
            TEMPLATE => {
                self.frameset_ok = false;
                let node = self.insert(tag, attrs);
                self.tok.skip_template();
                if node != NONE {
                    self.open.pop();
                }
            }
            _ => return false,
        }
        true
    }

    fn in_head(&mut self, t: Token) {
        match t {
            Token::Text(span) => {
                let (space, rest) = self.split_space(span);
                self.insert_text(space);
                if !rest.is_empty() {
                    self.leave_head();
                    self.after_head(Token::Text(rest));
                }
            }
            Token::Comment => self.insert_comment(NONE),
            Token::Doctype(_) => {}
            Token::Start { tag: HTML, .. } => self.in_body(t),
            Token::Start { tag, attrs, .. } if self.head_element(tag, &attrs) => {}
            Token::Start { tag: HEAD, .. } => {}
            Token::End(HEAD) => self.leave_head(),
            Token::End(tag) if !matches!(tag, BODY | HTML | BR) => {}
            _ => {
                self.leave_head();
                self.after_head(t);
            }
        }
    }

    fn leave_head(&mut self) {
        if self.current_is(HEAD) {
            self.open.pop();
        }
        self.mode = Mode::AfterHead;
    }

    fn after_head(&mut self, t: Token) {
        match t {
            Token::Text(span) => {
                let (space, rest) = self.split_space(span);
                self.insert_text(space);
                if !rest.is_empty() {
                    self.implied_body();
                    self.in_body(Token::Text(rest));
                }
            }
            Token::Comment => self.insert_comment(NONE),
            Token::Doctype(_) => {}
            Token::Start { tag: HTML, .. } => self.in_body(t),
            Token::Start {
                tag: BODY, attrs, ..
            } => {
                self.body_attrs = attrs;
                self.insert(BODY, &attrs);
                self.frameset_ok = false;
                self.mode = Mode::InBody;
            }
            Token::Start {
                tag: FRAMESET,
                attrs,
                ..
            } => {
                self.insert(FRAMESET, &attrs);
                self.mode = Mode::InFrameset;
            }
            Token::Start {
                tag:
                    tag @ (BASE | BASEFONT | BGSOUND | LINK | META | NOFRAMES | SCRIPT | STYLE
                    | TEMPLATE | TITLE),
                attrs,
                ..
            } => {
                // Back into the head, which now has text after it in the document.
                let head = self.head;
                if head != NONE {
                    self.open.push(head);
                    self.tree.ordered = false;
                }
                self.head_element(tag, &attrs);
                if head != NONE {
                    self.remove_from_stack(head);
                }
            }
            Token::Start { tag: HEAD, .. } => {}
            Token::End(tag) if !matches!(tag, BODY | HTML | BR) => {}
            _ => {
                self.implied_body();
                self.in_body(t);
            }
        }
    }

    fn implied_body(&mut self) {
        self.body_attrs = Attrs::default();
        self.insert(BODY, &Attrs::default());
        self.mode = Mode::InBody;
    }

    // ---- the body --------------------------------------------------------------------------

    fn body_text(&mut self, span: Span) {
        self.reconstruct();
        if !self.is_space(span) {
            self.frameset_ok = false;
        }
        self.insert_text(span);
    }

    /// A second `<html>` or `<body>` tag adds the attributes the first one lacked.
    fn merge_attrs(&mut self, node: u32, attrs: &Attrs, html: bool) {
        let mut merged = if html {
            self.html_attrs
        } else {
            self.body_attrs
        };
        merged.merge_missing(attrs);
        if html {
            self.html_attrs = merged;
        } else {
            self.body_attrs = merged;
        }
        let (mut class, mut derived) = (0, NodeAttrs::default());
        self.derive_attrs(&mut class, &mut derived, &merged);
        let n = &mut self.tree.nodes[node as usize];
        n.class = class;
        n.attrs = derived;
    }

    fn in_body(&mut self, t: Token) {
        match t {
            Token::Text(span) => self.body_text(span),
            Token::Comment => self.insert_comment(NONE),
            Token::Doctype(_) => {}
            Token::Eof => {}
            Token::Start {
                tag,
                attrs,
                self_closing,
            } => self.body_start(tag, attrs, self_closing),
            Token::End(tag) => self.body_end(tag),
        }
    }

    fn body_start(&mut self, tag: Tag, attrs: Attrs, self_closing: bool) {
        match tag {
            HTML => {
                if let Some(&html) = self.open.first() {
                    self.merge_attrs(html, &attrs, true);
                }
            }
            BASE | BASEFONT | BGSOUND | LINK | META | NOFRAMES | SCRIPT | STYLE | TEMPLATE
            | TITLE => {
                self.head_element(tag, &attrs);
            }
            BODY => {
                if self.open.len() > 1 && self.is(self.open[1], BODY) {
                    self.frameset_ok = false;
                    let body = self.open[1];
                    self.merge_attrs(body, &attrs, false);
                }
            }
            FRAMESET => {
                if self.open.len() > 1 && self.is(self.open[1], BODY) && self.frameset_ok {
                    let body = self.open[1];
                    self.tree.detach(body);
                    self.open.truncate(1);
                    self.insert(FRAMESET, &attrs);
                    self.mode = Mode::InFrameset;
                }
            }
            H1 | H2 | H3 | H4 | H5 | H6 => {
                self.close_p_in_button_scope();
                let cur = self.current();
                if self.ns(cur) == HTML_NS && is_heading(self.tag(cur)) {
                    self.open.pop();
                }
                self.insert(tag, &attrs);
            }
            PRE | LISTING => {
                self.close_p_in_button_scope();
                self.insert(tag, &attrs);
                self.ignore_lf = true;
                self.frameset_ok = false;
            }
            FORM => {
                if self.form == NONE {
                    self.close_p_in_button_scope();
                    self.form = self.insert(FORM, &attrs);
                }
            }
            LI | DD | DT => {
                self.frameset_ok = false;
                let closes: &[Tag] = if tag == LI { &[LI] } else { &[DD, DT] };
                for i in (0..self.open.len()).rev() {
                    let n = self.open[i];
                    let nt = self.tag(n);
                    if self.ns(n) == HTML_NS && closes.contains(&nt) {
                        self.generate_implied_end(Some(nt));
                        self.pop_until(nt);
                        break;
                    }
                    if self.ns(n) == HTML_NS && is_special(nt) && !matches!(nt, ADDRESS | DIV | P) {
                        break;
                    }
                }
                self.close_p_in_button_scope();
                self.insert(tag, &attrs);
            }
            PLAINTEXT => {
                self.close_p_in_button_scope();
                self.raw_text_element(tag, &attrs, RawKind::Plaintext);
            }
            BUTTON => {
                if self.in_scope(BUTTON, Scope::Default) {
                    self.generate_implied_end(None);
                    self.pop_until(BUTTON);
                }
                self.reconstruct();
                self.insert(BUTTON, &attrs);
                self.frameset_ok = false;
            }
            A => {
                let open_a = self.fmt.iter().rev().find_map(|e| match *e {
                    Fmt::Marker => Some(None),
                    Fmt::El(n, _) if self.tag(n) == A => Some(Some(n)),
                    _ => None,
                });
                if let Some(Some(old)) = open_a {
                    self.adoption_agency(A);
                    if let Some(p) = self.fmt_position(old) {
                        self.fmt.remove(p);
                    }
                    self.remove_from_stack(old);
                }
                self.reconstruct();
                let node = self.insert(A, &attrs);
                if node != NONE {
                    self.push_formatting(node, attrs);
                }
            }
            NOBR => {
                self.reconstruct();
                if self.in_scope(NOBR, Scope::Default) {
                    self.adoption_agency(NOBR);
                    self.reconstruct();
                }
                let node = self.insert(NOBR, &attrs);
                if node != NONE {
                    self.push_formatting(node, attrs);
                }
            }
            t if is_formatting(t) => {
                self.reconstruct();
                let node = self.insert(t, &attrs);
                if node != NONE {
                    self.push_formatting(node, attrs);
                }
            }
            APPLET | MARQUEE | OBJECT => {
                self.reconstruct();
                self.insert(tag, &attrs);
                self.fmt.push(Fmt::Marker);
                self.frameset_ok = false;
            }
            TABLE => {
                if self.quirks != Quirks::Quirks {
                    self.close_p_in_button_scope();
                }
                self.insert(TABLE, &attrs);
                self.frameset_ok = false;
                self.mode = Mode::InTable;
            }
            INPUT => {
                if self.in_scope(SELECT, Scope::Default) {
                    self.pop_until(SELECT);
                }
                self.reconstruct();
                self.insert_void(INPUT, &attrs);
                self.frameset_ok = false;
            }
            AREA | BR | EMBED | IMG | IMAGE | KEYGEN | WBR => {
                self.reconstruct();
                self.insert_void(if tag == IMAGE { IMG } else { tag }, &attrs);
                self.frameset_ok = false;
            }
            PARAM | SOURCE | TRACK => self.insert_void(tag, &attrs),
            HR => {
                self.close_p_in_button_scope();
                if self.in_scope(SELECT, Scope::Default) {
                    self.generate_implied_end(None);
                }
                self.insert_void(HR, &attrs);
                self.frameset_ok = false;
            }
            TEXTAREA => {
                self.frameset_ok = false;
                self.raw_text_element(TEXTAREA, &attrs, RawKind::Rcdata);
            }
            XMP => {
                self.close_p_in_button_scope();
                self.reconstruct();
                self.frameset_ok = false;
                self.raw_text_element(XMP, &attrs, RawKind::Rawtext);
            }
            IFRAME => {
                self.frameset_ok = false;
                self.raw_text_element(IFRAME, &attrs, RawKind::Rawtext);
            }
            NOEMBED | NOSCRIPT => self.raw_text_element(tag, &attrs, RawKind::Rawtext),
            SELECT => {
                if self.in_scope(SELECT, Scope::Default) {
                    self.pop_until(SELECT);
                } else {
                    self.reconstruct();
                    self.insert(SELECT, &attrs);
                    self.frameset_ok = false;
                }
            }
            OPTION => {
                if self.in_scope(SELECT, Scope::Default) {
                    self.generate_implied_end(Some(OPTGROUP));
                } else if self.current_is(OPTION) {
                    self.open.pop();
                }
                self.reconstruct();
                self.insert(OPTION, &attrs);
            }
            OPTGROUP => {
                if self.in_scope(SELECT, Scope::Default) {
                    self.generate_implied_end(None);
                } else if self.current_is(OPTION) {
                    self.open.pop();
                }
                self.reconstruct();
                self.insert(OPTGROUP, &attrs);
            }
            RB | RTC => {
                if self.in_scope(RUBY, Scope::Default) {
                    self.generate_implied_end(None);
                }
                self.insert(tag, &attrs);
            }
            RP | RT => {
                if self.in_scope(RUBY, Scope::Default) {
                    self.generate_implied_end(Some(RTC));
                }
                self.insert(tag, &attrs);
            }
            MATH | SVG => {
                self.reconstruct();
                let ns = if tag == MATH { MATHML_NS } else { SVG_NS };
                if self.insert_ns(tag, &attrs, ns) != NONE && self_closing {
                    self.open.pop();
                }
            }
            CAPTION | COL | COLGROUP | FRAME | HEAD | TBODY | TD | TFOOT | TH | THEAD | TR => {}
            t if closes_p(t) => {
                self.close_p_in_button_scope();
                self.insert(t, &attrs);
            }
            _ => {
                self.reconstruct();
                self.insert(tag, &attrs);
            }
        }
    }

    fn body_end(&mut self, tag: Tag) {
        match tag {
            TEMPLATE => {}
            BODY => {
                if self.in_scope(BODY, Scope::Default) {
                    self.mode = Mode::AfterBody;
                }
            }
            HTML => {
                if self.in_scope(BODY, Scope::Default) {
                    self.mode = Mode::AfterBody;
                    self.after_body(Token::End(HTML));
                }
            }
            FORM => {
                let node = self.form;
                self.form = NONE;
                if node == NONE || !self.in_scope_where(Scope::Default, |t| t == FORM) {
                    return;
                }
                if !self.open.contains(&node) {
                    return;
                }
                self.generate_implied_end(None);
                self.remove_from_stack(node);
            }
            P => {
                if !self.in_scope(P, Scope::Button) {
                    self.insert(P, &Attrs::default());
                }
                self.close_p();
            }
            LI => {
                if self.in_scope(LI, Scope::ListItem) {
                    self.generate_implied_end(Some(LI));
                    self.pop_until(LI);
                }
            }
            DD | DT => {
                if self.in_scope(tag, Scope::Default) {
                    self.generate_implied_end(Some(tag));
                    self.pop_until(tag);
                }
            }
            H1 | H2 | H3 | H4 | H5 | H6 => {
                if self.in_scope_where(Scope::Default, is_heading) {
                    self.generate_implied_end(None);
                    while let Some(n) = self.open.pop() {
                        if self.ns(n) == HTML_NS && is_heading(self.tag(n)) {
                            break;
                        }
                    }
                }
            }
            APPLET | MARQUEE | OBJECT => {
                if self.in_scope(tag, Scope::Default) {
                    self.generate_implied_end(None);
                    self.pop_until(tag);
                    self.clear_formatting_to_marker();
                }
            }
            BR => self.body_start(BR, Attrs::default(), false),
            t if is_formatting(t) => {
                if !self.adoption_agency(t) {
                    self.any_other_end(t);
                }
            }
            t if is_block_end(t) => {
                if self.in_scope(t, Scope::Default) {
                    self.generate_implied_end(None);
                    self.pop_until(t);
                }
            }
            _ => self.any_other_end(tag),
        }
    }

    fn any_other_end(&mut self, tag: Tag) {
        for i in (0..self.open.len()).rev() {
            let n = self.open[i];
            if self.is(n, tag) {
                self.generate_implied_end(Some(tag));
                self.pop_until_node(n);
                return;
            }
            if self.ns(n) == HTML_NS && is_special(self.tag(n)) {
                return;
            }
        }
    }

    // ---- tables ----------------------------------------------------------------------------

    fn clear_to(&mut self, stop: &[Tag]) {
        while let Some(&n) = self.open.last() {
            if self.ns(n) == HTML_NS && (stop.contains(&self.tag(n)) || self.tag(n) == HTML) {
                break;
            }
            self.open.pop();
        }
    }

    fn reset_mode(&mut self) {
        for i in (0..self.open.len()).rev() {
            let n = self.open[i];
            let last = i == 0;
            if self.ns(n) != HTML_NS {
                continue;
            }
            let mode = match self.tag(n) {
                TD | TH if !last => Some(Mode::InCell),
                TR => Some(Mode::InRow),
                TBODY | THEAD | TFOOT => Some(Mode::InTableBody),
                CAPTION => Some(Mode::InCaption),
                COLGROUP => Some(Mode::InColumnGroup),
                TABLE => Some(Mode::InTable),
                HEAD if !last => Some(Mode::InHead),
                BODY => Some(Mode::InBody),
                FRAMESET => Some(Mode::InFrameset),
                HTML => Some(if self.head == NONE {
                    Mode::BeforeHead
                } else {
                    Mode::AfterHead
                }),
                _ => None,
            };
            if let Some(m) = mode {
                self.mode = m;
                return;
            }
        }
        self.mode = Mode::InBody;
    }

    fn in_table(&mut self, t: Token) {
        match t {
            Token::Text(_)
                if matches!(self.tag(self.current()), TABLE | TBODY | TFOOT | THEAD | TR)
                    && self.ns(self.current()) == HTML_NS =>
            {
                self.pending.clear();
                self.pending_non_space = false;
                self.original = self.mode;
                self.mode = Mode::InTableText;
                self.in_table_text(t);
            }
            Token::Comment => self.insert_comment(NONE),
            Token::Doctype(_) => {}
            Token::Start { tag, attrs, .. } => match tag {
                CAPTION => {
                    self.clear_to(&[TABLE, TEMPLATE]);
                    self.fmt.push(Fmt::Marker);
                    self.insert(CAPTION, &attrs);
                    self.mode = Mode::InCaption;
                }
                COLGROUP => {
                    self.clear_to(&[TABLE, TEMPLATE]);
                    self.insert(COLGROUP, &attrs);
                    self.mode = Mode::InColumnGroup;
                }
                COL => {
                    self.clear_to(&[TABLE, TEMPLATE]);
                    self.insert(COLGROUP, &Attrs::default());
                    self.mode = Mode::InColumnGroup;
                    self.in_column_group(t);
                }
                TBODY | TFOOT | THEAD => {
                    self.clear_to(&[TABLE, TEMPLATE]);
                    self.insert(tag, &attrs);
                    self.mode = Mode::InTableBody;
                }
                TD | TH | TR => {
                    self.clear_to(&[TABLE, TEMPLATE]);
                    self.insert(TBODY, &Attrs::default());
                    self.mode = Mode::InTableBody;
                    self.in_table_body(t);
                }
                TABLE => {
                    if self.in_scope(TABLE, Scope::Table) {
                        self.pop_until(TABLE);
                        self.reset_mode();
                        self.process(self.mode, t);
                    }
                }
                STYLE | SCRIPT | TEMPLATE => {
                    self.head_element(tag, &attrs);
                }
                FORM => {
                    if self.form == NONE {
                        self.form = self.insert(FORM, &attrs);
                        if self.form != NONE {
                            self.open.pop();
                        }
                    }
                }
                _ => self.foster_in_body(t),
            },
            Token::End(tag) => match tag {
                TABLE => {
                    if self.in_scope(TABLE, Scope::Table) {
                        self.pop_until(TABLE);
                        self.reset_mode();
                    }
                }
                BODY | CAPTION | COL | COLGROUP | HTML | TBODY | TD | TFOOT | TH | THEAD | TR => {}
                TEMPLATE => {}
                _ => self.foster_in_body(t),
            },
            Token::Eof => self.in_body(t),
            Token::Text(_) => self.foster_in_body(t),
        }
    }

    fn foster_in_body(&mut self, t: Token) {
        self.foster = true;
        self.in_body(t);
        self.foster = false;
    }

    fn in_table_text(&mut self, t: Token) {
        if let Token::Text(span) = t {
            if !self.is_space(span) {
                self.pending_non_space = true;
            }
            self.pending.push(span);
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        if self.pending_non_space {
            self.foster = true;
            for &span in &pending {
                self.body_text(span);
            }
            self.foster = false;
        } else {
            for &span in &pending {
                self.insert_text(span);
            }
        }
        self.pending = pending;
        self.pending.clear();
        self.mode = self.original;
        self.process(self.mode, t);
    }

    fn in_caption(&mut self, t: Token) {
        let closes = match t {
            Token::End(CAPTION) => true,
            Token::Start { tag, .. } => {
                matches!(
                    tag,
                    CAPTION | COL | COLGROUP | TBODY | TD | TFOOT | TH | THEAD | TR
                )
            }
            Token::End(TABLE) => true,
            Token::End(BODY | COL | COLGROUP | HTML | TBODY | TD | TFOOT | TH | THEAD | TR) => {
                return
            }
            _ => false,
        };
        if !closes {
            return self.in_body(t);
        }
        if !self.in_scope(CAPTION, Scope::Table) {
            return;
        }
        self.generate_implied_end(None);
        self.pop_until(CAPTION);
        self.clear_formatting_to_marker();
        self.mode = Mode::InTable;
        if t != Token::End(CAPTION) {
            self.in_table(t);
        }
    }

    fn in_column_group(&mut self, t: Token) {
        match t {
            Token::Text(span) => {
                let (space, rest) = self.split_space(span);
                self.insert_text(space);
                if !rest.is_empty() {
                    self.leave_column_group(Token::Text(rest));
                }
            }
            Token::Comment => self.insert_comment(NONE),
            Token::Doctype(_) => {}
            Token::Start { tag: HTML, .. } => self.in_body(t),
            Token::Start {
                tag: COL, attrs, ..
            } => self.insert_void(COL, &attrs),
            Token::End(COLGROUP) => {
                if self.current_is(COLGROUP) {
                    self.open.pop();
                    self.mode = Mode::InTable;
                }
            }
            Token::End(COL) => {}
            Token::Start {
                tag: TEMPLATE,
                attrs,
                ..
            } => {
                self.head_element(TEMPLATE, &attrs);
            }
            Token::End(TEMPLATE) => {}
            Token::Eof => self.in_body(t),
            _ => self.leave_column_group(t),
        }
    }

    fn leave_column_group(&mut self, t: Token) {
        if self.current_is(COLGROUP) {
            self.open.pop();
            self.mode = Mode::InTable;
            self.in_table(t);
        }
    }

    fn in_table_body(&mut self, t: Token) {
        match t {
            Token::Start { tag: TR, attrs, .. } => {
                self.clear_to(&[TBODY, TFOOT, THEAD, TEMPLATE]);
                self.insert(TR, &attrs);
                self.mode = Mode::InRow;
            }
            Token::Start { tag: TH | TD, .. } => {
                self.clear_to(&[TBODY, TFOOT, THEAD, TEMPLATE]);
                self.insert(TR, &Attrs::default());
                self.mode = Mode::InRow;
                self.in_row(t);
            }
            Token::End(tag @ (TBODY | TFOOT | THEAD)) => {
                if self.in_scope(tag, Scope::Table) {
                    self.clear_to(&[TBODY, TFOOT, THEAD, TEMPLATE]);
                    self.open.pop();
                    self.mode = Mode::InTable;
                }
            }
            Token::Start {
                tag: CAPTION | COL | COLGROUP | TBODY | TFOOT | THEAD,
                ..
            }
            | Token::End(TABLE) => {
                // html5ever checks table, tbody and tfoot here (the standard: tbody, thead, tfoot).
                if self.in_scope_where(Scope::Table, |t| matches!(t, TABLE | TBODY | TFOOT)) {
                    self.clear_to(&[TBODY, TFOOT, THEAD, TEMPLATE]);
                    self.open.pop();
                    self.mode = Mode::InTable;
                    self.in_table(t);
                }
            }
            Token::End(BODY | CAPTION | COL | COLGROUP | HTML | TD | TH | TR) => {}
            _ => self.in_table(t),
        }
    }

    fn in_row(&mut self, t: Token) {
        match t {
            Token::Start {
                tag: tag @ (TH | TD),
                attrs,
                ..
            } => {
                self.clear_to(&[TR, TEMPLATE]);
                self.insert(tag, &attrs);
                self.mode = Mode::InCell;
                self.fmt.push(Fmt::Marker);
            }
            Token::End(TR) => {
                if self.in_scope(TR, Scope::Table) {
                    self.clear_to(&[TR, TEMPLATE]);
                    self.open.pop();
                    self.mode = Mode::InTableBody;
                }
            }
            Token::Start {
                tag: CAPTION | COL | COLGROUP | TBODY | TFOOT | THEAD | TR,
                ..
            }
            | Token::End(TABLE) => {
                if self.in_scope(TR, Scope::Table) {
                    self.clear_to(&[TR, TEMPLATE]);
                    self.open.pop();
                    self.mode = Mode::InTableBody;
                    self.in_table_body(t);
                }
            }
            Token::End(tag @ (TBODY | TFOOT | THEAD)) => {
                if self.in_scope(tag, Scope::Table) && self.in_scope(TR, Scope::Table) {
                    self.clear_to(&[TR, TEMPLATE]);
                    self.open.pop();
                    self.mode = Mode::InTableBody;
                    self.in_table_body(t);
                }
            }
            Token::End(BODY | CAPTION | COL | COLGROUP | HTML | TD | TH) => {}
            _ => self.in_table(t),
        }
    }

    fn close_cell(&mut self) {
        self.generate_implied_end(None);
        while let Some(n) = self.open.pop() {
            if self.is(n, TD) || self.is(n, TH) {
                break;
            }
        }
        self.clear_formatting_to_marker();
        self.mode = Mode::InRow;
    }

    fn in_cell(&mut self, t: Token) {
        match t {
            Token::End(tag @ (TD | TH)) => {
                if self.in_scope(tag, Scope::Table) {
                    self.generate_implied_end(None);
                    self.pop_until(tag);
                    self.clear_formatting_to_marker();
                    self.mode = Mode::InRow;
                }
            }
            Token::Start {
                tag: CAPTION | COL | COLGROUP | TBODY | TD | TFOOT | TH | THEAD | TR,
                ..
            } => {
                if self.in_scope_where(Scope::Table, |t| matches!(t, TD | TH)) {
                    self.close_cell();
                    self.in_row(t);
                }
            }
            Token::End(BODY | CAPTION | COL | COLGROUP | HTML) => {}
            Token::End(tag @ (TABLE | TBODY | TFOOT | THEAD | TR)) => {
                if self.in_scope(tag, Scope::Table) {
                    self.close_cell();
                    self.in_row(t);
                }
            }
            _ => self.in_body(t),
        }
    }

    // ---- after the body ----------------------------------------------------------------------

    fn after_body(&mut self, t: Token) {
        match t {
            Token::Text(span) if self.is_space(span) => self.in_body(t),
            Token::Comment => self.insert_comment(self.open.first().copied().unwrap_or(0)),
            Token::Doctype(_) | Token::Eof => {}
            Token::Start { tag: HTML, .. } => self.in_body(t),
            Token::End(HTML) => self.mode = Mode::AfterAfterBody,
            _ => {
                self.mode = Mode::InBody;
                self.in_body(t);
            }
        }
    }

    fn after_after_body(&mut self, t: Token) {
        match t {
            Token::Comment => self.insert_comment(0),
            Token::Doctype(_) | Token::Eof => {}
            Token::Text(span) if self.is_space(span) => self.in_body(t),
            Token::Start { tag: HTML, .. } => self.in_body(t),
            _ => {
                self.mode = Mode::InBody;
                self.in_body(t);
            }
        }
    }

    fn in_frameset(&mut self, mode: Mode, t: Token) {
        match t {
            Token::Text(span) => {
                // Only the whitespace of text is kept in a frameset.
                let (space, _) = self.split_space(span);
                self.insert_text(space);
            }
            Token::Comment => self.insert_comment(NONE),
            Token::Start { tag: HTML, .. } => self.in_body(t),
            Token::Start {
                tag: FRAMESET,
                attrs,
                ..
            } if mode == Mode::InFrameset => {
                self.insert(FRAMESET, &attrs);
            }
            Token::End(FRAMESET) if mode == Mode::InFrameset && self.open.len() > 1 => {
                self.open.pop();
                if !self.current_is(FRAMESET) {
                    self.mode = Mode::AfterFrameset;
                }
            }
            Token::Start {
                tag: FRAME, attrs, ..
            } if mode == Mode::InFrameset => self.insert_void(FRAME, &attrs),
            Token::Start {
                tag: NOFRAMES,
                attrs,
                ..
            } => {
                self.head_element(NOFRAMES, &attrs);
            }
            Token::End(HTML) if mode == Mode::AfterFrameset => self.mode = Mode::AfterAfterFrameset,
            _ => {}
        }
    }

    fn after_after_frameset(&mut self, t: Token) {
        match t {
            Token::Comment => self.insert_comment(0),
            Token::Text(span) if self.is_space(span) => self.in_body(t),
            Token::Start { tag: HTML, .. } => self.in_body(t),
            Token::Start {
                tag: NOFRAMES,
                attrs,
                ..
            } => {
                self.head_element(NOFRAMES, &attrs);
            }
            _ => {}
        }
    }
}
