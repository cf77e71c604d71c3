//! `sieve extract --explain`: why each block of a page was kept or dropped.
//!
//! It runs the extractor's own phases ([`extractor`]) and reports, for every text block of the
//! page in document order (pruned subtrees included), the rule that decided it: pruned before
//! scoring (and by which tag, attribute or class), outside the chosen container, dropped by
//! the container's block filter, or classified by the whole-page fallback pass. The verdicts
//! are the extractor's: the kept blocks are exactly the extracted text.

use std::fmt::Write;

use super::dom::Dom;
use super::extractor::read_page;
use super::page::MIN_MAIN_CHARS;
use super::page::{Block, Page};
use super::patterns::{is_boilerplate_role, is_skipped_tag};

/// One block and what happened to it.
#[derive(Debug, Clone)]
pub struct BlockVerdict {
    pub text: String,
    pub chars: u32,
    pub link_density: f32,
    pub kept: bool,
    pub rule: String,
}

/// The explanation of one page.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// `main` (a chosen container) or `fallback` (the whole-page pass).
    pub method: &'static str,
    /// The chosen container and the siblings that joined it, described.
    pub containers: Vec<String>,
    pub blocks: Vec<BlockVerdict>,
}

/// `<div class="post body">`-style description of an element.
fn describe(dom: &Dom, i: usize) -> String {
    let (tag, class_id) = (dom.nodes()[i].tag, dom.class_id(i));
    if class_id.is_empty() {
        format!("<{tag}>")
    } else {
        format!("<{tag} {class_id:?}>")
    }
}

/// Why `i`, the root of a pruned subtree, was pruned.
fn prune_rule(dom: &Dom, i: usize) -> String {
    let node = &dom.nodes()[i];
    if is_skipped_tag(node.tag) {
        format!("pruned: {} is never main text", describe(dom, i))
    } else if node.attrs.hidden {
        format!("pruned: {} is hidden", describe(dom, i))
    } else if let Some(role) = dom.role(i).filter(|r| is_boilerplate_role(r)) {
        format!("pruned: {} has role={role}", describe(dom, i))
    } else {
        format!(
            "pruned: class/id of {} reads as boilerplate",
            describe(dom, i)
        )
    }
}

/// The outermost pruned ancestor-or-self of node `i`, if any.
fn pruned_root(page: &Page, i: usize) -> Option<usize> {
    let mut root = None;
    let mut at = Some(i);
    while let Some(n) = at {
        if page.pruned[n] {
            root = Some(n);
        }
        at = page.nodes[n].parent();
    }
    root
}

/// Explains the extraction of a parsed page.
pub fn explain<'a>(dom: &'a Dom<'a>) -> Explanation {
    let (page, reading) = read_page(dom);
    let all: Vec<Block> = if dom.nodes().is_empty() {
        Vec::new()
    } else {
        page.all_blocks(page.body())
    };
    let scores = page.scores();
    let containers = reading
        .containers
        .iter()
        .map(|&i| format!("{} score {:.1}", describe(dom, i), scores[i]))
        .collect();
    // The reading's blocks with their verdicts, and the pruned blocks it never saw, merged
    // in document order: the kept blocks are exactly the reading's.
    let describe_block = |b: &Block, kept: bool, rule: String| BlockVerdict {
        text: b.text.clone(),
        chars: b.chars,
        link_density: b.link_density(),
        kept,
        rule,
    };
    let mut ordered: Vec<(usize, BlockVerdict)> = reading
        .blocks
        .iter()
        .zip(&reading.verdicts)
        .map(|(b, &(kept, rule))| (b.first_node, describe_block(b, kept, rule.describe())))
        .collect();
    for b in &all {
        if let Some(root) = pruned_root(&page, b.first_node) {
            let rule = prune_rule(dom, root);
            ordered.push((b.first_node, describe_block(b, false, rule)));
        }
    }
    ordered.sort_by_key(|(first_node, _)| *first_node);
    let blocks = ordered.into_iter().map(|(_, v)| v).collect();
    Explanation {
        method: reading.method,
        containers,
        blocks,
    }
}

/// The explanation as the text `--explain` prints: the method and containers, then one line
/// per block (verdict, size, link density, rule, start of the text).
pub fn render(e: &Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "method: {} ({})",
        e.method,
        if e.method == "main" {
            "the chosen container's blocks".to_string()
        } else {
            format!("the container gave under {MIN_MAIN_CHARS} characters; whole-page pass")
        }
    );
    for c in &e.containers {
        let _ = writeln!(out, "container: {c}");
    }
    for b in &e.blocks {
        let start: String = b.text.chars().take(70).collect();
        let start = start.replace('\n', " ");
        let _ = writeln!(
            out,
            "{} {:>6} chars  links {:.2}  {:<48}  {start}",
            if b.kept { "KEEP" } else { "DROP" },
            b.chars,
            b.link_density,
            b.rule
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::extract::extractor::extract;

    #[test]
    fn every_block_has_the_extractors_verdict() {
        let para = "The committee met on Tuesday, and after a long discussion it agreed to fund \
                    the repairs, which had been postponed twice. Residents welcomed the news.";
        let html = format!(
            "<html><body><nav><a href=/>Home</a> <a href=/a>About</a></nav>\
             <div class=sidebar><p>Subscribe to our newsletter for weekly updates now</p></div>\
             <article><h1>Repairs funded</h1><p>{para}</p><p>{para}</p>\
             <p><a href=/x>Share this</a></p></article>\
             <footer><p>Copyright 2024, all rights reserved by the publisher</p></footer>\
             </body></html>"
        );
        let dom = Dom::parse(&html, 512, 1_000_000).unwrap();
        let e = explain(&dom);
        assert_eq!(e.method, "main");
        let kept: Vec<&str> = e
            .blocks
            .iter()
            .filter(|b| b.kept)
            .map(|b| b.text.as_str())
            .collect();
        // The kept blocks are exactly the extracted text.
        assert_eq!(kept.join("\n\n"), extract(&dom).text);
        let rule_of = |start: &str| {
            e.blocks
                .iter()
                .find(|b| b.text.starts_with(start))
                .unwrap()
                .rule
                .clone()
        };
        assert!(rule_of("Home").contains("<nav>"), "{}", rule_of("Home"));
        assert!(
            rule_of("Subscribe").contains("sidebar"),
            "{}",
            rule_of("Subscribe")
        );
        assert!(rule_of("Copyright").contains("<footer>"));
        assert!(
            rule_of("Share this").contains("link list")
                || rule_of("Share this").contains("boilerplate")
        );
        assert_eq!(rule_of("The committee"), "in the chosen container");
        assert!(render(&e).contains("container: <article>"));
    }
}
