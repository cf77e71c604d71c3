//! One reading of a page: a verdict for every text block of the body, and the rule behind it.
//!
//! The verdicts are decided in one place, so that the extracted text (the kept blocks) and
//! `--explain` (every block with its rule) cannot disagree:
//!
//! 1. Blocks under the chosen containers are kept unless they are link lists or furniture.
//! 2. Blocks next to the containers are kept when they continue the article: long prose
//!    reached from a kept block without crossing a link-heavy or furniture block, the short
//!    blocks between such prose, and a heading just above kept text. Articles are often split
//!    over several containers (a headline above the body, sections as separate wrappers, a
//!    "page 2" box), and a single best-scoring container misses them.
//! 3. When the containers give under [`MIN_MAIN_CHARS`], a jusText-style pass classifies the
//!    whole body instead.

use super::page::{Block, Page, MIN_MAIN_CHARS};
use super::patterns::is_boilerplate_phrase;

/// Blocks at least this long (characters) are prose.
const PROSE_CHARS: u32 = 70;

/// Outside a container, blocks with a larger share of link text are navigation.
const OUTSIDE_LINK_DENSITY: f32 = 0.3;

/// Continuations are looked for under the first container's ancestor this many levels up:
/// far enough for a headline above the body's wrapper or a second page of sections, near
/// enough to leave out teaser lists and site footers that follow the article.
const SCOPE_LEVELS: usize = 3;

/// A heading joins the text below it across at most this many short blocks (byline, date).
const HEADING_REACH: usize = 3;

/// A block's class by its own content, as the whole-page pass and the extension see it.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(super) enum Class {
    /// Long and few links.
    Good,
    Short,
    /// Link-heavy or a furniture phrase.
    Bad,
}

fn class_of(b: &Block) -> Class {
    if is_boilerplate_phrase(&b.text) || b.link_density() > OUTSIDE_LINK_DENSITY {
        Class::Bad
    } else if b.chars >= PROSE_CHARS {
        Class::Good
    } else {
        Class::Short
    }
}

/// The rule that decided a block.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(super) enum Rule {
    InContainer,
    /// Under a container but dropped, for the reason given.
    DroppedInContainer(&'static str),
    /// Outside the containers and not continuing them (the block's class says why).
    OutsideContainer(Class),
    /// Too far from the containers in the tree to continue them.
    OutsideScope,
    /// Outside the containers, kept as a continuation of the article.
    ContinuesContainer(&'static str),
    /// Decided by the whole-page pass.
    Fallback(Class, bool),
    /// A short block of a page that has no long one.
    ShortPage,
}

impl Rule {
    pub(super) fn describe(self) -> String {
        match self {
            Rule::InContainer => "in the chosen container".into(),
            Rule::DroppedInContainer(why) => why.into(),
            Rule::OutsideContainer(Class::Good) => {
                "outside the container: link-heavy or furniture blocks between".into()
            }
            Rule::OutsideContainer(Class::Short) => {
                "outside the container: short, not next to kept text".into()
            }
            Rule::OutsideContainer(Class::Bad) => {
                "outside the container: link-heavy or furniture".into()
            }
            Rule::OutsideScope => "outside the container's neighbourhood".into(),
            Rule::ContinuesContainer(why) => format!("next to the container: {why}"),
            Rule::Fallback(Class::Good, _) => "fallback: long, few links".into(),
            Rule::Fallback(Class::Bad, _) => "fallback: link-heavy or furniture".into(),
            Rule::Fallback(Class::Short, true) => "fallback: short, between kept blocks".into(),
            Rule::Fallback(Class::Short, false) => {
                "fallback: short, not between kept blocks".into()
            }
            Rule::ShortPage => "fallback: short, on a page without long blocks".into(),
        }
    }
}

/// The blocks of the page's body with a verdict each.
pub(super) struct Reading {
    /// `main` when containers were chosen, `fallback` for the whole-page pass.
    pub(super) method: &'static str,
    /// The chosen containers (empty for the fallback).
    pub(super) containers: Vec<usize>,
    pub(super) blocks: Vec<Block>,
    pub(super) verdicts: Vec<(bool, Rule)>,
}

impl Reading {
    pub(super) fn text(&self) -> String {
        let kept: Vec<&str> = kept_texts(&self.blocks, &self.verdicts).collect();
        kept.join("\n\n")
    }

    /// `text().chars().count()`, without building the text.
    pub(super) fn text_chars(&self) -> usize {
        joined_size(&self.blocks, &self.verdicts, |t| t.chars().count())
    }
}

/// The texts of the kept blocks, in order.
fn kept_texts<'b>(
    blocks: &'b [Block],
    verdicts: &'b [(bool, Rule)],
) -> impl Iterator<Item = &'b str> + 'b {
    blocks
        .iter()
        .zip(verdicts)
        .filter(|(_, (kept, _))| *kept)
        .map(|(b, _)| b.text.as_str())
}

/// The size of the kept blocks joined by blank lines (each separator is two characters and
/// two bytes), measured by `size`.
fn joined_size(blocks: &[Block], verdicts: &[(bool, Rule)], size: fn(&str) -> usize) -> usize {
    let (mut total, mut kept) = (0, 0usize);
    for t in kept_texts(blocks, verdicts) {
        total += size(t);
        kept += 1;
    }
    total + 2 * kept.saturating_sub(1)
}

/// Inside a container, a block is a link list ("Next", "Related: …", a row of tags) when
/// links make more than this share of it and it is shorter than [`LINK_LIST_CHARS`]; longer
/// link-rich blocks there are sentences with citations or the article's own lists.
const LINK_LIST_DENSITY: f32 = 0.8;
const LINK_LIST_CHARS: u32 = 100;

/// Why a block of a chosen container is dropped, or `None` when it is kept: furniture
/// phrases and short link lists.
pub(super) fn main_block_drop(b: &Block) -> Option<&'static str> {
    if is_boilerplate_phrase(&b.text) {
        Some("boilerplate phrase")
    } else if b.link_density() > LINK_LIST_DENSITY && b.chars < LINK_LIST_CHARS {
        Some("link list (link density > 0.8, under 100 chars)")
    } else {
        None
    }
}

/// Reads a page: its containers and their continuations, or the whole-page pass when they
/// give too little.
pub(super) fn read(page: &Page) -> Reading {
    let blocks = page.body_blocks();
    let mut main = page.select().map(|containers| {
        let verdicts = container_verdicts(page, &containers, &blocks);
        (containers, verdicts)
    });
    let kept_chars = |verdicts: &[(bool, Rule)]| -> usize {
        kept_texts(&blocks, verdicts)
            .map(|t| t.chars().count())
            .sum()
    };
    if let Some((containers, verdicts)) = main.take_if(|(_, v)| kept_chars(v) >= MIN_MAIN_CHARS) {
        return Reading::main(containers, blocks, verdicts);
    }
    let fallback = fallback_reading_verdicts(&blocks);
    let fallback_bytes = joined_size(&blocks, &fallback, str::len);
    if let Some((containers, verdicts)) =
        main.take_if(|(_, v)| joined_size(&blocks, v, str::len) >= fallback_bytes)
    {
        return Reading::main(containers, blocks, verdicts);
    }
    Reading {
        method: "fallback",
        containers: Vec::new(),
        verdicts: fallback,
        blocks,
    }
}

impl Reading {
    fn main(containers: Vec<usize>, blocks: Vec<Block>, verdicts: Vec<(bool, Rule)>) -> Reading {
        Reading {
            method: "main",
            containers,
            blocks,
            verdicts,
        }
    }
}

/// The whole-page pass's verdicts; on a page without a single long block (a stub, a form, a
/// photo with a title) the short blocks are all the text it has, and are kept (navigation
/// still goes).
fn fallback_reading_verdicts(blocks: &[Block]) -> Vec<(bool, Rule)> {
    let mut verdicts: Vec<(bool, Rule)> = fallback_verdicts(blocks)
        .into_iter()
        .map(|(class, kept)| (kept, Rule::Fallback(class, kept)))
        .collect();
    if !verdicts.iter().any(|v| v.0) {
        for v in &mut verdicts {
            if v.1 == Rule::Fallback(Class::Short, false) {
                *v = (true, Rule::ShortPage);
            }
        }
    }
    verdicts
}

/// Verdicts for a page with chosen containers: their own blocks, then the continuations.
fn container_verdicts(page: &Page, containers: &[usize], blocks: &[Block]) -> Vec<(bool, Rule)> {
    let inside = page.descendants_of(containers);
    let scope = page.descendants_of(&[page.ancestor(containers[0], SCOPE_LEVELS)]);
    let mut verdicts: Vec<(bool, Rule)> = blocks
        .iter()
        .map(|b| {
            if !inside[b.first_node] {
                if scope[b.first_node] {
                    (false, Rule::OutsideContainer(class_of(b)))
                } else {
                    (false, Rule::OutsideScope)
                }
            } else if let Some(why) = main_block_drop(b) {
                (false, Rule::DroppedInContainer(why))
            } else {
                (true, Rule::InContainer)
            }
        })
        .collect();
    extend(blocks, &mut verdicts);
    verdicts
}

/// Keeps the blocks outside the containers that continue the article (rule 2 above).
fn extend(blocks: &[Block], verdicts: &mut [(bool, Rule)]) {
    let outside = |v: &(bool, Rule)| matches!(v.1, Rule::OutsideContainer(_));
    let classes: Vec<Class> = blocks.iter().map(class_of).collect();
    // Long prose reachable from kept text without crossing navigation or furniture, in
    // either direction. Blocks dropped inside a container neither open nor close a run.
    let mut reached = vec![false; blocks.len()];
    for order in [
        (0..blocks.len()).collect::<Vec<_>>(),
        (0..blocks.len()).rev().collect(),
    ] {
        let mut open = false;
        for i in order {
            if !outside(&verdicts[i]) {
                open |= verdicts[i].0;
                continue;
            }
            match classes[i] {
                Class::Bad => open = false,
                Class::Good => reached[i] |= open,
                Class::Short => {}
            }
        }
    }
    for i in 0..blocks.len() {
        if outside(&verdicts[i]) && reached[i] {
            verdicts[i] = (
                true,
                Rule::ContinuesContainer("long prose, no links between"),
            );
        }
    }
    // Short blocks between kept text on both sides, and headings just above kept text.
    let nearest_kept = |i: usize, step: isize| -> Option<usize> {
        let mut j = i as isize + step;
        while j >= 0 && (j as usize) < blocks.len() {
            let k = j as usize;
            if verdicts[k].0 {
                return Some(k);
            }
            if classes[k] != Class::Short || !outside(&verdicts[k]) {
                return None;
            }
            j += step;
        }
        None
    };
    let mut joins = Vec::new();
    for i in 0..blocks.len() {
        if !outside(&verdicts[i]) || classes[i] != Class::Short {
            continue;
        }
        let below = nearest_kept(i, 1);
        if nearest_kept(i, -1).is_some() && below.is_some() {
            joins.push((i, "short, between kept blocks"));
        } else if blocks[i].heading && below.is_some_and(|k| k - i <= HEADING_REACH) {
            joins.push((i, "heading above kept text"));
        }
    }
    for (i, why) in joins {
        verdicts[i] = (true, Rule::ContinuesContainer(why));
    }
}

/// jusText-style classification over all blocks: long prose is good, link-heavy blocks are
/// bad, short blocks are kept only between good ones (or as a heading above good ones).
pub(super) fn fallback_verdicts(blocks: &[Block]) -> Vec<(Class, bool)> {
    let classes: Vec<Class> = blocks.iter().map(class_of).collect();
    let neighbour = |i: usize, step: isize| -> Option<Class> {
        let mut j = i as isize + step;
        while j >= 0 && (j as usize) < classes.len() {
            if classes[j as usize] != Class::Short {
                return Some(classes[j as usize]);
            }
            j += step;
        }
        None
    };
    blocks
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let kept = match classes[i] {
                Class::Good => true,
                Class::Bad => false,
                Class::Short => {
                    let before = neighbour(i, -1);
                    let after = neighbour(i, 1);
                    (b.heading && after == Some(Class::Good))
                        || (before == Some(Class::Good) && after == Some(Class::Good))
                }
            };
            (classes[i], kept)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::stages::extract::dom::Dom;
    use crate::stages::extract::extractor::extract;

    const PARA: &str = "The committee met on Tuesday, and after a long discussion it agreed to \
        fund the repairs, which had been postponed twice. Residents, who had complained for \
        years, welcomed the news.";

    fn text(html: &str) -> String {
        extract(&Dom::parse(html, 512, 1_000_000).unwrap()).text
    }

    #[test]
    fn a_headline_and_a_lead_above_the_body_wrapper_are_kept() {
        let html = format!(
            "<body><nav><a href=/>Home</a> <a href=/n>News</a></nav><div class=story>\
             <h1>Repairs funded at last</h1><div class=lead><p>A short lead paragraph that \
             sits outside the body wrapper but belongs to the story.</p></div>\
             <div class=body><p>{PARA}</p><p>{PARA}</p><p>{PARA}</p></div></div></body>"
        );
        let t = text(&html);
        assert!(
            t.starts_with("Repairs funded at last\n\nA short lead"),
            "{t}"
        );
        assert!(!t.contains("Home"), "{t}");
    }

    #[test]
    fn prose_after_a_link_list_is_not_taken_as_a_continuation() {
        let html = format!(
            "<body><div><div class=body><p>{PARA}</p><p>{PARA}</p><p>{PARA}</p></div>\
             <ul><li><a href=/a>First other story</a></li><li><a href=/b>Second other \
             story</a></li></ul><div class=note><p>Our newsroom is independent and funded by \
             readers like you; this note follows every article on the site.</p></div></div>\
             </body>"
        );
        let t = text(&html);
        assert!(t.contains("The committee met"), "{t}");
        assert!(!t.contains("newsroom"), "{t}");
    }

    #[test]
    fn an_article_in_sections_with_one_class_is_read_whole() {
        // Each section sits deep in its own layout wrappers; only one can score best.
        let section = |title: &str| {
            format!(
                "<div class=row><div class=col><div class=cell><h2>{title}</h2>\
                 <div class=article-text><p>{title}: {PARA}</p><p>{PARA}</p></div>\
                 </div></div></div>"
            )
        };
        let html = format!(
            "<body><div class=page>{}<div class=gallery><a href=/p>Photos</a></div>{}\
             <ul class=links><li><a href=/x>Buy now</a></li><li><a href=/y>Deals</a></li></ul>\
             {}</div></body>",
            section("Hardware"),
            section("In use"),
            section("Verdict")
        );
        let t = text(&html);
        for part in ["Hardware:", "In use:", "Verdict:"] {
            assert!(t.contains(part), "{part} missing: {t}");
        }
        assert!(!t.contains("Buy now"), "{t}");
    }

    #[test]
    fn a_story_in_a_box_named_like_a_caption_is_restored() {
        let html = format!(
            "<body><div class=content><p>{PARA}</p><p>{PARA}</p></div>\
             <div class='image-with-caption'><p>{PARA} One.</p><p>{PARA} Two.</p>\
             <p>{PARA} Three.</p><p>{PARA} Four.</p></div>\
             <div class=comments><p>{PARA} Comment one.</p><p>{PARA} Comment two.</p>\
             <p>{PARA} Comment three.</p><p>{PARA} Comment four.</p><p>{PARA} Five.</p>\
             </div></body>"
        );
        let t = text(&html);
        assert!(t.contains("Four."), "{t}");
        // Comments are furniture however long they are.
        assert!(!t.contains("Comment"), "{t}");
    }

    #[test]
    fn a_page_without_long_blocks_keeps_its_short_text_but_not_its_links() {
        let html = "<body><ul><li><a href=/a>Home</a></li><li><a href=/b>About</a></li></ul>\
                    <h1>Test case one</h1><p>A photo of the harbour.</p></body>";
        let t = text(html);
        assert_eq!(t, "Test case one\n\nA photo of the harbour.");
    }
}
