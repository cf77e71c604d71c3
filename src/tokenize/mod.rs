//! Tokenization: the tokenizers themselves live in `sieve_shards::tokenizer` (the trainer
//! shares them); this module adds the `tokenize` step, documents → Megatron datasets.

pub use sieve_shards::tokenizer::*;

pub mod options;
pub mod step;
