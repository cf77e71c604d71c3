//! The checks the fuzzers run, one function per parser of untrusted input. Each takes
//! arbitrary bytes and panics when the parser breaks one of its promises: a panic or hang
//! inside the parser, or an invariant beyond "no panic" (records located inside the file,
//! sizes within their limits, round trips through the writers that exist). `fuzz/` drives
//! them under libFuzzer; `tests/it/fuzz_cases.rs` replays the inputs kept under
//! `tests/fuzz-cases/<target>/` (every finding, fixed) on every test run. See
//! `docs/fuzzing.md`.

mod corpus;
mod extract;
mod indexed;
mod models;
mod specs;
mod tokenizer;
mod warc;

use std::path::PathBuf;

pub use corpus::corpus_import;
pub use extract::extract_page;
pub use indexed::indexed_dataset;
pub use models::fasttext_model;
pub use specs::toml_specs;
pub use tokenizer::tokenizer;
pub use warc::{http_payload, warc_reader};

/// A check: arbitrary bytes in, a panic when the parser breaks a promise.
pub type Check = fn(&[u8]);

/// Every target, by the name `cargo fuzz` and `tests/fuzz-cases/` use.
pub const TARGETS: &[(&str, Check)] = &[
    ("warc_reader", warc_reader),
    ("http_payload", http_payload),
    ("extract_page", extract_page),
    ("corpus_import", corpus_import),
    ("fasttext_model", fasttext_model),
    ("indexed_dataset", indexed_dataset),
    ("tokenizer", tokenizer),
    ("toml_specs", toml_specs),
];

/// Runs target `name` on `data`.
pub fn check(name: &str, data: &[u8]) -> Option<()> {
    TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| f(data))
}

thread_local! {
    /// A directory for the files a target writes, one per thread, removed when it ends.
    static SCRATCH: tempfile::TempDir = tempfile::Builder::new()
        .prefix("sieve-fuzz")
        .tempdir()
        .expect("a scratch directory for the fuzz checks");
}

/// `name` in this thread's scratch directory, holding `bytes`.
fn scratch_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = SCRATCH.with(|d| d.path().join(name));
    std::fs::write(&path, bytes).expect("writing a scratch file");
    path
}

/// A path in this thread's scratch directory (nothing written).
fn scratch_path(name: &str) -> PathBuf {
    SCRATCH.with(|d| d.path().join(name))
}

/// Splits `data` at a position chosen by its first two bytes (two inputs from one).
fn split_two(data: &[u8]) -> (&[u8], &[u8]) {
    let Some((&[a, b], rest)) = data.split_first_chunk::<2>() else {
        return (data, &[]);
    };
    let at = (usize::from(a) << 8 | usize::from(b)) % (rest.len() + 1);
    rest.split_at(at)
}
