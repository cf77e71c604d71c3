//! The node arena the tree builder writes into, which is also the extractor's flat DOM.
//!
//! Nodes are numbered as they are created. Almost always that is document order already
//! (every insertion goes after the last node of the page so far), and the arena is the DOM as
//! it stands. The few rules that insert elsewhere (foster parenting out of a table, the
//! adoption agency repairing misnested formatting, `<meta>` put back into `<head>`) mark the
//! tree unordered, and one pass renumbers it in document order at the end.

use super::tags::Tag;
use super::tokenizer::Span;
use crate::stages::extract::dom::{Node, NodeAttrs, NONE};

/// The arena and its text buffer, reused from page to page.
#[derive(Default)]
pub struct Tree {
    pub nodes: Vec<Node>,
    /// Text that is not a plain span of the page: decoded references, merged runs.
    pub buf: String,
    /// Whether creation order is still document order.
    pub ordered: bool,
    /// The last node in document order while `ordered`.
    last: u32,
    /// Scratch for renumbering.
    order: Vec<u32>,
    remap: Vec<u32>,
}

impl Tree {
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.buf.clear();
        self.ordered = true;
        self.last = 0;
    }

    pub fn push(&mut self, node: Node) -> u32 {
        self.nodes.push(node);
        (self.nodes.len() - 1) as u32
    }

    pub fn new_node(tag: &'static str, name: Tag, text: Span) -> Node {
        Node {
            parent: NONE,
            first_child: NONE,
            last_child: NONE,
            next_sibling: NONE,
            prev_sibling: NONE,
            tag,
            depth: 0,
            text,
            class: 0,
            attrs: NodeAttrs::default(),
            name,
            ns: 0,
        }
    }

    /// Whether `a` is `x` or one of its ancestors.
    fn contains(&self, a: u32, mut x: u32) -> bool {
        while x != NONE {
            if x == a {
                return true;
            }
            x = self.nodes[x as usize].parent;
        }
        false
    }

    /// Appends `child` (detached) as the last child of `parent`.
    pub fn append(&mut self, parent: u32, child: u32) {
        if self.ordered {
            if self.contains(parent, self.last) && child as usize == self.nodes.len() - 1 {
                self.last = child;
            } else {
                self.ordered = false;
            }
        }
        let last = self.nodes[parent as usize].last_child;
        let depth = self.nodes[parent as usize].depth + 1;
        {
            let c = &mut self.nodes[child as usize];
            c.depth = depth;
            c.parent = parent;
            c.prev_sibling = last;
            c.next_sibling = NONE;
        }
        if last == NONE {
            self.nodes[parent as usize].first_child = child;
        } else {
            self.nodes[last as usize].next_sibling = child;
        }
        self.nodes[parent as usize].last_child = child;
    }

    /// Inserts `child` (detached) into `parent` just before its child `before`.
    pub fn insert_before(&mut self, parent: u32, child: u32, before: u32) {
        self.ordered = false;
        let prev = self.nodes[before as usize].prev_sibling;
        let depth = self.nodes[parent as usize].depth + 1;
        {
            let c = &mut self.nodes[child as usize];
            c.depth = depth;
            c.parent = parent;
            c.prev_sibling = prev;
            c.next_sibling = before;
        }
        self.nodes[before as usize].prev_sibling = child;
        if prev == NONE {
            self.nodes[parent as usize].first_child = child;
        } else {
            self.nodes[prev as usize].next_sibling = child;
        }
    }

    /// Takes `node` out of its parent.
    pub fn detach(&mut self, node: u32) {
        let n = &self.nodes[node as usize];
        let (parent, prev, next) = (n.parent, n.prev_sibling, n.next_sibling);
        if parent == NONE {
            return;
        }
        self.ordered = false;
        if prev == NONE {
            self.nodes[parent as usize].first_child = next;
        } else {
            self.nodes[prev as usize].next_sibling = next;
        }
        if next == NONE {
            self.nodes[parent as usize].last_child = prev;
        } else {
            self.nodes[next as usize].prev_sibling = prev;
        }
        let n = &mut self.nodes[node as usize];
        n.parent = NONE;
        n.prev_sibling = NONE;
        n.next_sibling = NONE;
    }

    /// Moves every child of `from` to the end of `to`.
    pub fn move_children(&mut self, from: u32, to: u32) {
        let mut c = self.nodes[from as usize].first_child;
        while c != NONE {
            let next = self.nodes[c as usize].next_sibling;
            self.detach(c);
            self.append(to, c);
            c = next;
        }
    }

    /// Adds text where a node would be inserted (`before` or at the end of `parent`), joined
    /// to the text node just before that place if there is one, as the standard does.
    /// Returns the new text node, if one was made.
    pub fn add_text(&mut self, page: &str, parent: u32, before: u32, text: Span) -> Option<u32> {
        let prev = if before == NONE {
            self.nodes[parent as usize].last_child
        } else {
            self.nodes[before as usize].prev_sibling
        };
        if prev != NONE && self.nodes[prev as usize].is_text() {
            let joined = self.join(page, self.nodes[prev as usize].text, text);
            self.nodes[prev as usize].text = joined;
            return None;
        }
        let node = self.push(Self::new_node("", Tag(u32::MAX), text));
        if before == NONE {
            self.append(parent, node);
        } else {
            self.insert_before(parent, node, before);
        }
        Some(node)
    }

    /// `a` followed by `b`: one span of the page when they touch there, else a copy.
    fn join(&mut self, page: &str, a: Span, b: Span) -> Span {
        match (a, b) {
            (Span::Page(s, e), Span::Page(s2, e2)) if e == s2 => return Span::Page(s, e2),
            (Span::Buf(s, e), Span::Buf(s2, e2)) if e == s2 => return Span::Buf(s, e2),
            _ => {}
        }
        let start = match a {
            Span::Buf(s, e) if e as usize == self.buf.len() => s as usize,
            _ => {
                let start = self.buf.len();
                let text = a.get(page, &self.buf).to_string();
                self.buf.push_str(&text);
                start
            }
        };
        let text = b.get(page, &self.buf).to_string();
        self.buf.push_str(&text);
        Span::Buf(start as u32, self.buf.len() as u32)
    }

    /// Renumbers the nodes reachable from the document in document order when insertions
    /// went elsewhere than the end, and sets every depth. Returns the largest depth.
    pub fn finish(&mut self) -> u32 {
        if !self.ordered {
            self.renumber();
        }
        let mut deepest = 0;
        for i in 1..self.nodes.len() {
            let p = self.nodes[i].parent;
            let d = self.nodes[p as usize].depth + 1;
            self.nodes[i].depth = d;
            deepest = deepest.max(d);
        }
        deepest
    }

    fn renumber(&mut self) {
        let n = self.nodes.len();
        self.order.clear();
        self.remap.clear();
        self.remap.resize(n, NONE);
        // Pre-order walk from the document (node 0) along the sibling links.
        let mut at = 0u32;
        'walk: loop {
            self.remap[at as usize] = self.order.len() as u32;
            self.order.push(at);
            let first = self.nodes[at as usize].first_child;
            if first != NONE {
                at = first;
                continue;
            }
            loop {
                if at == 0 {
                    break 'walk;
                }
                let next = self.nodes[at as usize].next_sibling;
                if next != NONE {
                    at = next;
                    continue 'walk;
                }
                at = self.nodes[at as usize].parent;
            }
        }
        let remap = |x: u32, remap: &[u32]| if x == NONE { NONE } else { remap[x as usize] };
        let mut sorted = Vec::with_capacity(self.order.len());
        for &old in &self.order {
            let mut node = self.nodes[old as usize].clone();
            node.parent = remap(node.parent, &self.remap);
            node.first_child = remap(node.first_child, &self.remap);
            node.last_child = remap(node.last_child, &self.remap);
            node.next_sibling = remap(node.next_sibling, &self.remap);
            node.prev_sibling = remap(node.prev_sibling, &self.remap);
            sorted.push(node);
        }
        self.nodes = sorted;
        self.ordered = true;
    }
}
