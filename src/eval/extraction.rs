//! Scoring the extractor against the HTML extraction benchmarks in
//! `../shared/data/html-extraction/`, with the ScrapingHub protocol: per page, the bag of
//! lowercase words (`\w+`) of the output against that of the gold text gives precision,
//! recall and F1; a benchmark's score is the mean over its pages.

use std::collections::HashMap;
use std::io::{BufRead, Read};
use std::path::Path;

use anyhow::{bail, Context, Result};
use rayon::prelude::*;

use crate::stages::extract::dom::Dom;
use crate::stages::extract::extractor::extract;
use crate::text::charset;

/// One benchmark page.
pub struct Page {
    pub id: String,
    pub html: String,
    pub gold: String,
}

/// The benchmarks, by the names `--benchmark` takes.
pub const BENCHMARKS: &[&str] = &[
    "scrapinghub",
    "cleaneval-dev",
    "CleanPortalEval-master",
    "dragnet_data",
    "page-signal-master",
    "readability",
];

/// Gold text that was UTF-16 with a byte-order mark but was stored as if each byte were a
/// Latin-1 character (five dragnet_data pages: `ÿþT\0h\0e\0`), decoded as UTF-16; any other
/// text unchanged.
fn utf16_read_as_latin1(s: &str) -> String {
    let little = s.starts_with("\u{ff}\u{fe}");
    let big = s.starts_with("\u{fe}\u{ff}");
    if !(little || big) || s.chars().any(|c| c as u32 > 0xff) {
        return s.to_string();
    }
    let bytes: Vec<u8> = s.chars().skip(2).map(|c| c as u8).collect();
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|p| {
            if little {
                u16::from_le_bytes([p[0], p[1]])
            } else {
                u16::from_be_bytes([p[0], p[1]])
            }
        })
        .collect();
    String::from_utf16_lossy(&units)
}

/// Lowercase words as Python's `re.findall(r"\w+", s.lower())` finds them.
pub fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Precision, recall and F1 of the bag of words of `pred` against `gold`.
pub fn word_f1(pred: &str, gold: &str) -> (f64, f64, f64) {
    let mut g: HashMap<String, i64> = HashMap::new();
    for w in words(gold) {
        *g.entry(w).or_default() += 1;
    }
    let p_words = words(pred);
    let (gold_n, pred_n) = (g.values().sum::<i64>(), p_words.len() as i64);
    let mut tp = 0i64;
    for w in p_words {
        if let Some(c) = g.get_mut(&w) {
            if *c > 0 {
                *c -= 1;
                tp += 1;
            }
        }
    }
    if tp == 0 {
        return (0.0, 0.0, 0.0);
    }
    let p = tp as f64 / pred_n.max(1) as f64;
    let r = tp as f64 / gold_n.max(1) as f64;
    (p, r, 2.0 * p * r / (p + r))
}

fn gunzip(path: &Path) -> Result<Vec<u8>> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(f).read_to_end(&mut out)?;
    Ok(out)
}

/// Text of the elements of an annotated HTML page whose class contains one of `classes`.
fn annotated_text(html: &str, classes: &[&str]) -> String {
    let doc = scraper::Html::parse_document(html);
    let mut out = String::new();
    for node in doc.tree.root().descendants() {
        let Some(el) = scraper::ElementRef::wrap(node) else {
            continue;
        };
        let class = el.value().attr("class").unwrap_or("");
        if classes
            .iter()
            .any(|c| class.split_whitespace().any(|x| x == *c))
        {
            // Nested annotated spans would count twice; only take outermost ones.
            let nested = el
                .ancestors()
                .filter_map(scraper::ElementRef::wrap)
                .any(|a| {
                    let ac = a.value().attr("class").unwrap_or("");
                    classes
                        .iter()
                        .any(|c| ac.split_whitespace().any(|x| x == *c))
                });
            if !nested {
                out.extend(el.text());
                out.push('\n');
            }
        }
    }
    out
}

fn html_text(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    doc.root_element().text().collect::<Vec<_>>().join(" ")
}

/// CleanEval gold: a `URL:` line, then text with `<p>`, `<h>` and `<l>` block markers.
fn cleaneval_gold(gold: &str) -> String {
    gold.lines()
        .filter(|l| !l.trim_start().starts_with("URL:"))
        .map(|l| {
            l.replace("<p>", " ")
                .replace("<h>", " ")
                .replace("<l>", " ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Loads a benchmark's pages with their gold text.
pub fn load(name: &str, data: &Path) -> Result<Vec<Page>> {
    let root = data.join("html-extraction");
    if name == "scrapinghub" {
        let dir = root.join("article-extraction-benchmark");
        let truth: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("ground-truth.json"))?)?;
        let mut pages = Vec::new();
        for (key, v) in truth
            .as_object()
            .context("ground-truth.json is not an object")?
        {
            let bytes = gunzip(&dir.join("html").join(format!("{key}.html.gz")))?;
            let html = charset::decode(&bytes, None).text;
            let gold = v["articleBody"].as_str().unwrap_or_default().to_string();
            pages.push(Page {
                id: key.clone(),
                html,
                gold,
            });
        }
        pages.sort_by(|a, b| a.id.cmp(&b.id));
        return Ok(pages);
    }
    if !BENCHMARKS.contains(&name) {
        bail!(
            "unknown benchmark `{name}` (known: {})",
            BENCHMARKS.join(", ")
        );
    }
    let path = root
        .join("merged-benchmarks")
        .join(format!("{name}.jsonl.gz"));
    let file =
        std::fs::File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let reader = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(file));
    let mut pages = Vec::new();
    for line in reader.lines() {
        let v: serde_json::Value = serde_json::from_str(&line?)?;
        let html = v["html"].as_str().unwrap_or_default().to_string();
        let raw_gold = &utf16_read_as_latin1(v["gold"].as_str().unwrap_or_default());
        let gold = match name {
            "cleaneval-dev" | "CleanPortalEval-master" => cleaneval_gold(raw_gold),
            "dragnet_data" => raw_gold
                .split("!@#$%^&*()  COMMENTS")
                .next()
                .unwrap_or_default()
                .to_string(),
            "page-signal-master" => annotated_text(raw_gold, &["x-nc-sel1", "x-nc-sel2"]),
            _ => html_text(raw_gold),
        };
        let id = v["id"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v["id"].to_string());
        pages.push(Page { id, html, gold });
    }
    Ok(pages)
}

/// Writes one JSON line per page of `benchmark`: what the extractor gives with the limits
/// [`score`] uses, or why the page could not be parsed.
pub fn dump(benchmark: &str, pages: &[Page], out: &mut impl std::io::Write) -> Result<()> {
    let lines: Vec<String> = pages
        .par_iter()
        .map(|p| {
            let v = match Dom::parse(&p.html, 1024, 2_000_000) {
                Ok(d) => {
                    let e = extract(&d);
                    let (_, _, f1) = word_f1(&e.text, &p.gold);
                    serde_json::json!({"benchmark": benchmark, "id": p.id, "text": e.text,
                        "title": e.title, "method": e.method, "html_lang": e.html_lang,
                        "f1": f1})
                }
                Err(err) => serde_json::json!({"benchmark": benchmark, "id": p.id,
                    "error": format!("{err:?}")}),
            };
            v.to_string()
        })
        .collect();
    for line in lines {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Scores of one benchmark.
pub struct Score {
    pub pages: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub seconds: f64,
    /// (id, precision, recall, f1), worst F1 first.
    pub per_page: Vec<(String, f64, f64, f64)>,
}

/// Extracts every page (in parallel) and scores the outputs.
pub fn score(pages: &[Page]) -> Score {
    let start = std::time::Instant::now();
    let mut per_page: Vec<(String, f64, f64, f64)> = pages
        .par_iter()
        .filter(|p| !words(&p.gold).is_empty())
        .map(|p| {
            let text = Dom::parse(&p.html, 1024, 2_000_000)
                .map(|d| extract(&d).text)
                .unwrap_or_default();
            let (pr, rc, f1) = word_f1(&text, &p.gold);
            (p.id.clone(), pr, rc, f1)
        })
        .collect();
    let seconds = start.elapsed().as_secs_f64();
    let n = per_page.len().max(1) as f64;
    let mean = |f: fn(&(String, f64, f64, f64)) -> f64| per_page.iter().map(f).sum::<f64>() / n;
    let (precision, recall, f1) = (mean(|x| x.1), mean(|x| x.2), mean(|x| x.3));
    per_page.sort_by(|a, b| a.3.total_cmp(&b.3));
    Score {
        pages: per_page.len(),
        precision,
        recall,
        f1,
        seconds,
        per_page,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_gold_stored_as_latin1_is_decoded() {
        assert_eq!(utf16_read_as_latin1("\u{ff}\u{fe}T\0h\0e\0 \0"), "The ");
        assert_eq!(utf16_read_as_latin1("\u{fe}\u{ff}\0O\0k"), "Ok");
        assert_eq!(utf16_read_as_latin1("plain café"), "plain café");
    }

    #[test]
    fn word_f1_is_a_bag_of_words_score() {
        assert_eq!(
            words("Hello, WORLD_1 ça-va"),
            ["hello", "world_1", "ça", "va"]
        );
        let (p, r, f) = word_f1("a b b c", "a b c d");
        assert!((p - 0.75).abs() < 1e-9 && (r - 0.75).abs() < 1e-9 && (f - 0.75).abs() < 1e-9);
        assert_eq!(word_f1("", "a"), (0.0, 0.0, 0.0));
    }

    #[test]
    fn gold_formats_are_reduced_to_text() {
        assert_eq!(
            words(&cleaneval_gold("URL: http://x\n<p>Hello there\n<h>Title")),
            ["hello", "there", "title"]
        );
        let annotated = r#"<p><span class="x-nc-sel1">Head</span> junk <span class="x-nc-sel2">Body <span class="x-nc-sel2">text</span></span></p>"#;
        assert_eq!(
            words(&annotated_text(annotated, &["x-nc-sel1", "x-nc-sel2"])),
            ["head", "body", "text"]
        );
    }
}
