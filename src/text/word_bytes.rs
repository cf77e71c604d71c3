//! The byte table both word readers start from: dedup's word shingles and decontamination's
//! n-grams read text a byte at a time, and only bytes of multi-byte characters go the slow
//! (decoding) way.
//!
//! They disagree on one character, on purpose: `_`. Decontamination follows Megatron's
//! `filter_ngrams.py`, which splits words on `\W` (Python's `\w` holds `_`), so `snake_case`
//! is one word there and a task n-gram must match it as one. Dedup follows datatrove, whose
//! text normalisation drops punctuation, `_` included, before shingling (FineWeb's MinHash),
//! so `snake_case` is two words. Each is right for the reference it must match; the table says
//! which with one argument.

/// A byte of a multi-byte character.
pub const NON_ASCII: u8 = 0xff;

/// Per byte: an ASCII word character → its lowercase form, an ASCII separator → 0, a byte of
/// a multi-byte character → [`NON_ASCII`]. Letters and digits are word characters; `_` is
/// one when `underscore_is_word`.
pub const fn ascii_word_table(underscore_is_word: bool) -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c >= 0x80 {
            NON_ASCII
        } else if c.is_ascii_alphanumeric() || (underscore_is_word && c == b'_') {
            c.to_ascii_lowercase()
        } else {
            0
        };
        b += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn underscore_is_a_word_character_only_when_asked() {
        let megatron = ascii_word_table(true);
        let datatrove = ascii_word_table(false);
        assert_eq!(megatron[b'_' as usize], b'_');
        assert_eq!(datatrove[b'_' as usize], 0);
        assert_eq!(megatron[b'Q' as usize], b'q');
        assert_eq!(datatrove[b'7' as usize], b'7');
        assert_eq!(datatrove[b'-' as usize], 0);
        assert_eq!(megatron[0xc3], NON_ASCII);
    }
}
