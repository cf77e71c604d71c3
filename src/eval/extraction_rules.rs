//! Where a benchmark's words go: for every page, the blocks `--explain` lists are matched
//! against the gold bag of words, and each rule is charged with the gold words of the blocks
//! it dropped (recall lost) and the non-gold words of the blocks it kept (precision lost).
//! Summed over a benchmark, this says which rule to look at first.

use std::collections::HashMap;

use rayon::prelude::*;

use super::extraction::{words, Page};
use crate::stages::extract::dom::Dom;
use crate::stages::extract::explain::explain;

/// Words charged to one rule over a benchmark.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleLoss {
    pub rule: String,
    /// Gold words in blocks the rule dropped.
    pub gold_dropped: u64,
    /// Non-gold words in blocks the rule kept.
    pub noise_kept: u64,
}

/// Per rule kind: (gold words dropped, noise words kept).
type Charges = HashMap<String, (u64, u64)>;

/// A rule with the page-specific parts (tag and class descriptions) left out, so that rules
/// of the same kind add up.
fn rule_kind(rule: &str) -> String {
    let mut out = String::with_capacity(rule.len());
    let mut depth = 0;
    for c in rule.chars() {
        match c {
            '<' => {
                depth += 1;
                if depth == 1 {
                    out.push_str("<…>");
                }
            }
            '>' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    match out.find("role=") {
        Some(at) => out[..at + 5].to_string() + "…",
        None => out,
    }
}

/// Per rule, gold words dropped and noise words kept over `pages`, plus the total gold and
/// output words, most gold dropped first.
pub fn losses(pages: &[Page]) -> (Vec<RuleLoss>, u64, u64) {
    let per_page: Vec<(Charges, u64, u64)> = pages
        .par_iter()
        .map(|p| {
            let mut gold: HashMap<String, i64> = HashMap::new();
            let mut gold_n = 0u64;
            for w in words(&p.gold) {
                *gold.entry(w).or_default() += 1;
                gold_n += 1;
            }
            let mut by_rule = Charges::new();
            let Ok(dom) = Dom::parse(&p.html, 1024, 2_000_000) else {
                by_rule.insert("page not parsed".into(), (gold_n, 0));
                return (by_rule, gold_n, 0);
            };
            let e = explain(&dom);
            // Kept blocks take their gold words first, so that a dropped copy of a kept
            // passage is not charged with words the output already has.
            let mut out_n = 0u64;
            let take = |text: &str, gold: &mut HashMap<String, i64>| -> (u64, u64) {
                let (mut hit, mut miss) = (0, 0);
                for w in words(text) {
                    match gold.get_mut(&w) {
                        Some(c) if *c > 0 => {
                            *c -= 1;
                            hit += 1;
                        }
                        _ => miss += 1,
                    }
                }
                (hit, miss)
            };
            for b in e.blocks.iter().filter(|b| b.kept) {
                let (hit, miss) = take(&b.text, &mut gold);
                out_n += hit + miss;
                by_rule.entry(rule_kind(&b.rule)).or_default().1 += miss;
            }
            for b in e.blocks.iter().filter(|b| !b.kept) {
                let (hit, _) = take(&b.text, &mut gold);
                by_rule.entry(rule_kind(&b.rule)).or_default().0 += hit;
            }
            (by_rule, gold_n, out_n)
        })
        .collect();
    let mut total = Charges::new();
    let (mut gold_n, mut out_n) = (0, 0);
    for (by_rule, g, o) in per_page {
        gold_n += g;
        out_n += o;
        for (rule, (d, k)) in by_rule {
            let t = total.entry(rule).or_default();
            t.0 += d;
            t.1 += k;
        }
    }
    let mut rows: Vec<RuleLoss> = total
        .into_iter()
        .filter(|(_, (d, k))| d + k > 0)
        .map(|(rule, (gold_dropped, noise_kept))| RuleLoss {
            rule,
            gold_dropped,
            noise_kept,
        })
        .collect();
    rows.sort_by(|a, b| {
        (b.gold_dropped + b.noise_kept)
            .cmp(&(a.gold_dropped + a.noise_kept))
            .then(a.rule.cmp(&b.rule))
    });
    (rows, gold_n, out_n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_kinds_leave_out_the_page_specific_parts() {
        assert_eq!(
            rule_kind(r#"pruned: class/id of <div "sidebar left"> reads as boilerplate"#),
            "pruned: class/id of <…> reads as boilerplate"
        );
        assert_eq!(
            rule_kind("pruned: <div> has role=navigation"),
            "pruned: <…> has role=…"
        );
        assert_eq!(
            rule_kind("in the chosen container"),
            "in the chosen container"
        );
    }

    #[test]
    fn dropped_gold_and_kept_noise_are_charged_to_their_rules() {
        let para = "The committee met on Tuesday, and after a long discussion it agreed to fund \
                    the repairs, which had been postponed twice. Residents welcomed the news.";
        let html = format!(
            "<html><body><div class=sidebar><p>Gold words hidden in a sidebar box here</p></div>\
             <article><p>{para}</p><p>{para}</p><p>Extra noise sentence kept by the article \
             body, which the reference leaves out entirely.</p></article></body></html>"
        );
        let gold = format!("{para}\n{para}\nGold words hidden in a sidebar box here");
        let page = Page {
            id: "p".into(),
            html,
            gold,
        };
        let (rows, gold_n, _) = losses(std::slice::from_ref(&page));
        assert_eq!(gold_n, words(&page.gold).len() as u64);
        let row = |kind: &str| rows.iter().find(|r| r.rule.starts_with(kind)).unwrap();
        // All 8 words of the sidebar line are gold; the class rule dropped them.
        assert_eq!(row("pruned: class/id").gold_dropped, 8);
        // The extra sentence's 14 words are noise: the paragraphs take every gold `the` and
        // `which` first.
        assert_eq!(row("in the chosen container").noise_kept, 14);
    }
}
