//! datatrove's punctuation sets (`datatrove/utils/text.py`, 0.10.1), which its filters test
//! characters against.

use std::collections::HashSet;
use std::sync::OnceLock;

/// `TERMINAL_PUNCTUATION`: 159 sentence-final marks of many scripts (spaCy's sentencizer list
/// and 31 more). Its only ASCII members are `. ! ?`; `…`, `"` and `'` are not members.
const TERMINAL: &[(u32, u32)] = &[
    (0x21, 0x21),
    (0x2E, 0x2E),
    (0x3F, 0x3F),
    (0x589, 0x589),
    (0x61D, 0x61F),
    (0x6D4, 0x6D4),
    (0x700, 0x702),
    (0x7F9, 0x7F9),
    (0x837, 0x837),
    (0x839, 0x839),
    (0x83D, 0x83E),
    (0x964, 0x965),
    (0x104A, 0x104B),
    (0x1362, 0x1362),
    (0x1367, 0x1368),
    (0x166E, 0x166E),
    (0x1735, 0x1736),
    (0x17D4, 0x17D6),
    (0x17D9, 0x17DA),
    (0x1803, 0x1803),
    (0x1809, 0x1809),
    (0x1944, 0x1945),
    (0x1AA8, 0x1AAB),
    (0x1B5A, 0x1B5B),
    (0x1B5E, 0x1B5F),
    (0x1B7D, 0x1B7E),
    (0x1C3B, 0x1C3C),
    (0x1C7E, 0x1C7F),
    (0x203C, 0x203D),
    (0x2047, 0x2049),
    (0x2E2E, 0x2E2E),
    (0x2E3C, 0x2E3C),
    (0x2E53, 0x2E54),
    (0x3002, 0x3002),
    (0xA4FF, 0xA4FF),
    (0xA60E, 0xA60F),
    (0xA6F3, 0xA6F3),
    (0xA6F7, 0xA6F7),
    (0xA876, 0xA877),
    (0xA8CE, 0xA8CF),
    (0xA92F, 0xA92F),
    (0xA9C8, 0xA9C9),
    (0xAA5D, 0xAA5F),
    (0xAAF0, 0xAAF1),
    (0xABEB, 0xABEB),
    (0xFE52, 0xFE52),
    (0xFE56, 0xFE57),
    (0xFF01, 0xFF01),
    (0xFF0E, 0xFF0E),
    (0xFF1F, 0xFF1F),
    (0xFF61, 0xFF61),
    (0x10A56, 0x10A57),
    (0x10F55, 0x10F59),
    (0x10F86, 0x10F89),
    (0x11047, 0x11048),
    (0x110BE, 0x110C1),
    (0x11141, 0x11143),
    (0x111C5, 0x111C6),
    (0x111CD, 0x111CD),
    (0x111DE, 0x111DF),
    (0x11238, 0x11239),
    (0x1123B, 0x1123C),
    (0x112A9, 0x112A9),
    (0x1144B, 0x1144C),
    (0x115C2, 0x115C3),
    (0x115C9, 0x115D7),
    (0x11641, 0x11642),
    (0x1173C, 0x1173E),
    (0x11944, 0x11944),
    (0x11946, 0x11946),
    (0x11A42, 0x11A43),
    (0x11A9B, 0x11A9C),
    (0x11C41, 0x11C42),
    (0x11EF7, 0x11EF8),
    (0x11F43, 0x11F44),
    (0x16A6E, 0x16A6F),
    (0x16AF5, 0x16AF5),
    (0x16B37, 0x16B38),
    (0x16B44, 0x16B44),
    (0x16E98, 0x16E98),
    (0x1BC9F, 0x1BC9F),
    (0x1DA88, 0x1DA88),
];

/// The non-ASCII, non-control characters of datatrove's `PUNCTUATION` string.
const PUNCTUATION_EXTRA: &str = "«´»–—’“”„…∶━►、。〈〉《》「」【】！％（），．１：；？～";

pub fn is_terminal(c: char) -> bool {
    let c = c as u32;
    TERMINAL.iter().any(|&(a, b)| a <= c && c <= b)
}

fn punctuation_set() -> &'static HashSet<char> {
    static SET: OnceLock<HashSet<char>> = OnceLock::new();
    SET.get_or_init(|| {
        let mut set: HashSet<char> = PUNCTUATION_EXTRA.chars().collect();
        // All ASCII punctuation, and the controls other than TAB, LF and the range 0xA0 up.
        set.extend(
            (0u8..128)
                .map(char::from)
                .filter(char::is_ascii_punctuation),
        );
        let controls = (0x00..0x09).chain(0x0B..0x20).chain(0x7F..0xA0);
        set.extend(controls.filter_map(char::from_u32));
        for &(a, b) in TERMINAL {
            set.extend((a..=b).filter_map(char::from_u32));
        }
        set
    })
}

/// `PUNCTUATION_SET`: `PUNCTUATION` and `TERMINAL_PUNCTUATION`, 281 characters.
pub fn is_punctuation(c: char) -> bool {
    if c.is_ascii_alphanumeric() || c == ' ' {
        return false;
    }
    punctuation_set().contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_datatrove() {
        let terminal: u32 = TERMINAL.iter().map(|&(a, b)| b - a + 1).sum();
        assert_eq!(terminal, 159);
        assert_eq!(punctuation_set().len(), 281);
        assert!(is_terminal('.') && !is_terminal('…') && !is_terminal('"'));
        assert!(is_punctuation('１') && !is_punctuation('‘') && !is_punctuation('\t'));
    }
}
