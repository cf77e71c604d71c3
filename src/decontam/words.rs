//! Words as the decontamination algorithm sees them: runs of `\w` (letters, digits, marks of
//! letters, underscore), lowercased, each with its position in the text.

use xxhash_rust::xxh3::xxh3_64;

use crate::text::word_bytes::{ascii_word_table, NON_ASCII};

/// One word: its hash (of the lowercase form) and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word {
    pub hash: u64,
    /// Byte range in the text that was tokenized.
    pub start: usize,
    pub end: usize,
    /// Length in characters of the lowercase form (for the Megatron quirk that measures the
    /// joined n-gram instead of the matched span).
    pub lower_chars: u32,
}

/// Python's `\w` for `str`: alphanumeric or underscore.
#[inline]
pub fn is_word_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// The hash of a lowercase word; words of up to 8 bytes are mixed as one integer.
#[inline]
fn word_hash(lower: &[u8]) -> u64 {
    if lower.len() <= 8 {
        let mut v = [0u8; 8];
        v[..lower.len()].copy_from_slice(lower);
        crate::dedup::shingle::fmix64(u64::from_le_bytes(v) ^ ((lower.len() as u64) << 59))
    } else {
        xxh3_64(lower)
    }
}

/// Per byte, with `_` a word character as in Megatron's `\w` (see `text/word_bytes.rs`).
const CLASS: [u8; 256] = ascii_word_table(true);

/// The lowercase bytes of the word being read; words longer than 64 bytes spill to `long`.
struct WordBuf {
    short: [u8; 64],
    long: Vec<u8>,
    len: usize,
    chars: u32,
}

impl WordBuf {
    #[inline]
    fn push(&mut self, b: u8) {
        if self.len < 64 {
            self.short[self.len] = b;
        } else {
            if self.len == 64 {
                self.long.clear();
                self.long.extend_from_slice(&self.short);
            }
            self.long.push(b);
        }
        self.len += 1;
    }

    fn bytes(&self) -> &[u8] {
        if self.len <= 64 {
            &self.short[..self.len]
        } else {
            &self.long
        }
    }
}

/// Whether lowercasing `c` changes the character count or turns a word character into a
/// separator or back (`İ` → `i̇`).
fn lowercasing_reshapes(c: char) -> bool {
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => is_word_char(l) != is_word_char(c),
        _ => true,
    }
}

/// The words of `text`, each hashed by its lowercase UTF-8 form. Offsets are byte offsets into
/// `text` itself, so lowercasing that changes lengths (`İ` → `i̇`) never shifts a cut.
///
/// Returns whether lowercasing some character of `text` would reshape it (see
/// [`lowercasing_reshapes`]): only then do the words of `text.to_lowercase()` differ from
/// these in anything but their offsets' units, which Megatron mode needs to know.
pub fn words(text: &str, out: &mut Vec<Word>) -> bool {
    out.clear();
    let bytes = text.as_bytes();
    let n = bytes.len();
    let mut w = WordBuf {
        short: [0; 64],
        long: Vec::new(),
        len: 0,
        chars: 0,
    };
    let mut reshapes = false;
    let mut i = 0;
    loop {
        // Skip ASCII separators.
        while i < n && CLASS[bytes[i] as usize] == 0 {
            i += 1;
        }
        if i >= n {
            break;
        }
        // Skip non-ASCII separators (decoded one character at a time).
        if CLASS[bytes[i] as usize] == NON_ASCII {
            let c = text[i..].chars().next().expect("inside the string");
            if !is_word_char(c) {
                reshapes |= lowercasing_reshapes(c);
                i += c.len_utf8();
                continue;
            }
        }
        // A word starts at i: ASCII bytes on the fast path, others decoded.
        let start = i;
        w.len = 0;
        w.chars = 0;
        while i < n {
            let class = CLASS[bytes[i] as usize];
            if class == 0 {
                break;
            }
            if class != NON_ASCII {
                w.push(class);
                w.chars += 1;
                i += 1;
                continue;
            }
            let c = text[i..].chars().next().expect("inside the string");
            if !is_word_char(c) {
                break;
            }
            let chars_before = w.chars;
            for l in c.to_lowercase() {
                let mut enc = [0u8; 4];
                for &e in l.encode_utf8(&mut enc).as_bytes() {
                    w.push(e);
                }
                reshapes |= !is_word_char(l);
                w.chars += 1;
            }
            reshapes |= w.chars != chars_before + 1;
            i += c.len_utf8();
        }
        out.push(Word {
            hash: word_hash(w.bytes()),
            start,
            end: i,
            lower_chars: w.chars,
        });
    }
    reshapes
}

/// The key of a word sequence: a polynomial over the word hashes. Keys of every window are
/// computed from prefix sums in O(1) each (see [`Windows`]).
const BASE: u64 = 0x9e37_79b9_7f4a_7c15 | 1;

/// The key of the whole sequence `hashes`.
pub fn sequence_key(hashes: impl IntoIterator<Item = u64>) -> u64 {
    let mut h = 0u64;
    let mut n = 0u64;
    for w in hashes {
        h = h.wrapping_mul(BASE).wrapping_add(w);
        n += 1;
    }
    finish_key(h, n)
}

#[inline]
fn finish_key(h: u64, len: u64) -> u64 {
    // Mixing in the length keeps windows of different lengths apart.
    crate::dedup::shingle::fmix64(h ^ len.wrapping_mul(0xc2b2_ae3d_27d4_eb4f))
}

/// Prefix sums of word hashes: the key of any window in O(1).
#[derive(Default)]
pub struct Windows {
    prefix: Vec<u64>,
    powers: Vec<u64>,
}

impl Windows {
    pub fn reset(&mut self, words: &[Word]) {
        self.prefix.clear();
        self.prefix.push(0);
        let mut h = 0u64;
        for w in words {
            h = h.wrapping_mul(BASE).wrapping_add(w.hash);
            self.prefix.push(h);
        }
        if self.powers.is_empty() {
            self.powers.push(1);
        }
    }

    fn power(&mut self, n: usize) -> u64 {
        while self.powers.len() <= n {
            let last = *self.powers.last().expect("starts with 1");
            self.powers.push(last.wrapping_mul(BASE));
        }
        self.powers[n]
    }

    /// The key of words `i .. i + len`; equals [`sequence_key`] of their hashes.
    #[inline]
    pub fn key(&mut self, i: usize, len: usize) -> u64 {
        let p = self.power(len);
        let h = self.prefix[i + len].wrapping_sub(self.prefix[i].wrapping_mul(p));
        finish_key(h, len as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_offsets_on_the_original_text() {
        let text = "İstanbul's  CAFÉ_au-lait!";
        let mut w = Vec::new();
        words(text, &mut w);
        let spans: Vec<&str> = w.iter().map(|w| &text[w.start..w.end]).collect();
        assert_eq!(spans, ["İstanbul", "s", "CAFÉ_au", "lait"]);
        // "İ" lowercases to two characters: the quirk's measure sees it, offsets do not.
        assert_eq!(w[0].lower_chars, 9);
        let mut v = Vec::new();
        words("istanbul S café_AU lait", &mut v);
        assert_eq!(w[1].hash, v[1].hash);
        assert_eq!(w[2].hash, v[2].hash);
    }

    #[test]
    fn window_keys_equal_whole_sequence_keys() {
        let mut w = Vec::new();
        words("a b c d e f g h i j k l m n o p", &mut w);
        let mut win = Windows::default();
        win.reset(&w);
        for (i, len) in [(0, 13), (3, 8), (2, 12), (0, 1)] {
            let direct = sequence_key(w[i..i + len].iter().map(|w| w.hash));
            assert_eq!(win.key(i, len), direct);
        }
        assert_ne!(win.key(0, 8), win.key(1, 8));
    }
}
