//! The task n-gram index and the scanner that finds task n-grams in a text.
//!
//! Index (Megatron's rule): a task text of fewer than `min_n` (8) words is skipped; one of
//! `min_n .. max_n` (8–12) words is one n-gram of its own length; a longer one gives every
//! `max_n`-word (13) window. Keys are 64-bit polynomial hashes of the word hashes, so any
//! window of a document is looked up in O(1) from prefix sums; a second, independent 32-bit
//! hash confirms each hit, so a false match needs both to collide.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::words::{sequence_key, words, Windows, Word};

/// Keys are already uniform hashes: use them as their own hash.
#[derive(Default)]
pub struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

/// Which algorithm: sieve's (quirks fixed) or Megatron-LM's `filter_ngrams.py` exactly.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Compat {
    /// Offsets on the original text, Unicode-safe lowercasing, short texts scanned too.
    Sieve,
    /// Megatron-LM's `filter_ngrams.py`, quirks included.
    Megatron,
}

#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub len: u8,
    check: u32,
    /// Key of the n-gram's first `min_n` words (for the prefix filter).
    prefix: u64,
    /// Index into [`NgramIndex::task_sets`].
    pub tasks: u32,
}

/// Every task n-gram, by key.
#[derive(Clone)]
pub struct NgramIndex {
    pub entries: KeyMap<Entry>,
    /// Distinct lists of task numbers (an n-gram can occur in several tasks).
    pub task_sets: Vec<Vec<u16>>,
    pub task_names: Vec<String>,
    /// Lengths present, ascending.
    pub lengths: Vec<usize>,
    pub min_n: usize,
    pub max_n: usize,
    /// One bit per slot of the key space, set for the slots of present keys: about 16 bits
    /// per n-gram, so it stays in cache while the table does not; most windows of a
    /// document stop here.
    filter: Vec<u64>,
    /// The same for the keys of the first `min_n` words of every n-gram: a window position
    /// whose `min_n`-word prefix is absent cannot start any task n-gram, so one probe
    /// rules out every length there.
    prefix_filter: Vec<u64>,
    filter_shift: u32,
    /// A small copy of the prefix filter (4 bits per n-gram, at most 1 MiB) that stays in
    /// the L2 cache; it answers most probes before the large one is touched.
    small_prefix_filter: Vec<u64>,
    small_shift: u32,
}

fn check_hash(words: &[Word]) -> u32 {
    let mut bytes = Vec::with_capacity(8 * words.len());
    for w in words {
        bytes.extend_from_slice(&w.hash.to_le_bytes());
    }
    xxh3_64_with_seed(&bytes, 0x5eed) as u32
}

impl NgramIndex {
    pub fn new(task_names: Vec<String>, min_n: usize, max_n: usize) -> NgramIndex {
        NgramIndex {
            entries: KeyMap::default(),
            task_sets: Vec::new(),
            task_names,
            lengths: Vec::new(),
            min_n,
            max_n,
            filter: vec![u64::MAX],
            prefix_filter: vec![u64::MAX],
            filter_shift: 63,
            small_prefix_filter: vec![u64::MAX],
            small_shift: 63,
        }
    }

    #[inline]
    fn probe(bits: &[u64], shift: u32, key: u64) -> bool {
        let slot = (key >> shift) as usize;
        bits[slot / 64] >> (slot % 64) & 1 == 1
    }

    /// Whether `key` may be present (no false negatives).
    #[inline]
    pub fn may_contain(&self, key: u64) -> bool {
        Self::probe(&self.filter, self.filter_shift, key)
    }

    /// Whether some n-gram may start with the `min_n` words of key `prefix`, by the small
    /// filter (then the large one, `may_start_large`, answers). The small filter uses the
    /// key's low bits, independent of the large one's high bits.
    #[inline]
    fn may_start_small(&self, prefix: u64) -> bool {
        Self::probe(
            &self.small_prefix_filter,
            self.small_shift,
            prefix.rotate_left(32),
        )
    }

    #[inline]
    fn may_start_large(&self, prefix: u64) -> bool {
        Self::probe(&self.prefix_filter, self.filter_shift, prefix)
    }

    /// Adds the n-grams of one task text.
    pub fn add_text(&mut self, task: u16, text: &str, set_ids: &mut HashMap<Vec<u16>, u32>) {
        let mut ws = Vec::new();
        words(text, &mut ws);
        if ws.len() < self.min_n {
            return;
        }
        // A text shorter than max_n words is one n-gram; a longer one, every max_n window.
        for w in ws.windows(self.max_n.min(ws.len())) {
            let key = sequence_key(w.iter().map(|x| x.hash));
            let prefix = sequence_key(w[..self.min_n].iter().map(|x| x.hash));
            let check = check_hash(w);
            let len = w.len() as u8;
            let current = self
                .entries
                .get(&key)
                .map(|e| self.task_sets[e.tasks as usize].clone());
            let mut tasks = current.unwrap_or_default();
            if !tasks.contains(&task) {
                tasks.push(task);
                tasks.sort_unstable();
            }
            let next_id = self.task_sets.len() as u32;
            let id = *set_ids.entry(tasks.clone()).or_insert(next_id);
            if id == next_id {
                self.task_sets.push(tasks);
            }
            self.entries.insert(
                key,
                Entry {
                    len,
                    check,
                    prefix,
                    tasks: id,
                },
            );
        }
    }

    /// Recomputes the lengths present and the prefilter (after adding or removing entries).
    pub fn finish(&mut self) {
        let mut present = [false; 256];
        for e in self.entries.values() {
            present[e.len as usize] = true;
        }
        self.lengths = (0..256).filter(|&l| present[l]).collect();
        let bits = (self.entries.len().max(1) * 16).next_power_of_two().max(64);
        self.filter_shift = 64 - bits.trailing_zeros();
        self.filter = vec![0u64; bits / 64];
        self.prefix_filter = vec![0u64; bits / 64];
        let small_bits = (self.entries.len().max(1) * 4)
            .next_power_of_two()
            .clamp(64, 8 << 20);
        self.small_shift = 64 - small_bits.trailing_zeros();
        self.small_prefix_filter = vec![0u64; small_bits / 64];
        for (&k, e) in &self.entries {
            let slot = (k >> self.filter_shift) as usize;
            self.filter[slot / 64] |= 1 << (slot % 64);
            let slot = (e.prefix >> self.filter_shift) as usize;
            self.prefix_filter[slot / 64] |= 1 << (slot % 64);
            let slot = (e.prefix.rotate_left(32) >> self.small_shift) as usize;
            self.small_prefix_filter[slot / 64] |= 1 << (slot % 64);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn task_list(&self, entry: &Entry) -> Vec<&str> {
        self.task_sets[entry.tasks as usize]
            .iter()
            .map(|&t| self.task_names[t as usize].as_str())
            .collect()
    }
}

/// A task n-gram found in a text.
#[derive(Debug, Clone)]
pub struct Match {
    pub key: u64,
    pub entry: Entry,
    /// Word range in the scanned text's words.
    pub first_word: usize,
    pub words: usize,
}

/// Finds task n-grams in texts; holds reusable buffers.
pub struct Scanner<'a> {
    pub index: &'a NgramIndex,
    pub compat: Compat,
    pub words: Vec<Word>,
    windows: Windows,
    /// Megatron mode tokenizes the lowercased text; this holds it.
    pub lowered: String,
    /// Word positions that may start a task n-gram, ascending.
    starts: Vec<u32>,
    prefix_keys: Vec<u64>,
    maybe: Vec<bool>,
}

impl<'a> Scanner<'a> {
    pub fn new(index: &'a NgramIndex, compat: Compat) -> Scanner<'a> {
        Scanner {
            index,
            compat,
            words: Vec::new(),
            windows: Windows::default(),
            lowered: String::new(),
            starts: Vec::new(),
            prefix_keys: Vec::new(),
            maybe: Vec::new(),
        }
    }

    /// Tokenizes `text` for the mode: the original text (sieve) or its lowercased copy
    /// (Megatron, whose offsets then refer to the lowercased string).
    pub fn tokenize(&mut self, text: &str) {
        match self.compat {
            Compat::Sieve => {
                words(text, &mut self.words);
            }
            Compat::Megatron => {
                self.lowered.clear();
                // When every character lowercases to exactly one character of the same
                // kind, the lowercased copy has the same character offsets and the same
                // words (which hash their lowercase form anyway): the text stands for it.
                if words(text, &mut self.words) {
                    self.lowered = text.to_lowercase();
                    words(&self.lowered, &mut self.words);
                }
            }
        }
        self.windows.reset(&self.words);
        self.classify_starts();
    }

    /// Which word positions may start a task n-gram, for all positions at once: the filter
    /// probes of a batch are independent loads without branches, so their cache misses
    /// overlap instead of being waited for one at a time. Leaves the survivors, ascending,
    /// in `self.starts`: only they are looked up.
    fn classify_starts(&mut self) {
        let n = self.words.len();
        let min_n = self.index.min_n;
        self.starts.clear();
        if n < min_n {
            return;
        }
        let count = n - min_n + 1;
        let mut keys = std::mem::take(&mut self.prefix_keys);
        keys.clear();
        keys.extend((0..count).map(|i| self.windows.key(i, min_n)));
        let index = self.index;
        let mut maybe = std::mem::take(&mut self.maybe);
        maybe.clear();
        maybe.extend(keys.iter().map(|&k| index.may_start_small(k)));
        self.starts.extend(
            (0..count)
                .filter(|&i| maybe[i] && index.may_start_large(keys[i]))
                .map(|i| i as u32),
        );
        self.prefix_keys = keys;
        self.maybe = maybe;
    }

    /// The n-gram of `len` words at word `i`, if it is a task n-gram (`i` must have passed
    /// the prefix filters).
    #[inline]
    fn lookup(&mut self, i: usize, len: usize) -> Option<Match> {
        let key = self.windows.key(i, len);
        if !self.index.may_contain(key) {
            return None;
        }
        let entry = *self.index.entries.get(&key)?;
        if entry.len as usize != len || check_hash(&self.words[i..i + len]) != entry.check {
            return None;
        }
        Some(Match {
            key,
            entry,
            first_word: i,
            words: len,
        })
    }

    /// The first match in the tokenized text, in the mode's scanning order.
    pub fn first_match(&mut self) -> Option<Match> {
        let n = self.words.len();
        // The index outlives the scanner's borrow: its lengths can be read while lookups
        // borrow the scanner mutably.
        let lengths = &self.index.lengths;
        let starts = std::mem::take(&mut self.starts);
        let found = match self.compat {
            // Earliest start; at one start the longest n-gram (it removes the most).
            Compat::Sieve => starts.iter().find_map(|&i| {
                let i = i as usize;
                lengths
                    .iter()
                    .rev()
                    .filter(|&&len| i + len <= n)
                    .find_map(|&len| self.lookup(i, len))
            }),
            Compat::Megatron => self.first_match_megatron(&starts, lengths),
        };
        self.starts = starts;
        found
    }

    /// Megatron's order: at each start of a 13-word window, the 13-gram, then every length
    /// ascending; then, in the last 13 words, each shorter length at every start. Texts under
    /// 13 words are never scanned.
    fn first_match_megatron(&mut self, starts: &[u32], lengths: &[usize]) -> Option<Match> {
        let n = self.words.len();
        let max = self.index.max_n;
        if n < max {
            return None;
        }
        let last_window = n - max;
        for &i in starts.iter().take_while(|&&i| i as usize <= last_window) {
            let i = i as usize;
            if let Some(m) = self.lookup(i, max) {
                return Some(m);
            }
            for &len in lengths {
                if let Some(m) = self.lookup(i, len) {
                    return Some(m);
                }
            }
        }
        if n > max {
            for &len in lengths.iter().filter(|&&l| l != max) {
                for &i in starts.iter().filter(|&&i| i as usize >= last_window) {
                    let i = i as usize;
                    if i + len <= n {
                        if let Some(m) = self.lookup(i, len) {
                            return Some(m);
                        }
                    }
                }
            }
        }
        None
    }

    /// The span of a match: start and length in characters of the scanned text. Sieve mode
    /// measures the matched words in the original text; Megatron mode takes the start in the
    /// lowercased text and the length of the words joined by single spaces, as its script does.
    pub fn span_chars(&self, text: &str, m: &Match) -> (usize, usize) {
        let first = self.words[m.first_word];
        let last = self.words[m.first_word + m.words - 1];
        match self.compat {
            Compat::Sieve => {
                let start = text[..first.start].chars().count();
                let len = text[first.start..last.end].chars().count();
                (start, len)
            }
            Compat::Megatron => {
                let lowered = if self.lowered.is_empty() {
                    text
                } else {
                    &self.lowered
                };
                let start = lowered[..first.start].chars().count();
                let joined: usize = self.words[m.first_word..m.first_word + m.words]
                    .iter()
                    .map(|w| w.lower_chars as usize)
                    .sum::<usize>()
                    + m.words
                    - 1;
                (start, joined)
            }
        }
    }

    /// The matched n-gram as text: its lowercase words joined by single spaces.
    pub fn ngram_text(&self, text: &str, m: &Match) -> String {
        let source = match self.compat {
            Compat::Megatron if !self.lowered.is_empty() => &self.lowered,
            _ => text,
        };
        self.words[m.first_word..m.first_word + m.words]
            .iter()
            .map(|w| source[w.start..w.end].to_lowercase())
            .collect::<Vec<_>>()
            .join(" ")
    }
}
