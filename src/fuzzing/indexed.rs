//! Megatron indexed datasets (`.bin` + `.idx`).

use crate::io::indexed::{IndexedReader, IndexedWriter, TokenDtype};

/// Arbitrary bytes as a `.idx` and a `.bin` file (split where the first two bytes say): the
/// reader refuses or serves every document without panicking, each document's size agrees
/// with the tokens it yields, and the sizes add up to the total. Then the same bytes as
/// documents of token ids are written with the writer and read back unchanged.
pub fn indexed_dataset(data: &[u8]) {
    let (idx, bin) = super::split_two(data);
    let prefix = super::scratch_path("ds");
    std::fs::write(prefix.with_extension("idx"), idx).expect("writing .idx");
    std::fs::write(prefix.with_extension("bin"), bin).expect("writing .bin");
    if let Ok(r) = IndexedReader::open(&prefix) {
        let mut total = 0u64;
        let mut tokens = Vec::new();
        for k in 0..r.len() {
            if r.tokens(k, &mut tokens).is_ok() {
                total += tokens.len() as u64;
            }
        }
        assert!(
            total <= r.total_tokens(),
            "documents hold more tokens than the total"
        );
        assert!(
            total <= bin.len() as u64,
            "more tokens than bytes in the .bin"
        );
    }

    // Round trip: a document per 0xff byte, tokens from byte pairs.
    let docs: Vec<Vec<u32>> = data
        .split(|&b| b == 0xff)
        .map(|d| {
            d.chunks(2)
                .map(|c| c.iter().fold(0u32, |a, &b| a << 8 | u32::from(b)))
                .collect()
        })
        .collect();
    let prefix = super::scratch_path("round-trip");
    let mut w =
        IndexedWriter::create(&prefix, TokenDtype::for_vocab(65_536)).expect("creating a dataset");
    for d in &docs {
        w.add(d).expect("adding a document");
    }
    w.finish().expect("finishing a dataset");
    let r = IndexedReader::open(&prefix).expect("reading a dataset sieve wrote");
    assert_eq!(r.len(), docs.len(), "document count");
    let mut tokens = Vec::new();
    for (k, d) in docs.iter().enumerate() {
        r.tokens(k, &mut tokens).expect("a document sieve wrote");
        assert_eq!(&tokens, d, "document {k} changed");
    }
}
