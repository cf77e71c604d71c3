//! The tokenize settings, defined once for the `sieve tokenize` flags and the spec's
//! `[[stage]] name = "tokenize"` keys.

use serde::{Deserialize, Serialize};

/// The flags and spec keys are these fields, with the defaults of `Default` for both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct TokenizeOptions {
    /// gpt2 (r50k_base, as MT-NLG), cl100k or o200k (ids equal tiktoken's), or
    /// PATH/tokenizer.json.
    #[arg(long, default_value_t = TokenizeOptions::default().tokenizer)]
    pub tokenizer: String,
    /// Seed of the per-shard document shuffle.
    #[arg(long, default_value_t = TokenizeOptions::default().seed)]
    pub seed: u64,
}

impl Default for TokenizeOptions {
    fn default() -> Self {
        TokenizeOptions {
            tokenizer: "gpt2".into(),
            seed: 1234,
        }
    }
}
