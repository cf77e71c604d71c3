//! A tokenizer as the files Hugging Face loads: `tokenizer.json` (the fast tokenizer
//! `AutoTokenizer` builds from), `tokenizer_config.json`, and for GPT-2 also its classic
//! `vocab.json` and `merges.txt`. For the tiktoken encodings the files are rebuilt from the rank
//! table: the vocabulary is every token's bytes in GPT-2's printable byte alphabet, and the
//! merges are, in rank order, the two earlier tokens each token is made of. A Hugging Face
//! tokenizer is written back as the file it was read from.

use anyhow::{bail, Result};
use serde_json::{json, Value};

use super::bpe::Ranks;
use super::{Engine, Tokenizer};

/// cl100k_base's pre-tokenizer pattern, as tiktoken publishes it.
const CL100K_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The end-of-text token's text in the tiktoken encodings.
const ENDOFTEXT: &str = "<|endoftext|>";

/// GPT-2's reversible map from bytes to printable characters: the printable Latin-1 bytes
/// stand for themselves, the other 68 (controls, space, DEL, NBSP, soft hyphen) take the
/// characters from U+0100 on, in byte order. Byte-level BPE files spell tokens with it.
fn byte_alphabet() -> [char; 256] {
    let mut map = ['\0'; 256];
    let mut next = 0x100u32;
    for (b, slot) in map.iter_mut().enumerate() {
        let b = b as u32;
        let printable =
            (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b);
        let code = if printable {
            b
        } else {
            next += 1;
            next - 1
        };
        *slot = char::from_u32(code).expect("below U+0200");
    }
    map
}

fn spell(bytes: &[u8], alphabet: &[char; 256]) -> String {
    bytes.iter().map(|&b| alphabet[b as usize]).collect()
}

/// The two parts byte-pair merging gives `bytes` when only tokens ranked below `limit` may
/// form (the merges that existed before this token's own): a token of the table is exactly
/// one merge of two earlier ones.
fn split_below(ranks: &Ranks, bytes: &[u8], limit: u32) -> Vec<std::ops::Range<usize>> {
    // Part boundaries; part i is bounds[i]..bounds[i + 1].
    let mut bounds: Vec<usize> = (0..=bytes.len()).collect();
    loop {
        let best = (0..bounds.len().saturating_sub(2))
            .filter_map(|i| {
                let r = ranks.get(&bytes[bounds[i]..bounds[i + 2]])?;
                (r < limit).then_some((r, i))
            })
            .min();
        match best {
            Some((_, i)) => {
                bounds.remove(i + 1);
            }
            None => break,
        }
    }
    bounds.windows(2).map(|w| w[0]..w[1]).collect()
}

/// Every multi-byte token's merge, in rank order.
fn merges(ranks: &Ranks) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    for (rank, bytes) in ranks.by_rank.iter().enumerate() {
        if bytes.len() < 2 {
            continue; // single bytes, and ids without bytes (specials)
        }
        let parts = split_below(ranks, bytes, rank as u32);
        if parts.len() != 2 {
            bail!(
                "token {rank} ({} parts below its rank) is not the merge of two earlier tokens",
                parts.len()
            );
        }
        out.push((
            bytes[parts[0].clone()].to_vec(),
            bytes[parts[1].clone()].to_vec(),
        ));
    }
    Ok(out)
}

/// The files of a byte-level BPE tokenizer built from a rank table. `pattern` is the
/// pre-tokenizer's regex, `None` for GPT-2's own (the byte-level pre-tokenizer's built-in).
fn byte_level_files(
    ranks: &Ranks,
    pattern: Option<&str>,
    eod: u32,
) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let alphabet = byte_alphabet();
    let mut vocab = serde_json::Map::new();
    for (id, bytes) in ranks.by_rank.iter().enumerate() {
        if !bytes.is_empty() {
            vocab.insert(spell(bytes, &alphabet), json!(id));
        }
    }
    // The end-of-text token belongs to the model's vocabulary too: Hugging Face numbers an
    // added token it cannot find there after the vocabulary, which would move cl100k's.
    vocab.insert(ENDOFTEXT.into(), json!(eod));
    let merges: Vec<String> = merges(ranks)?
        .iter()
        .map(|(a, b)| format!("{} {}", spell(a, &alphabet), spell(b, &alphabet)))
        .collect();
    let byte_level = |use_regex: bool| {
        json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
               "use_regex": use_regex})
    };
    let pre_tokenizer = match pattern {
        None => byte_level(true),
        Some(p) => json!({"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": p}, "behavior": "Isolated", "invert": false},
            byte_level(false),
        ]}),
    };
    let tokenizer = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [{"id": eod, "content": ENDOFTEXT, "single_word": false,
            "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
        "normalizer": null,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": null,
        "decoder": byte_level(true),
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null,
            "continuing_subword_prefix": null, "end_of_word_suffix": null,
            "fuse_unk": false, "byte_fallback": false,
            // tiktoken looks a whole piece up before merging; GPT-2's merges give the same.
            "ignore_merges": pattern.is_some(),
            "vocab": Value::Object(vocab.clone()),
            "merges": merges,
        },
    });
    let mut files = vec![("tokenizer.json", serde_json::to_vec(&tokenizer)?)];
    if pattern.is_none() {
        // GPT-2's classic files: the vocabulary, and the merges under their version line.
        files.push(("vocab.json", serde_json::to_vec(&Value::Object(vocab))?));
        let mut text = String::from("#version: 0.2\n");
        for m in &merges {
            text.push_str(m);
            text.push('\n');
        }
        files.push(("merges.txt", text.into_bytes()));
    }
    Ok(files)
}

impl Tokenizer {
    /// The Hugging Face files of this tokenizer, `(file name, contents)`, for a model
    /// directory that `AutoTokenizer.from_pretrained` loads: its ids for any text are this
    /// tokenizer's (special-token text inside a text aside, which Hugging Face splits off).
    /// `max_length` is the model's context.
    pub fn hf_files(&self, max_length: usize) -> Result<Vec<(&'static str, Vec<u8>)>> {
        let (mut files, eod_text) = match &self.engine {
            Engine::Gpt2(ranks) => (
                byte_level_files(ranks, None, self.eod())?,
                ENDOFTEXT.to_string(),
            ),
            Engine::Tiktoken(_, ranks) => {
                let pattern = match self.info.name.as_str() {
                    "cl100k" => CL100K_PATTERN,
                    "o200k" => tiktoken_rs::O200K_BASE_PAT_STR,
                    other => bail!("no Hugging Face pre-tokenizer known for {other}"),
                };
                (
                    byte_level_files(ranks, Some(pattern), self.eod())?,
                    ENDOFTEXT.to_string(),
                )
            }
            Engine::Hf(hf) => (
                vec![("tokenizer.json", hf.source.clone())],
                hf.token_text(self.eod())
                    .unwrap_or_else(|| ENDOFTEXT.to_string()),
            ),
        };
        let config = json!({
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": eod_text,
            "eos_token": eod_text,
            "add_bos_token": false,
            "add_eos_token": false,
            "clean_up_tokenization_spaces": false,
            "model_max_length": max_length,
        });
        files.push(("tokenizer_config.json", serde_json::to_vec_pretty(&config)?));
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Texts whose pieces meet every branch of the three patterns: contractions in both
    /// cases, digits in runs, whitespace runs before words and line breaks, punctuation runs,
    /// non-Latin scripts, emoji and a control character.
    const TEXTS: &[&str] = &[
        "Hello, world! It's 2024; we've   got 1234567 reasons.\n\n  Indented line\r\nwindows",
        "DON'T SHOUT'LL they'D   \t tabs\tand spaces   ",
        "naïve café — déjà vu; Ελληνικά κείμενα; русский текст; 日本語のテキスト; 한국어",
        "emoji 🙂🚀 and symbols ©®™ ½ ∑∫ \u{7} bell",
        "x=1+2*3/4-5; if (a&&b||!c) { return \"str\"; } // comment\n\tnext()",
        "   leading spaces and trailing    ",
        "CamelCaseWordsHTTPServer iPhone McDonald's 3rd 21st",
        "a\n\n\n\nb  \n  c\r\r\nd",
    ];

    fn round_trip(name: &str) {
        let tok = Tokenizer::by_name(name).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let files = tok.hf_files(1024).unwrap();
        for (file, bytes) in &files {
            std::fs::write(dir.path().join(file), bytes).unwrap();
        }
        let hf = Tokenizer::by_name(dir.path().join("tokenizer.json").to_str().unwrap()).unwrap();
        assert_eq!(hf.eod(), tok.eod(), "{name}");
        for text in TEXTS {
            let (mut want, mut got) = (Vec::new(), Vec::new());
            tok.encode(text, &mut want).unwrap();
            hf.encode(text, &mut got).unwrap();
            assert_eq!(got, want, "{name}: {text:?}");
            assert_eq!(hf.decode(&got), text.as_bytes(), "{name}: {text:?}");
        }
    }

    #[test]
    fn gpt2s_rebuilt_files_encode_as_sieve_does() {
        round_trip("gpt2");
        let tok = Tokenizer::by_name("gpt2").unwrap();
        let files = tok.hf_files(1024).unwrap();
        let get = |n: &str| &files.iter().find(|f| f.0 == n).unwrap().1;
        // GPT-2's published files: 50,000 merges, the first "Ġ t"; 50,257 entries.
        let merges = String::from_utf8(get("merges.txt").clone()).unwrap();
        let lines: Vec<&str> = merges.lines().collect();
        assert_eq!(lines[0], "#version: 0.2");
        assert_eq!(lines.len(), 50_001);
        assert_eq!(lines[1], "Ġ t");
        let vocab: serde_json::Map<String, Value> =
            serde_json::from_slice(get("vocab.json")).unwrap();
        assert_eq!(vocab.len(), 50_257);
        assert_eq!(vocab["<|endoftext|>"], 50_256);
        assert_eq!(vocab["!"], 0);
        assert_eq!(vocab["Ġthe"], 262);
    }

    #[test]
    fn cl100k_and_o200k_rebuilt_files_encode_as_tiktoken_does() {
        round_trip("cl100k");
        round_trip("o200k");
    }

    #[test]
    fn the_byte_alphabet_is_gpt2s() {
        let a = byte_alphabet();
        assert_eq!(a[b'!' as usize], '!');
        assert_eq!(a[b' ' as usize], 'Ġ'); // U+0120: space is the 33rd byte moved
        assert_eq!(a[0], 'Ā');
        assert_eq!(a[b'\n' as usize], 'Ċ');
        assert_eq!(a[0xad], 'Ń'); // soft hyphen, the last moved
        let distinct: std::collections::HashSet<char> = a.iter().copied().collect();
        assert_eq!(distinct.len(), 256);
    }
}
