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

/// The hash of a lowercase word; words of up to 8 bytes are mixed as one integer. A word never
/// holds a NUL byte, so the zero padding keeps words of different lengths apart.
#[inline]
fn word_hash(lower: &[u8]) -> u64 {
    if lower.len() <= 8 {
        let mut v = [0u8; 8];
        v[..lower.len()].copy_from_slice(lower);
        crate::dedup::shingle::fmix64(u64::from_le_bytes(v))
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

/// The words of `text`, each hashed by its lowercase UTF-8 form. Offsets are byte offsets into
/// `text` itself, so lowercasing that changes lengths (`İ` → `i̇`) never shifts a cut.
///
/// Returns whether lowercasing some character of `text` would reshape it (change the number
/// of characters, or turn a word character into a separator): only then do the words of `text.to_lowercase()` differ from
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
                // No separator changes shape when lowercased (a test checks all of Unicode).
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
                // Final sigma: `str.lower()` writes Σ as ς at the end of a word and σ
                // elsewhere, and this loop sees one character at a time; hashing both as σ
                // lets "ΟΔΟΣ" in a document match "οδος" in a task wherever it is cut.
                let l = if l == 'ς' { 'σ' } else { l };
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

    /// Python's `\w` on `str`, written out: what a word is made of.
    fn is_w(c: char) -> bool {
        c.is_alphanumeric() || c == '_'
    }

    /// Maximal runs of `\w` characters: byte range and lowercase form (final sigma as σ).
    fn reference_words(text: &str) -> Vec<(usize, usize, String)> {
        let mut out = Vec::new();
        let mut start = None;
        for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
            match (start, is_w(c) && i < text.len()) {
                (None, true) => start = Some(i),
                (Some(s), false) => {
                    out.push((s, i, text[s..i].to_lowercase().replace('ς', "σ")));
                    start = None;
                }
                _ => {}
            }
        }
        out
    }

    #[test]
    fn words_are_the_runs_of_word_characters_compared_by_their_lowercase() {
        // ASCII and not, letters that lowercase to two characters (İ) or to ASCII (Kelvin K),
        // final sigma, a ligature, a combining accent, digits of other scripts, separators
        // outside ASCII, and a 70-byte word (past the 64-byte buffer).
        let long = "x".repeat(69);
        let alphabet = [
            "a", "B", "z", "Q", "0", "9", "_", " ", "\t", "\n", ",", ".", "-", "'", "İ", "É", "é",
            "ß", "ẞ", "Σ", "ς", "σ", "ǅ", "\u{301}", "١", "日", "\u{a0}", "—", "Ⅻ", "\u{212a}",
            "ﬁ", "\u{2126}", "p", "y", &long,
        ];
        let mut next = crate::decontam::golden_tests::generator(7);
        let mut hashes: std::collections::HashMap<String, u64> = Default::default();
        let mut got = Vec::new();
        for _ in 0..4000 {
            let text: String = (0..next(30))
                .map(|_| alphabet[next(alphabet.len())])
                .collect();
            let reshapes = words(&text, &mut got);
            let expected = reference_words(&text);
            let spans: Vec<(usize, usize)> = got.iter().map(|w| (w.start, w.end)).collect();
            let want: Vec<(usize, usize)> = expected.iter().map(|e| (e.0, e.1)).collect();
            assert_eq!(spans, want, "{text:?}");
            for (w, (_, _, lower)) in got.iter().zip(&expected) {
                assert_eq!(w.lower_chars as usize, lower.chars().count(), "{lower:?}");
                assert_eq!(*hashes.entry(lower.clone()).or_insert(w.hash), w.hash);
            }
            // Lowercasing reshapes the text when a character becomes more or fewer
            // characters, or a word character a separator or back.
            let reshaping = text.chars().any(|c| {
                let l: Vec<char> = c.to_lowercase().collect();
                l.len() != 1 || is_w(l[0]) != is_w(c)
            });
            assert_eq!(reshapes, reshaping, "{text:?}");
        }
        // Different lowercase words, different hashes: also "aaaaaaa0" and "aaaaaaap", whose
        // last bytes differ in one bit, and 70-byte words differing in their last byte.
        for pair in [["aaaaaaa0", "aaaaaaap"], ["x", "xx"]] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            words(pair[0], &mut a);
            words(pair[1], &mut b);
            assert_ne!(a[0].hash, b[0].hash, "{pair:?}");
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        words(&format!("{long}a"), &mut a);
        words(&format!("{long}b"), &mut b);
        assert_ne!(a[0].hash, b[0].hash);
        let mut seen: std::collections::HashMap<u64, &String> = Default::default();
        for (lower, h) in &hashes {
            assert_eq!(*seen.entry(*h).or_insert(lower), lower);
        }
        assert!(hashes.len() > 1000, "{}", hashes.len());
        let (mut caps, mut lower) = (Vec::new(), Vec::new());
        words("ΟΔΟΣ ΣΟΦΟΣ", &mut caps);
        words("οδος σοφος", &mut lower);
        assert_eq!(caps, {
            let mut l = lower.clone();
            l.iter_mut()
                .zip(&caps)
                .for_each(|(l, c)| (l.start, l.end) = (c.start, c.end));
            l
        });
    }

    #[test]
    fn no_separator_changes_shape_when_lowercased() {
        // Why `words` looks at word characters only when it reports reshaping.
        let reshaping: Vec<char> = (0..=0x10ffff)
            .filter_map(char::from_u32)
            .filter(|&c| !is_w(c))
            .filter(|&c| {
                let l: Vec<char> = c.to_lowercase().collect();
                l.len() != 1 || is_w(l[0])
            })
            .collect();
        assert_eq!(reshaping, Vec::<char>::new());
    }

    #[test]
    fn sequence_keys_tell_order_lengths_and_every_bit_apart() {
        // Order: the base is odd, so the polynomial is not a sum.
        assert_ne!(sequence_key([1, 2]), sequence_key([2, 1]));
        // An odd base is invertible modulo 2^64: 13 hashes differing only in the first one's
        // top bit (multiplied by base^12) still give different keys.
        let mut a = [5u64; 13];
        let k = sequence_key(a);
        a[0] ^= 1 << 63;
        assert_ne!(k, sequence_key(a));
        // The length is mixed in without losing bits of the polynomial.
        let keys: std::collections::HashSet<u64> = [0u64, 1, 2, 16, 1 << 40, 1 << 63]
            .iter()
            .map(|&h| sequence_key([h]))
            .chain([sequence_key([]), sequence_key([0, 0]), sequence_key([0, 1])])
            .collect();
        assert_eq!(keys.len(), 9);
    }
}
