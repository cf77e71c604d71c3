//! `sieve report`: a data card of a run, as one self-contained HTML page and as Markdown with
//! SVG charts beside it, from the run's own records (see `facts.rs` for which).
//!
//! ```text
//! OUT/report/index.html   the card, charts inline, no scripts
//! OUT/report/README.md    the same card in Markdown
//! OUT/report/*.svg        the charts the Markdown links
//! ```

pub mod card;
pub mod charts;
pub mod facts;
pub mod render;

use std::path::{Path, PathBuf};

use anyhow::Result;

pub use facts::{RunFacts, SpecFacts};

use crate::io::shards::AtomicFile;

/// Files a card was written to.
pub struct Written {
    pub html: PathBuf,
    pub markdown: PathBuf,
    pub charts: Vec<PathBuf>,
}

/// Writes the data card of run directory `run` into `dir`.
pub fn write(run: &Path, dir: &Path, spec: &SpecFacts) -> Result<Written> {
    let facts = RunFacts::gather(run)?;
    let sections = card::sections(&facts, spec)?;
    let title = format!("Data card: {}", facts.name);
    let meta = card::summary(&facts);
    std::fs::create_dir_all(dir)?;
    let mut charts = Vec::new();
    for c in sections.iter().flat_map(|s| &s.charts) {
        let path = dir.join(format!("{}.svg", c.stem));
        AtomicFile::write_all(&path, c.svg.as_bytes())?;
        charts.push(path);
    }
    let markdown = dir.join("README.md");
    AtomicFile::write_all(
        &markdown,
        render::markdown(&title, &meta, &sections).as_bytes(),
    )?;
    // The page last: its presence means the card is complete.
    let html = dir.join("index.html");
    AtomicFile::write_all(&html, render::html(&title, &meta, &sections).as_bytes())?;
    Ok(Written {
        html,
        markdown,
        charts,
    })
}
