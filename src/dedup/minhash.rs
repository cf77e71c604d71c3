//! MinHash signatures and LSH band keys.
//!
//! Permutation i maps a 32-bit shingle value x to `a_i·x + b_i mod 2^32` with `a_i` odd: a
//! bijection of the 32-bit values (so a true permutation of them), with seeded `(a_i, b_i)`.
//! The shingle values are already uniform hashes, so these linear permutations behave like
//! random ones; `sieve eval dedup` measures the estimate against exact Jaccard.
//!
//! The inner loop runs over blocks of 64 permutations kept in registers while the shingles
//! stream past, which the compiler turns into 16-lane AVX-512 (or 8-lane AVX2) code; the
//! right version is chosen at run time.

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Permutations are processed in blocks of this many (register-resident accumulators).
const BLOCK: usize = 64;
/// The tail is processed in blocks of this many; signatures are padded to a multiple.
const LANES: usize = 16;

/// Seeded permutations for one signature length.
#[derive(Debug, Clone)]
pub struct MinHasher {
    a: Vec<u32>,
    b: Vec<u32>,
    num_perm: usize,
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl MinHasher {
    pub fn new(num_perm: usize, seed: u64) -> MinHasher {
        let padded = num_perm.div_ceil(LANES) * LANES;
        let mut state = seed;
        let mut a = Vec::with_capacity(padded);
        let mut b = Vec::with_capacity(padded);
        for _ in 0..padded {
            let r = splitmix64(&mut state);
            a.push((r as u32) | 1);
            b.push((r >> 32) as u32);
        }
        MinHasher { a, b, num_perm }
    }

    pub fn num_perm(&self) -> usize {
        self.num_perm
    }

    /// The signature of a shingle set (`out` gets `num_perm` values). An empty set gives
    /// all `u32::MAX`, which callers never band (such documents have no fuzzy signature).
    pub fn signature(&self, shingles: &[u32], out: &mut Vec<u32>) {
        out.clear();
        out.resize(self.a.len(), u32::MAX);
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU supports the instructions this version is compiled for.
                unsafe { signature_avx512(&self.a, &self.b, shingles, out) };
                out.truncate(self.num_perm);
                return;
            }
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: as above.
                unsafe { signature_avx2(&self.a, &self.b, shingles, out) };
                out.truncate(self.num_perm);
                return;
            }
        }
        signature_portable(&self.a, &self.b, shingles, out);
        out.truncate(self.num_perm);
    }
}

#[inline(always)]
fn block<const N: usize>(a: &[u32], b: &[u32], xs: &[u32], out: &mut [u32]) {
    let a: &[u32; N] = a.try_into().expect("block size");
    let b: &[u32; N] = b.try_into().expect("block size");
    let mut acc: [u32; N] = out.try_into().expect("block size");
    for &x in xs {
        for j in 0..N {
            acc[j] = acc[j].min(a[j].wrapping_mul(x).wrapping_add(b[j]));
        }
    }
    out.copy_from_slice(&acc);
}

#[inline(always)]
fn signature_portable(a: &[u32], b: &[u32], xs: &[u32], out: &mut [u32]) {
    let mut start = 0;
    while start + BLOCK <= out.len() {
        let end = start + BLOCK;
        block::<BLOCK>(&a[start..end], &b[start..end], xs, &mut out[start..end]);
        start = end;
    }
    while start < out.len() {
        let end = start + LANES;
        block::<LANES>(&a[start..end], &b[start..end], xs, &mut out[start..end]);
        start = end;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn signature_avx512(a: &[u32], b: &[u32], xs: &[u32], out: &mut [u32]) {
    signature_portable(a, b, xs, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn signature_avx2(a: &[u32], b: &[u32], xs: &[u32], out: &mut [u32]) {
    signature_portable(a, b, xs, out)
}

/// The LSH key of band `band` (rows `band·rows .. (band+1)·rows` of the signature).
pub fn band_key(signature: &[u32], band: usize, rows: usize) -> u64 {
    let values = &signature[band * rows..(band + 1) * rows];
    let mut bytes = [0u8; 4 * 64];
    for (i, v) in values.iter().enumerate() {
        bytes[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
    }
    xxh3_64_with_seed(&bytes[..4 * rows], band as u64)
}

/// The Jaccard estimate of two signatures: the share of equal positions.
pub fn estimate_jaccard(a: &[u32], b: &[u32]) -> f64 {
    let equal = a.iter().zip(b).filter(|(x, y)| x == y).count();
    equal as f64 / a.len().max(1) as f64
}

/// Probability that a pair with Jaccard `s` shares at least one of `bands` bands of `rows`.
pub fn detection_probability(s: f64, bands: usize, rows: usize) -> f64 {
    1.0 - (1.0 - s.powi(rows as i32)).powi(bands as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::shingle::jaccard_sorted;

    fn set(range: std::ops::Range<u32>) -> Vec<u32> {
        // Spread like real shingle hashes.
        let mut v: Vec<u32> = range
            .map(|i| (crate::dedup::shingle::fmix64(i as u64) >> 32) as u32)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    #[test]
    fn every_code_path_gives_the_same_signature() {
        let m = MinHasher::new(260, 7);
        let xs = set(0..1000);
        let mut fast = Vec::new();
        m.signature(&xs, &mut fast);
        let mut portable = vec![u32::MAX; m.a.len()];
        signature_portable(&m.a, &m.b, &xs, &mut portable);
        portable.truncate(260);
        assert_eq!(fast, portable);
        let naive: Vec<u32> = (0..260)
            .map(|i| {
                xs.iter()
                    .map(|&x| m.a[i].wrapping_mul(x).wrapping_add(m.b[i]))
                    .min()
                    .unwrap()
            })
            .collect();
        assert_eq!(fast, naive);
    }

    #[test]
    fn estimate_tracks_true_jaccard() {
        let m = MinHasher::new(260, 1);
        // Sets overlapping in 800 of 1200 → J = 2/3; and 950 of 1050 → J ≈ 0.905.
        for (a, b) in [
            (set(0..1000), set(200..1200)),
            (set(0..1000), set(50..1050)),
        ] {
            let truth = jaccard_sorted(&a, &b);
            let (mut sa, mut sb) = (Vec::new(), Vec::new());
            m.signature(&a, &mut sa);
            m.signature(&b, &mut sb);
            let est = estimate_jaccard(&sa, &sb);
            // 4 standard deviations of a 260-sample estimate.
            let sd = (truth * (1.0 - truth) / 260.0).sqrt();
            assert!((est - truth).abs() < 4.0 * sd, "{est} vs {truth}");
        }
    }

    #[test]
    fn bands_and_probability() {
        let sig: Vec<u32> = (0..260).collect();
        let mut other = sig.clone();
        other[0] = 99_999;
        assert_ne!(band_key(&sig, 0, 13), band_key(&other, 0, 13));
        assert_eq!(band_key(&sig, 1, 13), band_key(&other, 1, 13));
        let p = detection_probability(0.8, 20, 13);
        assert!((p - 0.677).abs() < 0.001, "{p}");
    }
    #[test]
    fn splitmix64_gives_the_reference_sequence() {
        // The first outputs of Vigna's splitmix64.c from state 0.
        let mut state = 0u64;
        assert_eq!(splitmix64(&mut state), 0xe220_a839_7b1d_cdaf);
        assert_eq!(splitmix64(&mut state), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(splitmix64(&mut state), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn a_signature_has_num_perm_values_each_the_minimum_of_its_permutation() {
        for num_perm in [1, 15, 16, 17, 63, 64, 65, 112, 260] {
            let m = MinHasher::new(num_perm, 3);
            assert_eq!(m.num_perm(), num_perm);
            let xs = set(0..50);
            let mut sig = Vec::new();
            m.signature(&xs, &mut sig);
            assert_eq!(sig.len(), num_perm);
            for (i, &v) in sig.iter().enumerate() {
                let min = xs
                    .iter()
                    .map(|&x| m.a[i].wrapping_mul(x).wrapping_add(m.b[i]))
                    .min();
                assert_eq!(Some(v), min, "permutation {i} of {num_perm}");
            }
        }
        // An empty set: every value u32::MAX.
        let mut sig = Vec::new();
        MinHasher::new(20, 3).signature(&[], &mut sig);
        assert_eq!(sig, vec![u32::MAX; 20]);
    }

    #[test]
    fn band_keys_hash_their_own_rows_seeded_by_the_band() {
        let sig: Vec<u32> = (0..260u32).map(|i| i.wrapping_mul(2_654_435_761)).collect();
        for (band, rows) in [
            (0, 13),
            (1, 13),
            (19, 13),
            (0, 1),
            (3, 1),
            (2, 7),
            (0, 64),
            (3, 64),
        ] {
            if (band + 1) * rows > sig.len() {
                continue;
            }
            let bytes: Vec<u8> = sig[band * rows..(band + 1) * rows]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            assert_eq!(
                band_key(&sig, band, rows),
                xxh3_64_with_seed(&bytes, band as u64),
                "band {band} of {rows} rows"
            );
        }
    }

    #[test]
    fn estimate_and_detection_probability_by_hand() {
        assert_eq!(estimate_jaccard(&[1, 2, 3, 4], &[1, 2, 0, 4]), 0.75);
        assert_eq!(estimate_jaccard(&[5, 6], &[7, 8]), 0.0);
        assert_eq!(estimate_jaccard(&[], &[]), 0.0);
        // One band of one row: the probability is s; two such bands: 1 − (1 − s)².
        assert_eq!(detection_probability(0.75, 1, 1), 0.75);
        assert_eq!(detection_probability(0.5, 2, 1), 0.75);
        assert_eq!(detection_probability(0.5, 1, 2), 0.25);
        assert_eq!(detection_probability(1.0, 20, 13), 1.0);
        assert_eq!(detection_probability(0.0, 20, 13), 0.0);
    }
}
