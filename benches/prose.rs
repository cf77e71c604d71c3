//! Generated corpora for the dedup and decontam benchmarks (included with `#[path]`): a
//! seeded random stream and the paragraphs of the shared curated prose they are built from.

use std::io::BufRead;
use std::path::Path;

/// A deterministic random stream (splitmix64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        sieve::dedup::shingle::fmix64(self.0)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Paragraphs of 20 words or more of the shared curated prose (pre-tokenized texts skipped).
pub fn paragraphs(shared: &Path) -> Vec<String> {
    let f = std::fs::File::open(shared.join("quality/positives_english_prose.jsonl.gz")).unwrap();
    let mut out = Vec::new();
    for line in std::io::BufReader::new(flate2::read::MultiGzDecoder::new(f)).lines() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if v["tokenized"].as_bool() == Some(true) {
            continue;
        }
        for p in v["text"].as_str().unwrap_or("").split('\n') {
            if p.split_whitespace().count() >= 20 {
                out.push(p.trim().to_string());
            }
        }
    }
    out
}
