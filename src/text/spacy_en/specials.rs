//! spaCy's special cases: strings it always splits the same way ("don't" → "do" + "n't",
//! "Mr." stays whole), and the pass after tokenization that re-joins runs of tokens spelling a
//! special case that affix splitting cut apart ("smile:)" → "smile" + ":)").

use std::collections::HashMap;
use std::sync::OnceLock;

use super::tables::SPECIAL_CASES;

pub(super) struct Specials {
    /// String → byte offsets at which its second, third... token start.
    cuts: HashMap<&'static str, Vec<usize>>,
    /// For the re-joining pass: first token text → the token sequences (as spaCy's affix rules
    /// split a special case) that start with it, longest first.
    patterns: HashMap<String, Vec<Vec<String>>>,
}

static SPECIALS: OnceLock<Specials> = OnceLock::new();

/// The table, built on first use. `split_plain` splits a string by the affix rules alone.
pub(super) fn specials(split_plain: impl Fn(&str) -> Vec<String>) -> &'static Specials {
    SPECIALS.get_or_init(|| {
        let mut cuts = HashMap::new();
        for (text, char_cuts) in SPECIAL_CASES {
            let offsets: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
            cuts.insert(
                *text,
                char_cuts.iter().map(|&c| offsets[c as usize]).collect(),
            );
        }
        let mut patterns: HashMap<String, Vec<Vec<String>>> = HashMap::new();
        for (text, _) in SPECIAL_CASES {
            let tokens = split_plain(text);
            // A pattern of one token equal to the special case changes nothing.
            if tokens.len() > 1 {
                patterns.entry(tokens[0].clone()).or_default().push(tokens);
            }
        }
        for list in patterns.values_mut() {
            list.sort_by_key(|p| std::cmp::Reverse(p.len()));
        }
        Specials { cuts, patterns }
    })
}

impl Specials {
    /// The token cuts of `s` when it is a special case.
    pub(super) fn get(&self, s: &str) -> Option<&[usize]> {
        self.cuts.get(s).map(Vec::as_slice)
    }

    pub(super) fn contains(&self, s: &str) -> bool {
        self.cuts.contains_key(s)
    }

    /// spaCy's `_apply_special_cases` over tokens given as byte ranges of `text`. Matches are
    /// found as its phrase matcher finds them (every start, every pattern), kept longest first
    /// and then leftmost when they overlap, and replaced only when the text they cover (spaces
    /// included) is itself a special case.
    pub(super) fn rejoin(&self, text: &str, tokens: &mut Vec<(usize, usize)>) {
        if self.patterns.is_empty() {
            return;
        }
        let mut found: Vec<(usize, usize)> = Vec::new();
        for i in 0..tokens.len() {
            let first = &text[tokens[i].0..tokens[i].1];
            let Some(list) = self.patterns.get(first) else {
                continue;
            };
            for p in list {
                let end = i + p.len();
                if end <= tokens.len()
                    && p.iter()
                        .zip(&tokens[i..end])
                        .all(|(want, &(a, b))| &text[a..b] == want)
                {
                    found.push((i, end));
                }
            }
        }
        if found.is_empty() {
            return;
        }
        // Longest first; among equal lengths the leftmost first. A span is taken when neither
        // its first nor its last token is covered by a span looked at before it.
        found.sort_by_key(|&(s, e)| (std::cmp::Reverse(e - s), s));
        let mut seen = vec![false; tokens.len()];
        let mut taken = Vec::new();
        for (s, e) in found {
            if !seen[s] && !seen[e - 1] {
                taken.push((s, e));
            }
            seen[s..e].iter_mut().for_each(|x| *x = true);
        }
        taken.sort_unstable();
        let mut out = Vec::with_capacity(tokens.len());
        let mut next = 0;
        for (s, e) in taken {
            out.extend_from_slice(&tokens[next..s]);
            let (a, b) = (tokens[s].0, tokens[e - 1].1);
            match self.get(&text[a..b]) {
                Some(cuts) => {
                    let mut start = a;
                    for &c in cuts {
                        out.push((start, a + c));
                        start = a + c;
                    }
                    out.push((start, b));
                }
                None => out.extend_from_slice(&tokens[s..e]),
            }
            next = e;
        }
        out.extend_from_slice(&tokens[next..]);
        *tokens = out;
    }
}
