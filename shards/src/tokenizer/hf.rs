//! Hugging Face `tokenizer.json` files (Llama, Qwen, Mistral, ...), through the `tokenizers`
//! crate. Special-token text inside documents is encoded as ordinary text, no special tokens
//! are added around documents, and the end-of-document token is the file's own end-of-text
//! token, appended by the caller like every other tokenizer's.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use super::TokenizerInfo;
use crate::digest::sha256_hex;

/// Names models use for their end-of-text token, tried in this order.
const EOD_NAMES: &[&str] = &[
    "<|endoftext|>",
    "<|end_of_text|>",
    "</s>",
    "<eos>",
    "<|im_end|>",
    "[SEP]",
];

pub struct HfTokenizer {
    inner: tokenizers::Tokenizer,
    /// The file as read: what an export writes back.
    pub source: Vec<u8>,
}

impl HfTokenizer {
    pub fn open(path: &Path) -> Result<(HfTokenizer, TokenizerInfo)> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut inner = tokenizers::Tokenizer::from_bytes(&bytes)
            .map_err(|e| anyhow!("{}: not a tokenizer.json: {e}", path.display()))?;
        // Text such as "</s>" inside a document must not become the special token.
        inner.set_encode_special_tokens(true);
        let Some(eod) = EOD_NAMES.iter().find_map(|n| inner.token_to_id(n)) else {
            bail!(
                "{}: no end-of-text token (looked for {})",
                path.display(),
                EOD_NAMES.join(" ")
            );
        };
        let vocab_size = inner.get_vocab_size(true) as u32;
        let name = std::fs::canonicalize(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .to_string_lossy()
            .into_owned();
        let info = TokenizerInfo {
            name,
            encoding: format!(
                "huggingface:{}",
                path.file_name()
                    .map_or_else(String::new, |f| f.to_string_lossy().into_owned())
            ),
            vocab_size,
            eod_id: eod,
            vocab_sha256: sha256_hex(&bytes),
        };
        Ok((
            HfTokenizer {
                inner,
                source: bytes,
            },
            info,
        ))
    }

    pub fn encode(&self, text: &str, out: &mut Vec<u32>) -> Result<()> {
        let enc = self
            .inner
            .encode_fast(text, false)
            .map_err(|e| anyhow!("tokenizer: {e}"))?;
        out.extend_from_slice(enc.get_ids());
        Ok(())
    }

    /// The text of token `id` (an end-of-text token's name, say).
    pub fn token_text(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    pub fn decode(&self, ids: &[u32]) -> Vec<u8> {
        self.inner
            .decode(ids, false)
            .map(String::into_bytes)
            .unwrap_or_else(|e| format!("<|undecodable: {e}|>").into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_level_tokenizer_encodes_decodes_and_reports_what_it_cannot_encode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        let json = serde_json::json!({
            "version": "1.0", "truncation": null, "padding": null,
            "added_tokens": [{"id": 2, "content": "</s>", "single_word": false,
                "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
            "normalizer": null, "pre_tokenizer": {"type": "Whitespace"},
            "post_processor": null, "decoder": null,
            "model": {"type": "WordLevel", "vocab": {"hello": 0, "there": 1, "</s>": 2},
                "unk_token": "[UNK]"},
        });
        std::fs::write(&path, json.to_string()).unwrap();
        let (t, info) = HfTokenizer::open(&path).unwrap();
        assert_eq!(info.eod_id, 2);
        assert_eq!(info.vocab_size, 3);
        assert_eq!(info.encoding, "huggingface:tokenizer.json");
        let mut ids = Vec::new();
        t.encode("hello there hello", &mut ids).unwrap();
        assert_eq!(ids, [0, 1, 0]);
        // Without a decoder, the tokens are joined by spaces.
        assert_eq!(t.decode(&ids), b"hello there hello");
        // A word the vocabulary lacks, with no unknown token to stand for it, is an error.
        let err = t.encode("hello stranger", &mut ids).unwrap_err();
        assert!(format!("{err:#}").starts_with("tokenizer: "), "{err:#}");
    }
}
