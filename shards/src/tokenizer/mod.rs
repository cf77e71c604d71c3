//! Text → token ids, offline: GPT-2 (r50k) by sieve's own encoder, cl100k and o200k by
//! tiktoken-rs, all with ids identical to OpenAI's tiktoken; Hugging Face `tokenizer.json` files
//! by the `tokenizers` crate. The vocabularies come embedded in
//! tiktoken-rs, so nothing is downloaded.
//!
//! Documents are always encoded as ordinary text: `<|endoftext|>` written inside a document is
//! five ordinary tokens, never the special one. The end-of-document token is appended by the
//! caller ([`Tokenizer::eod`]).

pub mod bpe;
pub mod hf;
pub mod hf_export;
pub mod pretokenize;

use anyhow::{bail, Result};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use bpe::{Rank, Ranks};

/// What a shard's reader needs to know about the tokenizer that wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenizerInfo {
    /// `gpt2`, `cl100k` or `o200k`.
    pub name: String,
    /// The tiktoken encoding it equals.
    pub encoding: String,
    /// One more than the largest token id (special tokens included).
    pub vocab_size: u32,
    pub eod_id: u32,
    /// sha256 of the vocabulary (every token's bytes, in id order, length-prefixed).
    pub vocab_sha256: String,
}

enum Engine {
    /// sieve's encoder: the hand-written GPT-2 pre-tokenizer and the rank table.
    Gpt2(Ranks),
    /// tiktoken-rs for the encodings whose patterns we have not hand-written.
    Tiktoken(tiktoken_rs::CoreBPE, Ranks),
    /// A Hugging Face tokenizer.json.
    Hf(Box<hf::HfTokenizer>),
}

pub struct Tokenizer {
    engine: Engine,
    pub info: TokenizerInfo,
}

/// Every token's bytes recovered from a tiktoken-rs encoder (its tables are private).
fn ranks_of(bpe: &tiktoken_rs::CoreBPE, ordinary: u32) -> Ranks {
    let mut by_bytes = FxHashMap::default();
    for id in 0..ordinary {
        if let Ok(bytes) = bpe.decode_bytes(&[id]) {
            by_bytes.insert(bytes, id);
        }
    }
    Ranks::new(by_bytes)
}

fn vocab_sha256(ranks: &Ranks) -> String {
    let mut all = Vec::new();
    for bytes in &ranks.by_rank {
        all.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        all.extend_from_slice(bytes);
    }
    crate::digest::sha256_hex(&all)
}

impl Tokenizer {
    /// `gpt2` (also `r50k`, `r50k_base`), `cl100k` (`cl100k_base`), `o200k` (`o200k_base`),
    /// or the path of a Hugging Face `tokenizer.json`.
    pub fn by_name(name: &str) -> Result<Tokenizer> {
        if name.ends_with(".json") {
            let (hf, info) = hf::HfTokenizer::open(std::path::Path::new(name))?;
            return Ok(Tokenizer {
                engine: Engine::Hf(Box::new(hf)),
                info,
            });
        }
        let (canonical, encoding, bpe, ordinary, eod, vocab) = match name {
            "gpt2" | "r50k" | "r50k_base" => (
                "gpt2",
                "r50k_base",
                tiktoken_rs::r50k_base()?,
                50_256,
                50_256,
                50_257,
            ),
            "cl100k" | "cl100k_base" => (
                "cl100k",
                "cl100k_base",
                tiktoken_rs::cl100k_base()?,
                100_256,
                100_257,
                100_277,
            ),
            "o200k" | "o200k_base" => (
                "o200k",
                "o200k_base",
                tiktoken_rs::o200k_base()?,
                199_998,
                199_999,
                200_019,
            ),
            other => bail!(
                "unknown tokenizer {other:?}: expected gpt2, cl100k, o200k or the path of a \
                 Hugging Face tokenizer.json"
            ),
        };
        let ranks = ranks_of(&bpe, ordinary);
        let info = TokenizerInfo {
            name: canonical.into(),
            encoding: encoding.into(),
            vocab_size: vocab,
            eod_id: eod,
            vocab_sha256: vocab_sha256(&ranks),
        };
        let engine = if canonical == "gpt2" {
            Engine::Gpt2(ranks)
        } else {
            Engine::Tiktoken(bpe, ranks)
        };
        Ok(Tokenizer { engine, info })
    }

    pub fn eod(&self) -> u32 {
        self.info.eod_id
    }

    /// Appends the ids of `text`, encoded as ordinary text, to `out`. Only a Hugging Face
    /// tokenizer can fail (its normalizers and models report errors).
    pub fn encode(&self, text: &str, out: &mut Vec<Rank>) -> Result<()> {
        match &self.engine {
            Engine::Gpt2(ranks) => {
                pretokenize::pieces(text, |p| ranks.encode_piece(p.as_bytes(), out))
            }
            Engine::Tiktoken(bpe, _) => out.extend(bpe.encode_ordinary(text)),
            Engine::Hf(hf) => hf.encode(text, out)?,
        }
        Ok(())
    }

    /// The bytes of `ids`; the end-of-document id decodes to `<|endoftext|>`.
    pub fn decode(&self, ids: &[Rank]) -> Vec<u8> {
        let ranks = match &self.engine {
            Engine::Gpt2(r) | Engine::Tiktoken(_, r) => r,
            Engine::Hf(hf) => return hf.decode(ids),
        };
        let mut out = Vec::new();
        for &id in ids {
            match ranks.by_rank.get(id as usize) {
                Some(b) if !b.is_empty() => out.extend_from_slice(b),
                _ if id == self.info.eod_id => out.extend_from_slice(b"<|endoftext|>"),
                _ => out.extend_from_slice(format!("<|unknown:{id}|>").as_bytes()),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_token_text_stays_ordinary() {
        let t = Tokenizer::by_name("gpt2").unwrap();
        let mut ids = Vec::new();
        t.encode("a<|endoftext|>b", &mut ids).unwrap();
        assert!(!ids.contains(&t.eod()));
        assert_eq!(t.decode(&ids), b"a<|endoftext|>b");
    }

    #[test]
    fn each_name_gives_its_encoding_end_of_document_and_vocabulary() {
        // tiktoken's <|endoftext|> ids and vocabulary sizes (special tokens included).
        for (name, canonical, eod, vocab) in [
            ("gpt2", "gpt2", 50_256, 50_257),
            ("r50k", "gpt2", 50_256, 50_257),
            ("r50k_base", "gpt2", 50_256, 50_257),
            ("cl100k", "cl100k", 100_257, 100_277),
            ("cl100k_base", "cl100k", 100_257, 100_277),
            ("o200k", "o200k", 199_999, 200_019),
            ("o200k_base", "o200k", 199_999, 200_019),
        ] {
            let t = Tokenizer::by_name(name).unwrap();
            assert_eq!(t.info.name, canonical, "{name}");
            assert_eq!(t.eod(), eod, "{name}");
            assert_eq!(t.info.vocab_size, vocab, "{name}");
            assert_eq!(t.decode(&[eod]), b"<|endoftext|>", "{name}");
            assert_eq!(
                t.decode(&[vocab + 5]),
                format!("<|unknown:{}|>", vocab + 5).as_bytes()
            );
        }
        assert!(Tokenizer::by_name("gpt3").is_err());
    }

    #[test]
    fn the_vocabulary_hash_is_of_every_token_in_id_order() {
        // GPT-2's, as every tokenize.json written with it records it.
        let gpt2 = Tokenizer::by_name("gpt2").unwrap();
        assert_eq!(
            gpt2.info.vocab_sha256,
            "7cff19521369c7f5f5ed77ed7b730e7491800afb47d01d341e12b3ca740d8543"
        );
        // Recomputed here from tiktoken-rs's own decoding, length-prefixed, in id order.
        let bpe = tiktoken_rs::r50k_base().unwrap();
        let mut all = Vec::new();
        for id in 0..50_256 {
            let bytes = bpe.decode_bytes(&[id]).unwrap();
            all.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            all.extend_from_slice(&bytes);
        }
        assert_eq!(gpt2.info.vocab_sha256, crate::digest::sha256_hex(&all));
        let cl100k = Tokenizer::by_name("cl100k").unwrap();
        assert_ne!(cl100k.info.vocab_sha256, gpt2.info.vocab_sha256);
    }

    #[test]
    fn cl100k_and_o200k_split_text_by_their_own_patterns() {
        // Digits in threes and case-insensitive contractions are cl100k's and o200k's, not
        // GPT-2's: encoded by GPT-2's pattern, this text would give other ids.
        let text = "It'S 1234567 times, DON'T stop\n\n  ok";
        for (name, reference) in [
            ("cl100k", tiktoken_rs::cl100k_base().unwrap()),
            ("o200k", tiktoken_rs::o200k_base().unwrap()),
        ] {
            let t = Tokenizer::by_name(name).unwrap();
            let mut ids = Vec::new();
            t.encode(text, &mut ids).unwrap();
            assert_eq!(ids, reference.encode_ordinary(text), "{name}");
            assert_eq!(t.decode(&ids), text.as_bytes(), "{name}");
        }
    }

    #[test]
    fn an_id_without_bytes_decodes_as_unknown() {
        // A rank table with a hole at 1 (tiktoken's tables have holes where ids are special).
        let mut by_bytes = FxHashMap::default();
        by_bytes.insert(b"a".to_vec(), 0);
        by_bytes.insert(b"b".to_vec(), 2);
        let t = Tokenizer {
            engine: Engine::Gpt2(Ranks::new(by_bytes)),
            info: TokenizerInfo {
                name: "test".into(),
                encoding: "test".into(),
                vocab_size: 4,
                eod_id: 3,
                vocab_sha256: String::new(),
            },
        };
        assert_eq!(t.decode(&[0, 1, 2, 3]), b"a<|unknown:1|>b<|endoftext|>");
    }

    #[test]
    fn gpt2_equals_tiktoken_rs() {
        let t = Tokenizer::by_name("gpt2").unwrap();
        let reference = tiktoken_rs::r50k_base().unwrap();
        let text = "Hello world!  It's 2026: naïve café, 東京, ١٢٣ numbers\n\n\tend   ";
        let mut ids = Vec::new();
        t.encode(text, &mut ids).unwrap();
        assert_eq!(ids, reference.encode_ordinary(text));
    }
}
