//! The GPT-2 tokenizer on arbitrary text, and Hugging Face `tokenizer.json` files.

use std::sync::OnceLock;

use crate::tokenize::hf::HfTokenizer;
use crate::tokenize::Tokenizer;

fn gpt2() -> &'static Tokenizer {
    static T: OnceLock<Tokenizer> = OnceLock::new();
    T.get_or_init(|| Tokenizer::by_name("gpt2").expect("the bundled GPT-2 vocabulary"))
}

/// Arbitrary bytes as text (invalid UTF-8 replaced) through GPT-2's byte-level BPE: every id
/// is inside the vocabulary, decoding gives the text back byte for byte, and there are no
/// more tokens than bytes. The same bytes as a `tokenizer.json` are loaded or refused without
/// panicking, and a tokenizer that loads encodes and decodes a line.
pub fn tokenizer(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let t = gpt2();
    let mut ids = Vec::new();
    t.encode(&text, &mut ids).expect("GPT-2 encodes any text");
    assert!(
        ids.len() <= text.len(),
        "{} tokens from {} bytes",
        ids.len(),
        text.len()
    );
    assert!(
        ids.iter().all(|&i| i < t.info.vocab_size),
        "an id outside the vocabulary"
    );
    assert!(
        t.decode(&ids) == text.as_bytes(),
        "decoding does not give the text back"
    );

    let path = super::scratch_file("tokenizer.json", data);
    if let Ok((hf, info)) = HfTokenizer::open(&path) {
        let mut ids = Vec::new();
        if hf.encode("Hello, world! 123", &mut ids).is_ok() {
            assert!(
                ids.iter().all(|&i| i < info.vocab_size.max(1) * 2),
                "ids {ids:?}"
            );
            let _ = hf.decode(&ids);
        }
    }
}
