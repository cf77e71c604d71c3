//! The page analysis behind extraction (steps 1–3 of `extractor.rs`): the tree pruned of
//! furniture, per-node text statistics, Readability-style scores and the chosen containers,
//! and the body cut into text blocks. `reading.rs` gives each block its verdict.

use super::dom::{Dom, Node};
use super::patterns::{is_block_tag, is_heading, is_presentational, is_skipped_tag};

/// Characters under which a chosen container is not trusted on its own.
pub(super) const MIN_MAIN_CHARS: usize = 250;

/// Text statistics of a subtree of the pruned tree.
#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    chars: u32,
    link_chars: u32,
    commas: u32,
}

impl Stats {
    fn link_density(&self) -> f32 {
        link_density(self.link_chars, self.chars)
    }
    fn prose(&self) -> u32 {
        self.chars - self.link_chars.min(self.chars)
    }
}

/// Share of characters inside links (0 for empty text).
fn link_density(link_chars: u32, chars: u32) -> f32 {
    if chars == 0 {
        0.0
    } else {
        link_chars as f32 / chars as f32
    }
}

fn is_paragraph_like(tag: &str) -> bool {
    matches!(tag, "p" | "pre" | "td" | "blockquote" | "dd")
}

/// Marks pruned nodes. With `use_classes`, class/id boilerplate is pruned too, except under
/// the nodes flagged in `keep`. Also returns which nodes are roots of class-based pruning.
fn prune(dom: &Dom, use_classes: bool, keep: &[bool]) -> (Vec<bool>, Vec<bool>) {
    let nodes = dom.nodes();
    let n = nodes.len();
    let mut pruned = vec![false; n];
    let mut class_root = vec![false; n];
    let mut kept = vec![false; n];
    for i in 0..n {
        let node = &nodes[i];
        if let Some(p) = node.parent() {
            if pruned[p] {
                pruned[i] = true;
                continue;
            }
            kept[i] = kept[p];
        }
        kept[i] |= keep[i];
        if node.is_text() {
            continue;
        }
        let protected =
            matches!(node.tag, "html" | "body" | "article" | "main") || node.attrs.article_body;
        if protected {
            continue;
        }
        let hard = is_skipped_tag(node.tag) || node.attrs.hidden || node.attrs.furniture_role;
        if hard {
            pruned[i] = true;
        } else if use_classes && !kept[i] && dom.class_weight(i) < 0 {
            pruned[i] = true;
            class_root[i] = true;
        }
    }
    (pruned, class_root)
}

fn compute_stats(dom: &Dom, pruned: &[bool], in_link: &[bool]) -> Vec<Stats> {
    let nodes = dom.nodes();
    let mut stats = vec![Stats::default(); nodes.len()];
    for i in (0..nodes.len()).rev() {
        if pruned[i] {
            continue;
        }
        let node = &nodes[i];
        if node.is_text() {
            let facts = dom.text_facts()[i];
            let len = facts.chars;
            stats[i].chars = len;
            stats[i].commas = facts.commas;
            if in_link[i] {
                stats[i].link_chars = len;
            }
        }
        if let Some(p) = node.parent() {
            let s = stats[i];
            let ps = &mut stats[p];
            ps.chars += s.chars;
            ps.link_chars += s.link_chars;
            ps.commas += s.commas;
        }
    }
    stats
}

pub(super) struct Page<'a> {
    pub(super) dom: &'a Dom<'a>,
    pub(super) nodes: &'a [Node],
    pub(super) pruned: Vec<bool>,
    stats: Vec<Stats>,
    /// Whether each node lies inside an `<a>`, at any depth: a card whose whole box is one
    /// link (`<a><div><h3>…</h3><p>…</p></div></a>`) is link text throughout.
    in_link: Vec<bool>,
    /// The most prose held by a pruned box that [`Page::restoring`] could bring back.
    restorable_prose: u32,
}

impl<'a> Page<'a> {
    pub(super) fn analyse(dom: &'a Dom<'a>) -> Page<'a> {
        Self::build(dom, true, u32::MAX)
    }

    /// With only the hard rules pruning (tags, `hidden`, ARIA roles), no class names.
    pub(super) fn analyse_without_classes(dom: &'a Dom<'a>) -> Page<'a> {
        Self::build(dom, false, u32::MAX)
    }

    /// The analysis again, also restoring the presentational boxes (class tokens such as
    /// `caption`) with few links that hold more than `prose` characters of prose; `None`
    /// when there is no such box (known from this analysis, so usually nothing is redone).
    pub(super) fn restoring(&self, dom: &'a Dom<'a>, prose: u32) -> Option<Page<'a>> {
        (self.restorable_prose > prose).then(|| Self::build(dom, true, prose))
    }

    /// The analysis, restoring presentational boxes with more prose than `restore_above`.
    fn build(dom: &'a Dom<'a>, use_classes: bool, restore_above: u32) -> Page<'a> {
        let nodes = dom.nodes();
        let n = nodes.len();
        let mut in_link = vec![false; n];
        for i in 0..n {
            in_link[i] = nodes[i]
                .parent()
                .is_some_and(|p| in_link[p] || nodes[p].tag == "a");
        }
        let none = vec![false; n];
        let (pruned, class_roots) = prune(dom, use_classes, &none);
        // Class-pruned subtrees holding most of the page's prose are content after all.
        let mut keep = vec![false; n];
        let mut restore = false;
        let mut restorable_prose = 0;
        if class_roots.iter().any(|&r| r) {
            let (hard_only, _) = prune(dom, false, &none);
            let hard_stats = compute_stats(dom, &hard_only, &in_link);
            let total = hard_stats.first().map_or(0, Stats::prose);
            for i in 0..n {
                if !class_roots[i] {
                    continue;
                }
                let st = hard_stats[i];
                let most = st.prose() * 2 > total;
                let presentational = st.link_density() < 0.25 && is_presentational(dom.class_id(i));
                if most || (presentational && st.prose() > restore_above) {
                    keep[i] = true;
                    restore = true;
                } else if presentational {
                    restorable_prose = restorable_prose.max(st.prose());
                }
            }
        }
        let pruned = if restore {
            prune(dom, true, &keep).0
        } else {
            pruned
        };
        let stats = compute_stats(dom, &pruned, &in_link);
        Page {
            dom,
            nodes,
            pruned,
            stats,
            in_link,
            restorable_prose,
        }
    }

    fn tag_bonus(&self, i: usize) -> f32 {
        let node = &self.nodes[i];
        let mut s = match node.tag {
            "article" => 10.0,
            "div" | "main" => 5.0,
            "pre" | "td" | "blockquote" => 3.0,
            "address" | "ol" | "ul" | "dl" | "dd" | "dt" | "li" | "form" => -3.0,
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "th" => -5.0,
            _ => 0.0,
        };
        s += 25.0 * self.dom.class_weight(i) as f32;
        if node.attrs.article_body {
            s += 30.0;
        }
        s
    }

    /// Readability-style container scores (0 for nodes that got no points).
    pub(super) fn scores(&self) -> Vec<f32> {
        let n = self.nodes.len();
        let mut score = vec![0.0f32; n];
        let mut touched = vec![false; n];
        for i in 0..n {
            let node = &self.nodes[i];
            if self.pruned[i] || node.is_text() || !is_paragraph_like(node.tag) {
                continue;
            }
            let st = self.stats[i];
            if st.chars < 25 {
                continue;
            }
            let points = 1.0 + st.commas as f32 + (st.chars as f32 / 100.0).min(3.0);
            let mut ancestor = node.parent();
            for level in 0..3 {
                let Some(a) = ancestor else { break };
                if !touched[a] {
                    touched[a] = true;
                    score[a] = self.tag_bonus(a);
                }
                score[a] += points / (level as f32 + 1.0);
                ancestor = self.nodes[a].parent();
            }
        }
        for i in 0..n {
            if touched[i] {
                score[i] *= 1.0 - self.stats[i].link_density();
            }
        }
        score
    }

    /// The chosen container and the siblings that join it, in document order.
    pub(super) fn select(&self) -> Option<Vec<usize>> {
        let score = self.scores();
        let (top, &best) = score
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.pruned[*i])
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))?;
        if best <= 0.0 {
            return None;
        }
        let Some(parent) = self.nodes[top].parent() else {
            return Some(vec![top]);
        };
        let threshold = (best * 0.2).max(10.0);
        let mut chosen = Vec::new();
        for sib in self.dom.children(parent) {
            if self.pruned[sib] || self.nodes[sib].is_text() {
                continue;
            }
            let st = self.stats[sib];
            let join = sib == top
                || score[sib] >= threshold
                || (self.nodes[sib].tag == "p" && st.chars > 80 && st.link_density() < 0.25);
            if join {
                chosen.push(sib);
            }
        }
        let prose: u32 = chosen.iter().map(|&c| self.stats[c].prose()).sum();
        // Twins extend a container that is trusted on its own, never make one.
        if prose as usize >= MIN_MAIN_CHARS {
            // After the siblings: the first container stays the one the scope is taken from.
            let twins = self.twins_of(top, &chosen);
            chosen.extend(twins);
        }
        Some(chosen)
    }

    /// Elements elsewhere on the page with the same tag and class as the container `top`:
    /// an article split into sections that each sit in their own wrapper (a review's
    /// "summary", "hardware" and "verdict" boxes), where only one of them scored best.
    fn twins_of(&self, top: usize, chosen: &[usize]) -> Vec<usize> {
        let signature = &self.nodes[top];
        if signature.class == 0 {
            return Vec::new();
        }
        let covered = self.descendants_of(chosen);
        (0..self.nodes.len())
            .filter(|&j| {
                let node = &self.nodes[j];
                let st = self.stats[j];
                !covered[j]
                    && !self.pruned[j]
                    && node.tag == signature.tag
                    && node.class == signature.class
                    && st.prose() >= 25
                    && st.link_density() < 0.5
                    && !chosen.iter().any(|&c| self.is_ancestor_of(j, c))
            })
            .filter(|&j| {
                // Only the outermost twin: nested ones are inside it already.
                let mut at = self.nodes[j].parent();
                while let Some(a) = at {
                    if self.nodes[a].tag == signature.tag && self.nodes[a].class == signature.class
                    {
                        return false;
                    }
                    at = self.nodes[a].parent();
                }
                true
            })
            .collect()
    }

    /// Whether `a` is a proper ancestor of `x`.
    fn is_ancestor_of(&self, a: usize, x: usize) -> bool {
        let mut at = self.nodes[x].parent();
        while let Some(p) = at {
            if p == a {
                return true;
            }
            at = self.nodes[p].parent();
        }
        false
    }

    /// The `body` element (the root when there is none).
    pub(super) fn body(&self) -> usize {
        self.nodes.iter().position(|n| n.tag == "body").unwrap_or(0)
    }

    /// Text blocks of the unpruned body, in document order.
    pub(super) fn body_blocks(&self) -> Vec<Block> {
        if self.nodes.is_empty() {
            return Vec::new();
        }
        let mut out = BlockBuilder::default();
        self.walk(self.body(), &mut out, false);
        out.flush();
        out.blocks
    }

    /// The ancestor `levels` above `i` (stopping at the root).
    pub(super) fn ancestor(&self, mut i: usize, levels: usize) -> usize {
        for _ in 0..levels {
            match self.nodes[i].parent() {
                Some(p) => i = p,
                None => break,
            }
        }
        i
    }

    /// Which nodes are `roots` or lie under one of them.
    pub(super) fn descendants_of(&self, roots: &[usize]) -> Vec<bool> {
        let mut under = vec![false; self.nodes.len()];
        for &r in roots {
            under[r] = true;
        }
        // Parents come before their children, so one forward pass suffices.
        for i in 0..self.nodes.len() {
            if let Some(p) = self.nodes[i].parent() {
                under[i] |= under[p];
            }
        }
        under
    }

    /// Every text block under `root`, pruned subtrees included (for `--explain`).
    pub(super) fn all_blocks(&self, root: usize) -> Vec<Block> {
        let mut out = BlockBuilder::default();
        self.walk(root, &mut out, true);
        out.flush();
        out.blocks
    }

    fn walk(&self, root: usize, out: &mut BlockBuilder, with_pruned: bool) {
        // Iterative pre-order walk with explicit exits, so deep pages cannot overflow the stack.
        let mut stack: Vec<(usize, bool)> = vec![(root, false)];
        while let Some((i, exiting)) = stack.pop() {
            let node = &self.nodes[i];
            if exiting {
                if is_block_tag(node.tag) || node.tag == "td" || node.tag == "th" {
                    out.end_block(node.tag);
                }
                continue;
            }
            if self.pruned[i] && !with_pruned {
                continue;
            }
            if node.is_text() {
                out.push_text(self.dom.text(i), self.in_link[i], i);
                continue;
            }
            match node.tag {
                "br" => out.line_break(),
                "td" | "th" => out.cell(),
                t if is_block_tag(t) => out.start_block(t),
                _ => {}
            }
            stack.push((i, true));
            for c in self.dom.children(i).rev() {
                stack.push((c, false));
            }
        }
    }
}

/// One block of text with what the filters need to know about it.
#[derive(Debug, Clone)]
pub(super) struct Block {
    pub(super) text: String,
    pub(super) chars: u32,
    link_chars: u32,
    pub(super) heading: bool,
    /// The text node the block starts with.
    pub(super) first_node: usize,
}

impl Block {
    pub(super) fn link_density(&self) -> f32 {
        link_density(self.link_chars, self.chars)
    }
}

#[derive(Default)]
struct BlockBuilder {
    blocks: Vec<Block>,
    text: String,
    chars: u32,
    link_chars: u32,
    heading: bool,
    cells_in_row: u32,
    pending_space: bool,
    first_node: Option<usize>,
}

impl BlockBuilder {
    fn push_text(&mut self, s: &str, in_link: bool, node: usize) {
        if self.first_node.is_none() && !s.trim().is_empty() {
            self.first_node = Some(node);
        }
        let starts_with_space = s.starts_with(char::is_whitespace);
        let mut first = true;
        for word in s.split_whitespace() {
            if (!first || starts_with_space || self.pending_space)
                && !self.text.is_empty()
                && !self.text.ends_with(['\n', ' '])
            {
                self.text.push(' ');
            }
            first = false;
            self.pending_space = false;
            self.text.push_str(word);
            let len = word.chars().count() as u32 + 1;
            self.chars += len;
            if in_link {
                self.link_chars += len;
            }
        }
        if s.ends_with(char::is_whitespace) {
            self.pending_space = true;
        }
    }

    fn line_break(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.text.push('\n');
        }
    }

    fn cell(&mut self) {
        if self.cells_in_row > 0 && !self.text.is_empty() {
            self.text.push_str(" | ");
        }
        self.cells_in_row += 1;
    }

    fn start_block(&mut self, tag: &str) {
        self.flush();
        self.heading = is_heading(tag);
        if tag == "tr" {
            self.cells_in_row = 0;
        }
    }

    fn end_block(&mut self, tag: &str) {
        if tag == "td" || tag == "th" {
            return;
        }
        self.flush();
    }

    fn flush(&mut self) {
        let text = self.text.trim();
        if !text.is_empty() {
            self.blocks.push(Block {
                text: text.to_string(),
                chars: self.chars,
                link_chars: self.link_chars,
                heading: self.heading,
                first_node: self.first_node.unwrap_or(0),
            });
        }
        self.first_node = None;
        self.text.clear();
        self.chars = 0;
        self.link_chars = 0;
        self.heading = false;
        self.pending_space = false;
    }
}
