//! `sieve extract --explain`: why each block of a page was kept or dropped.
//!
//! It runs the extractor's own phases ([`extractor`]) and reports, for every text block of the
//! page in document order (pruned subtrees included), the rule that decided it: pruned before
//! scoring (and by which tag, attribute or class), outside the chosen container, dropped by
//! the container's block filter, or classified by the whole-page fallback pass. The verdicts
//! are the extractor's: the kept blocks are exactly the extracted text.

use std::fmt::Write;

use super::dom::{Dom, Node};
use super::extractor::{
    extract, fallback_verdicts, main_block_drop, Block, Class, Page, MIN_MAIN_CHARS,
};
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
fn describe(node: &Node) -> String {
    if node.text.is_empty() {
        format!("<{}>", node.tag)
    } else {
        format!("<{} {:?}>", node.tag, node.text)
    }
}

/// Why `i`, the root of a pruned subtree, was pruned.
fn prune_rule(node: &Node) -> String {
    if is_skipped_tag(node.tag) {
        format!("pruned: {} is never main text", describe(node))
    } else if node.attrs.hidden {
        format!("pruned: {} is hidden", describe(node))
    } else if let Some(role) = node
        .attrs
        .role
        .as_deref()
        .filter(|r| is_boilerplate_role(r))
    {
        format!("pruned: {} has role={role}", describe(node))
    } else {
        format!(
            "pruned: class/id of {} reads as boilerplate",
            describe(node)
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
        at = page.nodes[n].parent;
    }
    root
}

fn under_any(page: &Page, i: usize, roots: &[usize]) -> bool {
    let mut at = Some(i);
    while let Some(n) = at {
        if roots.contains(&n) {
            return true;
        }
        at = page.nodes[n].parent;
    }
    false
}

/// Explains the extraction of a parsed page.
pub fn explain(dom: &Dom) -> Explanation {
    let method = extract(dom).method;
    let page = Page::analyse(dom);
    let body = dom.nodes.iter().position(|n| n.tag == "body").unwrap_or(0);
    let all: Vec<Block> = if dom.nodes.is_empty() {
        Vec::new()
    } else {
        page.all_blocks(body)
    };
    let scores = page.scores();
    let selection = page.select().unwrap_or_default();
    let containers = selection
        .iter()
        .map(|&i| format!("{} score {:.1}", describe(&page.nodes[i]), scores[i]))
        .collect();
    // The fallback pass classifies the unpruned blocks in order, as the extractor does.
    let unpruned: Vec<Block> = all
        .iter()
        .filter(|b| pruned_root(&page, b.first_node).is_none())
        .cloned()
        .collect();
    let fallback = fallback_verdicts(&unpruned);
    let mut next_unpruned = 0;
    let blocks = all
        .iter()
        .map(|b| {
            let (kept, rule) = if let Some(root) = pruned_root(&page, b.first_node) {
                (false, prune_rule(&page.nodes[root]))
            } else {
                let (class, fallback_kept) = fallback[next_unpruned];
                next_unpruned += 1;
                if method == "fallback" {
                    let rule = match (class, fallback_kept) {
                        (Class::Good, _) => "fallback: long, few links".to_string(),
                        (Class::Bad, _) => "fallback: link-heavy or furniture".to_string(),
                        (Class::Short, true) => "fallback: short, between kept blocks".into(),
                        (Class::Short, false) => "fallback: short, not between kept blocks".into(),
                    };
                    (fallback_kept, rule)
                } else if !under_any(&page, b.first_node, &selection) {
                    (false, "outside the chosen container".to_string())
                } else if let Some(why) = main_block_drop(b) {
                    (false, why.to_string())
                } else {
                    (true, "in the chosen container".to_string())
                }
            };
            BlockVerdict {
                text: b.text.clone(),
                chars: b.chars,
                link_density: b.link_density(),
                kept,
                rule,
            }
        })
        .collect();
    Explanation {
        method,
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
