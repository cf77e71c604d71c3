//! Byte-pair merging over a tiktoken rank table: the rule tiktoken applies to each piece.
//!
//! A piece's bytes start as single-byte parts; repeatedly, the adjacent pair whose
//! concatenation has the lowest rank in the vocabulary is merged (the leftmost on a tie),
//! until no adjacent pair is a token. Each final part is one token. Ranks are merge
//! priorities and token ids at once, so no separate merge list is needed.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rustc_hash::FxHashMap;

pub type Rank = u32;

/// Bytes of every token and the rank of every byte string that is one.
pub struct Ranks {
    by_bytes: FxHashMap<Vec<u8>, Rank>,
    pub by_rank: Vec<Vec<u8>>,
}

/// Pieces longer than this merge with a heap (linear in merges times log length) instead of
/// rescanning the parts (quadratic), so a megabyte of `=` signs cannot stall a worker.
const LONG_PIECE: usize = 128;

impl Ranks {
    pub fn new(by_bytes: FxHashMap<Vec<u8>, Rank>) -> Ranks {
        let size = by_bytes
            .values()
            .map(|&r| r as usize + 1)
            .max()
            .unwrap_or(0);
        let mut by_rank = vec![Vec::new(); size];
        for (bytes, &rank) in &by_bytes {
            by_rank[rank as usize] = bytes.clone();
        }
        Ranks { by_bytes, by_rank }
    }

    #[inline]
    pub fn get(&self, bytes: &[u8]) -> Option<Rank> {
        self.by_bytes.get(bytes).copied()
    }

    /// Appends the tokens of one piece to `out`.
    pub fn encode_piece(&self, piece: &[u8], out: &mut Vec<Rank>) {
        if let Some(r) = self.get(piece) {
            out.push(r);
        } else if piece.len() < LONG_PIECE {
            self.merge_short(piece, out);
        } else {
            self.merge_long(piece, out);
        }
    }

    fn pair_rank(&self, piece: &[u8], start: usize, end: usize) -> Rank {
        self.get(&piece[start..end]).unwrap_or(Rank::MAX)
    }

    /// Rescans the parts after each merge: the fastest for the short pieces of prose.
    fn merge_short(&self, piece: &[u8], out: &mut Vec<Rank>) {
        // starts[k] is where part k begins; ranks[k] the rank of parts k and k+1 merged.
        let mut starts: Vec<usize> = (0..=piece.len()).collect();
        let mut ranks: Vec<Rank> = (0..piece.len() - 1)
            .map(|i| self.pair_rank(piece, i, i + 2))
            .collect();
        while let Some((k, &best)) = ranks.iter().enumerate().min_by_key(|&(k, &r)| (r, k)) {
            if best == Rank::MAX {
                break;
            }
            // Merge parts k and k+1.
            starts.remove(k + 1);
            ranks.remove(k);
            if k < ranks.len() {
                ranks[k] = self.pair_rank(piece, starts[k], starts[k + 2]);
            }
            if k > 0 {
                ranks[k - 1] = self.pair_rank(piece, starts[k - 1], starts[k + 1]);
            }
        }
        for w in starts.windows(2) {
            out.push(
                self.get(&piece[w[0]..w[1]])
                    .expect("single bytes are tokens"),
            );
        }
    }

    /// A heap of candidate merges (rank, position) over a linked list of parts; entries made
    /// stale by an earlier merge are recognised and skipped.
    fn merge_long(&self, piece: &[u8], out: &mut Vec<Rank>) {
        let n = piece.len();
        // Parts are identified by their start; next/prev link the live ones.
        let mut next: Vec<usize> = (1..=n).collect();
        let mut prev: Vec<usize> = (0..n).map(|i| i.wrapping_sub(1)).collect();
        let mut alive = vec![true; n];
        let mut heap = BinaryHeap::new();
        for i in 0..n - 1 {
            let r = self.pair_rank(piece, i, i + 2);
            if r != Rank::MAX {
                heap.push(Reverse((r, i, i + 2)));
            }
        }
        while let Some(Reverse((_, start, end))) = heap.pop() {
            // Still valid if `start` is live and the pair still ends where it did.
            if !alive[start] || next[start] >= n || next[next[start]] != end {
                continue;
            }
            let second = next[start];
            alive[second] = false;
            next[start] = end;
            if end < n {
                prev[end] = start;
            }
            if end < n {
                let r = self.pair_rank(piece, start, next[end]);
                if r != Rank::MAX {
                    heap.push(Reverse((r, start, next[end])));
                }
            }
            let p = prev[start];
            if p != usize::MAX {
                let r = self.pair_rank(piece, p, end);
                if r != Rank::MAX {
                    heap.push(Reverse((r, p, end)));
                }
            }
        }
        let mut i = 0;
        while i < n {
            out.push(
                self.get(&piece[i..next[i]])
                    .expect("merged parts are tokens"),
            );
            i = next[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Ranks {
        let mut m = FxHashMap::default();
        for b in 0..=255u8 {
            m.insert(vec![b], b as Rank);
        }
        for (i, t) in ["ab", "bc", "abc", "cd", "aa", "aaaa"].iter().enumerate() {
            m.insert(t.as_bytes().to_vec(), 256 + i as Rank);
        }
        Ranks::new(m)
    }

    #[test]
    fn lowest_rank_first_and_leftmost_on_ties() {
        let r = toy();
        let mut out = Vec::new();
        r.encode_piece(b"abcd", &mut out);
        // ab (256) merges before bc (257); then abc (258); "d" stays.
        assert_eq!(out, [258, b'd' as Rank]);
        out.clear();
        r.encode_piece(b"aaaaa", &mut out);
        assert_eq!(out, [261, b'a' as Rank]);
    }

    #[test]
    fn long_pieces_merge_like_short_ones() {
        let r = toy();
        for text in ["aaaaa", "abcdabcdaabc", "aaaaaaaaaaaaaaabcbcbcdd"] {
            let long = text.repeat(40);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            r.merge_short(long.as_bytes(), &mut a);
            r.merge_long(long.as_bytes(), &mut b);
            assert_eq!(a, b, "{text}");
        }
    }
}
