//! The extractor's output on every page of the shared extraction benchmarks is pinned: a
//! change to the parser or the extractor that changes any page's text, title, method or
//! `<html lang>` fails here, listing the pages, until the change is meant and the record is
//! rewritten (`SIEVE_BLESS=1 cargo test --test it extract_outputs`) and the differences are
//! given in docs/stages/extract.md.

use crate::util::{repo, shared_data};
use sieve::eval::extraction::{load, BENCHMARKS};
use sieve::stages::extract::dom::Dom;
use sieve::stages::extract::extractor::extract;

const RECORD: &str = "data-samples/extract-outputs.tsv";

/// `benchmark TAB id TAB hash` of what the extractor gives each page (with `eval extract`'s
/// limits), sorted.
fn outputs(data: &std::path::Path) -> Vec<String> {
    let mut lines = Vec::new();
    for name in BENCHMARKS {
        for page in load(name, data).unwrap() {
            let what = match Dom::parse(&page.html, 1024, 2_000_000) {
                Ok(dom) => {
                    let e = extract(&dom);
                    format!("{}\0{:?}\0{}\0{:?}", e.text, e.title, e.method, e.html_lang)
                }
                Err(err) => format!("error {err:?}"),
            };
            let hash = xxhash_rust::xxh3::xxh3_64(what.as_bytes());
            lines.push(format!("{name}\t{}\t{hash:016x}", page.id));
        }
    }
    lines.sort();
    lines
}

#[test]
fn every_benchmark_page_extracts_as_recorded() {
    let Some(data) = shared_data() else { return };
    let got = outputs(&data);
    let path = repo().join(RECORD);
    if std::env::var_os("SIEVE_BLESS").is_some() {
        std::fs::write(&path, got.join("\n") + "\n").unwrap();
        return;
    }
    let recorded = std::fs::read_to_string(&path).unwrap();
    let want: Vec<&str> = recorded.lines().collect();
    assert_eq!(
        got.len(),
        want.len(),
        "pages: {} now, {} recorded",
        got.len(),
        want.len()
    );
    let differ: Vec<&str> = got
        .iter()
        .zip(&want)
        .filter(|(g, w)| g.as_str() != **w)
        .map(|(g, _)| g.rsplit_once('\t').map_or(g.as_str(), |(page, _)| page))
        .collect();
    assert!(
        differ.is_empty(),
        "{} of {} pages extract differently from the record ({RECORD}); first ones:\n{}",
        differ.len(),
        got.len(),
        differ
            .iter()
            .take(20)
            .copied()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The parser's named character references are the WHATWG list as Python's
/// `html.entities.html5` has it: `scripts/html-entities.py` regenerates the committed table.
#[test]
fn entity_table_is_the_whatwg_list() {
    crate::util::assert_generated_file_is_committed(
        "python3",
        "scripts/html-entities.py",
        "src/stages/extract/html/entities.rs",
    );
}
