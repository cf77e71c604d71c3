//! Text → shingle hashes, the exact-text key and the normalised URL key.
//!
//! Normalisation is the same for every key: lowercase, punctuation and whitespace dropped,
//! words = runs of letters and digits (each CJK ideograph or kana is a word of its own, since
//! those scripts do not separate words with spaces). So "Hello, World!" and "hello world"
//! have the same exact key and the same word shingles.

use std::fmt;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_128, Xxh3};

use crate::text::word_bytes::{ascii_word_table, NON_ASCII};

/// What a shingle is: `n` consecutive words or `n` consecutive characters of the normalised
/// text. Written `word:5` or `char:5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Shingling {
    Words(usize),
    Chars(usize),
}

impl Shingling {
    pub fn parse(s: &str) -> Result<Shingling> {
        let (kind, n) = s.split_once(':').unwrap_or((s, "5"));
        let n: usize = match n.parse() {
            Ok(n) if (1..=64).contains(&n) => n,
            _ => bail!("shingle size in `{s}` must be a number from 1 to 64"),
        };
        match kind {
            "word" | "words" => Ok(Shingling::Words(n)),
            "char" | "chars" => Ok(Shingling::Chars(n)),
            _ => bail!("unknown shingle type in `{s}` (use word:N or char:N)"),
        }
    }
}

impl fmt::Display for Shingling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shingling::Words(n) => write!(f, "word:{n}"),
            Shingling::Chars(n) => write!(f, "char:{n}"),
        }
    }
}

impl TryFrom<String> for Shingling {
    type Error = anyhow::Error;
    fn try_from(s: String) -> Result<Self> {
        Shingling::parse(&s)
    }
}

impl From<Shingling> for String {
    fn from(s: Shingling) -> String {
        s.to_string()
    }
}

/// The 64-bit finaliser of MurmurHash3: spreads every input bit over the whole word.
#[inline]
pub fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Scripts written without spaces between words: each character counts as a word.
fn is_unspaced_script(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // hiragana, katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0x20000..=0x2FA1F  // CJK extensions B–F
        | 0x0E00..=0x0EFF    // Thai, Lao
        | 0x1000..=0x109F    // Myanmar
        | 0x1780..=0x17FF    // Khmer
    )
}

/// Per byte, with `_` a separator as in datatrove's normalisation (see `text/word_bytes.rs`).
const CLASS: [u8; 256] = ascii_word_table(false);

/// The hash of one normalised word (its lowercase UTF-8 bytes). Words of up to 8 bytes —
/// most of them — are mixed as one integer, cheaper than a general hash call.
#[inline]
fn word_hash(buf: &[u8; 256], len: usize) -> u64 {
    if len <= 8 {
        // One 8-byte load, the bytes past the word masked off: no variable-length copy.
        let v = u64::from_le_bytes(buf[..8].try_into().expect("8 bytes"));
        let v = v & (u64::MAX >> (64 - 8 * len as u32));
        fmix64(v ^ ((len as u64) << 59) ^ 0x5bd1_e995_3c6e_f372)
    } else {
        xxhash_rust::xxh3::xxh3_64(&buf[..len.min(buf.len())])
    }
}

/// Calls `word` with the hash of every normalised word of `text`, in order.
pub fn for_each_word_hash(text: &str, mut word: impl FnMut(u64)) {
    // The lowercase bytes of the current word; words longer than this are hashed by their
    // first 256 bytes, which no real word reaches.
    let mut buf = [0u8; 256];
    let bytes = text.as_bytes();
    let n = bytes.len();
    let mut i = 0;
    loop {
        // Skip ASCII separators in a tight loop.
        while i < n && CLASS[bytes[i] as usize] == 0 {
            i += 1;
        }
        if i >= n {
            break;
        }
        let mut len = 0usize;
        while i < n {
            let l = CLASS[bytes[i] as usize];
            if l == 0 {
                break;
            }
            if l != NON_ASCII {
                // Words over 256 bytes wrap around the buffer: still one deterministic hash.
                buf[len & 255] = l;
                len += 1;
                i += 1;
                continue;
            }
            // Non-ASCII: decode one character (the text is valid UTF-8).
            let c = text[i..].chars().next().expect("inside the string");
            if !c.is_alphanumeric() {
                if len == 0 {
                    i += c.len_utf8(); // a separator between words
                }
                break;
            }
            if is_unspaced_script(c) {
                if len == 0 {
                    let mut one = [0u8; 4];
                    len = c.encode_utf8(&mut one).len();
                    buf[..len].copy_from_slice(&one[..len]);
                    i += c.len_utf8();
                }
                break; // the ideograph is a word of its own, next round
            }
            for l in c.to_lowercase() {
                let mut enc = [0u8; 4];
                for &e in l.encode_utf8(&mut enc).as_bytes() {
                    if len < buf.len() {
                        buf[len] = e;
                    }
                    len += 1;
                }
            }
            i += c.len_utf8();
        }
        if len > 0 {
            word(word_hash(&buf, len));
        }
    }
}

/// The normalised characters of `text`: lowercase, whitespace runs as one space, trimmed.
fn for_each_normalized_char(text: &str, mut emit: impl FnMut(u32)) {
    let mut pending_space = false;
    let mut started = false;
    for c in text.chars() {
        if c.is_whitespace() {
            pending_space = started;
            continue;
        }
        if pending_space {
            emit(' ' as u32);
            pending_space = false;
        }
        started = true;
        if c.is_ascii() {
            emit(c.to_ascii_lowercase() as u32);
        } else {
            for l in c.to_lowercase() {
                emit(l as u32);
            }
        }
    }
}

/// Combines `n` consecutive hashes into one shingle hash. Each position gets its own
/// rotation, so the order matters ("a b" ≠ "b a"); the unit hashes are already uniform, and
/// the final mix spreads the result.
#[inline]
fn combine(window: &[u64]) -> u64 {
    let mut h = window.len() as u64;
    for (i, &w) in window.iter().enumerate() {
        h ^= w.rotate_left((i as u32 * 23) & 63);
    }
    fmix64(h)
}

/// Reusable buffers for shingling one document after another without allocating.
#[derive(Default)]
pub struct Shingler {
    units: Vec<u64>,
    /// The 32-bit shingle values of the last document: the set MinHash runs over, sorted
    /// and without repeats.
    pub set: Vec<u32>,
}

impl Shingler {
    /// Computes the shingle set of `text` into `self.set`. A text with fewer units than the
    /// shingle size has an empty set: such documents are matched by the exact key only
    /// (otherwise all of them would collide with each other).
    pub fn shingle(&mut self, text: &str, how: Shingling) {
        self.shingle_values(text, how);
        self.make_set();
    }

    /// Like [`Shingler::shingle`] but leaves `self.set` unsorted and with repeats: all that
    /// MinHash needs (a minimum does not care), without the cost of sorting.
    pub fn shingle_values(&mut self, text: &str, how: Shingling) {
        self.units.clear();
        self.set.clear();
        let n = match how {
            Shingling::Words(n) => {
                for_each_word_hash(text, |h| self.units.push(h));
                n
            }
            Shingling::Chars(n) => {
                for_each_normalized_char(text, |c| self.units.push(c as u64));
                n
            }
        };
        if self.units.len() < n {
            return;
        }
        self.set
            .extend(self.units.windows(n).map(|w| (combine(w) >> 32) as u32));
    }

    /// Sorts `self.set` and removes repeats (after [`Shingler::shingle_values`]).
    pub fn make_set(&mut self) {
        self.set.sort_unstable();
        self.set.dedup();
    }
}

/// The 128-bit key of the normalised text (exact dedup). A text without any word falls back
/// to its trimmed bytes, so that "!!!" and "???" are not duplicates of each other.
pub fn text_key(text: &str) -> u128 {
    let mut hasher = Xxh3::new();
    let mut words = 0usize;
    for_each_word_hash(text, |h| {
        hasher.update(&h.to_le_bytes());
        words += 1;
    });
    if words == 0 {
        return xxh3_128(text.trim().as_bytes()) | 1;
    }
    // Never 0: 0 means "no key" in the docs table.
    hasher.digest128() | 1
}

/// The normalised form of a URL for URL dedup: scheme dropped (http and https are the same
/// page), host lowercased without a leading `www.`, default ports and the fragment removed,
/// a trailing `/` of the path removed. The query is kept: it often selects different content.
pub fn normalize_url(url: &str) -> Option<String> {
    let url = url.trim();
    if url.is_empty() {
        return None;
    }
    let rest = match url.find("://") {
        Some(p) => &url[p + 3..],
        None => url,
    };
    let rest = rest.split('#').next().unwrap_or("");
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_query) = rest.split_at(split);
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let mut host = host_port.to_ascii_lowercase();
    for default_port in [":80", ":443"] {
        if let Some(h) = host.strip_suffix(default_port) {
            host = h.to_string();
        }
    }
    let host = host
        .strip_prefix("www.")
        .unwrap_or(&host)
        .trim_end_matches('.');
    if host.is_empty() {
        return None;
    }
    let (path, query) = match path_query.find('?') {
        Some(q) => (&path_query[..q], &path_query[q..]),
        None => (path_query, ""),
    };
    let path = path.trim_end_matches('/');
    let query = if query == "?" { "" } else { query };
    Some(format!("{host}{path}{query}"))
}

/// The 128-bit key of a URL (0 = no usable URL).
pub fn url_key(url: Option<&str>) -> u128 {
    match url.and_then(normalize_url) {
        Some(u) => xxh3_128(u.as_bytes()) | 1,
        None => 0,
    }
}

/// Exact Jaccard similarity of two sorted sets without repeats.
pub fn jaccard_sorted<T: Ord>(a: &[T], b: &[T]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    common as f64 / (a.len() + b.len() - common) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(t: &str) -> Vec<u64> {
        let mut v = Vec::new();
        for_each_word_hash(t, |h| v.push(h));
        v
    }

    #[test]
    fn words_ignore_case_and_punctuation() {
        assert_eq!(words("Hello, World!"), words("hello   world"));
        assert_eq!(words("Ünïcode ÉTÉ"), words("ünïcode été"));
        assert_eq!(words("a-b c").len(), 3);
        assert_eq!(words("東京都").len(), 3);
        assert_ne!(words("abc"), words("abd"));
    }

    #[test]
    fn exact_key_is_normalised() {
        assert_eq!(text_key("The cat sat."), text_key("the  CAT sat"));
        assert_ne!(text_key("the cat sat"), text_key("the sat cat"));
        assert_ne!(text_key("!!!"), text_key("???"));
    }

    #[test]
    fn url_normalisation() {
        let n = |u| normalize_url(u).unwrap();
        assert_eq!(
            n("https://www.Example.com/a/"),
            n("http://example.com/a#top")
        );
        assert_eq!(n("http://example.com:80/a"), "example.com/a");
        assert_eq!(n("https://example.com/?"), "example.com");
        assert_ne!(n("http://example.com/a?x=1"), n("http://example.com/a?x=2"));
        assert!(normalize_url("").is_none());
    }

    #[test]
    fn shingle_sets_and_jaccard() {
        let mut s = Shingler::default();
        s.shingle("one two three four five six", Shingling::Words(5));
        assert_eq!(s.set.len(), 2);
        let a = s.set.clone();
        s.shingle("one two three four", Shingling::Words(5));
        assert!(s.set.is_empty(), "shorter than a shingle: no set");
        s.shingle("ONE two, three four five seven", Shingling::Words(5));
        assert!((jaccard_sorted(&a, &s.set) - 1.0 / 3.0).abs() < 1e-9);
        s.shingle("abcdef", Shingling::Chars(5));
        assert_eq!(s.set.len(), 2);
        assert_eq!(Shingling::parse("char:7").unwrap(), Shingling::Chars(7));
        assert!(Shingling::parse("byte:5").is_err());
    }
    /// The normalised words of `text` written out independently of the byte-table scanner:
    /// letters and digits lowercased, everything else (`_` too) a separator, each character
    /// of an unspaced script a word of its own (kept as written).
    fn reference_words(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut word = String::new();
        for c in text.chars() {
            if !c.is_alphanumeric() {
                out.extend((!word.is_empty()).then(|| std::mem::take(&mut word)));
            } else if is_unspaced_script(c) {
                out.extend((!word.is_empty()).then(|| std::mem::take(&mut word)));
                out.push(c.to_string());
            } else {
                word.extend(c.to_lowercase());
            }
        }
        out.extend((!word.is_empty()).then_some(word));
        out
    }

    /// The hash of one normalised word given as a string (at most 256 bytes).
    fn hash_of(word: &str) -> u64 {
        let mut buf = [0u8; 256];
        buf[..word.len()].copy_from_slice(word.as_bytes());
        word_hash(&buf, word.len())
    }

    #[test]
    fn the_scanner_finds_the_words_a_plain_reading_finds() {
        let texts = [
            "Hello, World!",
            "  leading and trailing   ",
            "a_b snake_case __init__",
            "x",
            "",
            "...",
            "naïve café — Ünïcode, ÉTÉ. «quoted» ¿sí?",
            "東京都に住む Tokyo人",
            "ภาษาไทย and ລາວ",
            "mixed123 456 ＡＢＣ full-width",
            "Straße İstanbul ǅemal",
            "—dash— …ellipsis… end—",
            "tab\tnew\nline\r\nend",
        ];
        // Plus every way of cutting a text full of boundaries: each suffix starts mid-text.
        let long = "Der Bär — ate 3 apples_and 東京 «pears» at l'Hôpital, ok?! Ωmega";
        let suffixes = long.char_indices().map(|(i, _)| &long[i..]);
        for text in texts.into_iter().chain(suffixes) {
            let expected: Vec<u64> = reference_words(text).iter().map(|w| hash_of(w)).collect();
            assert_eq!(
                words(text),
                expected,
                "{text:?} = {:?}",
                reference_words(text)
            );
        }
    }

    #[test]
    fn long_words_are_one_word_each() {
        let ascii = "a".repeat(300);
        let accented = "é".repeat(200); // 400 bytes
        let text = format!("{ascii} {accented} x");
        let w = words(&text);
        assert_eq!(w.len(), 3);
        assert_eq!(w[2], hash_of("x"));
        assert_ne!(w[0], w[1]);
        assert_eq!(words(&text), w);
    }

    #[test]
    fn word_hashes_are_distinct_and_independent_of_the_word_before() {
        let alphabet: Vec<char> = ('a'..='z').chain('0'..='9').collect();
        let mut all: Vec<String> = Vec::new();
        for &a in &alphabet {
            all.push(a.to_string());
            for &b in &alphabet {
                all.push(format!("{a}{b}"));
                all.push(format!("abcdef{a}{b}")); // 8 bytes: the last mixed-as-integer length
                all.push(format!("abcdefg{a}{b}")); // 9 bytes: the general hash
            }
        }
        let hashes: std::collections::HashSet<u64> = all.iter().map(|w| hash_of(w)).collect();
        assert_eq!(hashes.len(), all.len(), "two words share a hash");
        // The buffer keeps the bytes of a longer word before: they must not leak in.
        for (before, word) in [("abcdefgh", "ab"), ("hello", "hi"), ("xyzzyxyzzy", "q")] {
            assert_eq!(words(&format!("{before} {word}"))[1], hash_of(word));
        }
    }

    #[test]
    fn murmur3_finaliser_values() {
        // MurmurHash3's fmix64 on three inputs, computed from its published constants.
        assert_eq!(fmix64(0), 0);
        assert_eq!(fmix64(1), 0xb456_bcfc_34c2_cb2c);
        assert_eq!(fmix64(2), 0x3abf_2a20_6506_83e7);
        assert_eq!(fmix64(0x0123_4567_89ab_cdef), 0x87cb_fbfe_8902_2cea);
    }

    #[test]
    fn shingle_sizes_parse_within_their_range() {
        assert_eq!(Shingling::parse("word").unwrap(), Shingling::Words(5));
        assert_eq!(Shingling::parse("chars").unwrap(), Shingling::Chars(5));
        assert_eq!(Shingling::parse("words:1").unwrap(), Shingling::Words(1));
        assert_eq!(Shingling::parse("word:64").unwrap(), Shingling::Words(64));
        for bad in ["word:0", "word:65", "char:x", "char:", ":5"] {
            assert!(Shingling::parse(bad).is_err(), "{bad}");
        }
        for s in [Shingling::Words(3), Shingling::Chars(13)] {
            assert_eq!(Shingling::try_from(String::from(s)).unwrap(), s);
        }
        assert_eq!(String::from(Shingling::Chars(7)), "char:7");
    }

    #[test]
    fn a_text_of_exactly_one_shingle_has_one() {
        let mut s = Shingler::default();
        s.shingle("one two three four five", Shingling::Words(5));
        assert_eq!(s.set.len(), 1);
        s.shingle("abcde", Shingling::Chars(5));
        assert_eq!(s.set.len(), 1);
        s.shingle("abcd", Shingling::Chars(5));
        assert!(s.set.is_empty());
        // Repeated shingles count once, and the set is sorted.
        s.shingle("a b a b a b a b", Shingling::Words(2));
        assert_eq!(s.set.len(), 2);
        s.shingle(
            "the quick brown fox jumps over the lazy dog again",
            Shingling::Words(2),
        );
        assert!(s.set.windows(2).all(|w| w[0] < w[1]), "{:?}", s.set);
        assert_eq!(s.set.len(), 9);
    }

    #[test]
    fn char_shingles_see_the_normalised_text_in_order() {
        let mut s = Shingler::default();
        let set = |s: &mut Shingler, t: &str| {
            s.shingle(t, Shingling::Chars(3));
            s.set.clone()
        };
        let plain = set(&mut s, "hello wörld");
        assert_eq!(set(&mut s, "  HeLLo \t\n  WÖRLD \n"), plain);
        assert_ne!(set(&mut s, "helloworld"), plain);
        assert_eq!(plain.len(), 9);
        // Order inside a shingle matters, for characters and for words.
        assert_ne!(set(&mut s, "abc"), set(&mut s, "cba"));
        assert_ne!(set(&mut s, "aab"), set(&mut s, "aba"));
        s.shingle("dog bites man", Shingling::Words(3));
        let a = s.set.clone();
        s.shingle("man bites dog", Shingling::Words(3));
        assert_ne!(a, s.set);
    }

    #[test]
    fn jaccard_by_hand() {
        assert_eq!(jaccard_sorted::<u32>(&[], &[]), 1.0);
        assert_eq!(jaccard_sorted(&[], &[1]), 0.0);
        assert_eq!(jaccard_sorted(&[1], &[]), 0.0);
        assert_eq!(jaccard_sorted(&[1], &[1]), 1.0);
        assert_eq!(jaccard_sorted(&[1, 2, 3], &[2, 3, 4]), 0.5);
        assert_eq!(jaccard_sorted(&[1, 2, 3, 4], &[4]), 0.25);
        assert_eq!(jaccard_sorted(&[4], &[1, 2, 3, 4]), 0.25);
        assert_eq!(jaccard_sorted(&[1, 5, 9], &[2, 5, 10, 11]), 1.0 / 6.0);
        assert_eq!(jaccard_sorted(&[1, 3, 5, 7], &[1, 3, 5, 7]), 1.0);
    }

    #[test]
    fn url_forms_of_one_page_share_a_key() {
        let n = |u| normalize_url(u).unwrap();
        assert_eq!(
            n("https://user:pw@WWW.example.com:443/a/b/"),
            "example.com/a/b"
        );
        assert_eq!(n("example.com./x?q=1#frag"), "example.com/x?q=1");
        assert_eq!(n("  http://example.com?b=2  "), "example.com?b=2");
        assert_eq!(n("ftp://host:8080/p"), "host:8080/p");
        assert!(normalize_url("http://www./").is_none());
        assert!(normalize_url("   ").is_none());
        assert_eq!(url_key(None), 0);
        assert_eq!(url_key(Some("http:///")), 0);
        assert_eq!(
            url_key(Some("http://a.org/x")),
            url_key(Some("https://www.a.org/x/"))
        );
        assert_ne!(
            url_key(Some("http://a.org/x")),
            url_key(Some("http://a.org/y"))
        );
    }

    /// Keys, shingle values and signatures are stored in dedup indexes that later runs read
    /// (`against`): a change of any hash would silently stop matching an earlier snapshot.
    /// These values were written by this code; a change must come with a new index format.
    #[test]
    fn stored_hash_values_do_not_change() {
        let text = "The quick brown fox jumps over the lazy dog. 東京 naïve café!";
        assert_eq!(text_key(text), 0xdbd1_686b_023d_6886_95b7_2b8d_3c3c_ee9f);
        assert_eq!(text_key("!!!"), 0xd1e3_a20a_9e4c_3dde_9560_6572_57ca_2469);
        assert_eq!(
            url_key(Some("https://www.example.com/a?x=1")),
            0x223a_25d5_ac25_bd40_0266_3d41_14f4_9f07
        );
        let mut s = Shingler::default();
        s.shingle(text, Shingling::Words(5));
        assert_eq!(
            s.set[..4],
            [0x0612_eae7, 0x0995_8e2d, 0x2cdd_82ff, 0x905f_7fb1]
        );
        s.shingle(text, Shingling::Chars(5));
        assert_eq!(
            s.set[..4],
            [0x0adc_1215, 0x0ade_70c1, 0x0c01_8a0d, 0x0dc3_a18a]
        );
        let mut sig = Vec::new();
        crate::dedup::minhash::MinHasher::new(260, 1).signature(&s.set, &mut sig);
        assert_eq!(
            sig[..4],
            [0x0017_9379, 0x07a5_a201, 0x037c_2c5d, 0x0224_77cb]
        );
        assert_eq!(
            crate::dedup::minhash::band_key(&sig, 19, 13),
            0x6d12_3527_61e1_27c7
        );
    }
}
