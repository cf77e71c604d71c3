//! `sieve words`: how the filters see a text. Reads JSON lines with `text` (and `id`) and writes
//! one line per document with its words and sentence count as datatrove's English filters
//! split them (spaCy's tokenizer and sentencizer, reproduced in `text::spacy_en`). For
//! checking a disagreement with datatrove, or a threshold, by hand.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use crate::pipeline::Outcome;
use crate::text::spacy_en;

#[derive(Debug, Args)]
pub struct WordsArgs {
    /// JSONL file with a `text` field per line (`-` for standard input).
    pub input: PathBuf,
    /// Also print each sentence count of every line (`str.splitlines`), as C4 counts them.
    #[arg(long)]
    pub lines: bool,
}

pub fn run(args: WordsArgs) -> Result<Outcome> {
    let reader: Box<dyn BufRead> = if args.input.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(&args.input)
            .with_context(|| format!("opening {}", args.input.display()))?;
        Box::new(BufReader::new(f))
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut tokens = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("{}: line {}", args.input.display(), n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let doc: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("{}: line {}: not JSON", args.input.display(), n + 1))?;
        let text = doc["text"].as_str().with_context(|| {
            format!(
                "{}: line {}: no string `text` field",
                args.input.display(),
                n + 1
            )
        })?;
        spacy_en::tokenize_into(text, &mut tokens);
        let words: Vec<&str> = tokens
            .iter()
            .filter(|t| !t.space)
            .map(|t| &text[t.start..t.end])
            .collect();
        let mut row = serde_json::json!({
            "id": doc["id"],
            "words": words,
            "sentences": spacy_en::count_sentences(text, &tokens),
        });
        if args.lines {
            let per_line: Vec<usize> = spacy_en::classes::py_splitlines(text)
                .into_iter()
                .map(|l| {
                    let l = spacy_en::classes::py_strip(l);
                    let mut t = Vec::new();
                    spacy_en::tokenize_into(l, &mut t);
                    spacy_en::count_sentences(l, &t)
                })
                .collect();
            row["line_sentences"] = per_line.into();
        }
        writeln!(out, "{row}")?;
    }
    out.flush()?;
    Ok(Outcome::Ok)
}
