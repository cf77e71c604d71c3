//! Inference for supervised fastText models without subword n-grams (quality classifiers:
//! words + word bigrams), dense or product-quantized, in Rust.
//!
//! It reads fastText's binary format (version 12) and reproduces its prediction exactly:
//! the same tokenizer (whitespace, a final newline gives `</s>`), the same FNV-1a word
//! hashes and bigram bucket hashing (with its signed/unsigned quirks), the same pruning
//! index for quantized models, the averaged hidden vector and the softmax, all in `f32`.
//! What it saves over the C++ library is the stream-based tokenizer, per-word string
//! allocations and the `unordered_map` lookups of the pruning index.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{bail, Context, Result};

const MAGIC: i32 = 793_712_314;
const EOS: &str = "</s>";
const KSUB: usize = 256;

/// Reads the model file, knowing how many bytes are left so that no count in a damaged file
/// can ask for more memory than the file could hold.
struct Cursor<R: Read> {
    r: R,
    left: u64,
}

impl<R: Read> Cursor<R> {
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut b = [0u8; N];
        self.r
            .read_exact(&mut b)
            .context("the model file ends early")?;
        self.left = self.left.saturating_sub(N as u64);
        Ok(b)
    }
    /// `n` items of `size` bytes each, if the rest of the file can hold them.
    fn room(&self, what: &str, n: usize, size: usize) -> Result<usize> {
        match n.checked_mul(size) {
            Some(bytes) if bytes as u64 <= self.left => Ok(bytes),
            _ => bail!(
                "the model file is damaged: {n} {what} do not fit in its {} remaining bytes",
                self.left
            ),
        }
    }
    /// A count from the header: not negative, and at most `max`.
    fn count(&mut self, what: &str, v: i64, max: u64) -> Result<usize> {
        if v < 0 || v as u64 > max {
            bail!("the model file is damaged: {what} is {v}");
        }
        Ok(v as usize)
    }
    fn i32_count(&mut self, what: &str, max: u64) -> Result<usize> {
        let v = i64::from(self.i32()?);
        self.count(what, v, max)
    }
    fn i64_count(&mut self, what: &str, max: u64) -> Result<usize> {
        let v = self.i64()?;
        self.count(what, v, max)
    }
    fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.bytes()?))
    }
    fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.bytes()?))
    }
    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.bytes()?))
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes::<1>()?[0])
    }
    fn f32s(&mut self, n: usize) -> Result<Vec<f32>> {
        let mut raw = vec![0u8; self.room("floats", n, 4)?];
        self.r
            .read_exact(&mut raw)
            .context("the model file ends early")?;
        self.left -= raw.len() as u64;
        Ok(raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
    fn u8s(&mut self, n: usize) -> Result<Vec<u8>> {
        let mut raw = vec![0u8; self.room("bytes", n, 1)?];
        self.r
            .read_exact(&mut raw)
            .context("the model file ends early")?;
        self.left -= raw.len() as u64;
        Ok(raw)
    }
    fn cstring(&mut self) -> Result<String> {
        let mut s = Vec::new();
        loop {
            match self.u8()? {
                0 => break,
                c => s.push(c),
            }
        }
        Ok(String::from_utf8_lossy(&s).into_owned())
    }
}

/// A well-formed model that this reader does not serve (the C++ library does); any other
/// error means the file is damaged.
#[derive(Debug)]
pub struct Unsupported(pub String);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not supported by the Rust fastText reader: {}", self.0)
    }
}

impl std::error::Error for Unsupported {}

struct ProductQuantizer {
    nsubq: usize,
    dsub: usize,
    lastdsub: usize,
    centroids: Vec<f32>,
}

impl ProductQuantizer {
    /// Reads a quantizer of vectors of `want_dim` values.
    fn load<R: Read>(c: &mut Cursor<R>, want_dim: usize) -> Result<Self> {
        let limit = 1 << 20;
        let dim = c.i32_count("the quantizer's dimension", limit)?;
        let nsubq = c.i32_count("the quantizer's sub-quantizers", limit)?;
        let dsub = c.i32_count("the quantizer's sub-dimension", limit)?;
        let lastdsub = c.i32_count("the quantizer's last sub-dimension", limit)?;
        // Every centroid() slice must lie inside the table and every value inside the vector.
        if dim != want_dim || nsubq == 0 || dsub * (nsubq - 1) + lastdsub != dim {
            bail!("the model file is damaged: a quantizer of {nsubq} × {dsub} (last {lastdsub}) for {dim} values, {want_dim} expected");
        }
        let centroids = c.f32s(dim * KSUB)?;
        Ok(ProductQuantizer {
            nsubq,
            dsub,
            lastdsub,
            centroids,
        })
    }

    fn centroid(&self, m: usize, i: u8) -> &[f32] {
        let i = i as usize;
        if m == self.nsubq - 1 {
            let at = m * KSUB * self.dsub + i * self.lastdsub;
            &self.centroids[at..at + self.lastdsub]
        } else {
            let at = (m * KSUB + i) * self.dsub;
            &self.centroids[at..at + self.dsub]
        }
    }
}

enum Input {
    Dense {
        dim: usize,
        data: Vec<f32>,
    },
    Quantized {
        codes: Vec<u8>,
        pq: ProductQuantizer,
        norms: Option<(Vec<u8>, ProductQuantizer)>,
    },
}

impl Input {
    fn add_row(&self, x: &mut [f32], row: usize) {
        match self {
            Input::Dense { dim, data } => {
                for (xi, v) in x.iter_mut().zip(&data[row * dim..(row + 1) * dim]) {
                    *xi += v;
                }
            }
            Input::Quantized { codes, pq, norms } => {
                let alpha = match norms {
                    Some((norm_codes, npq)) => npq.centroid(0, norm_codes[row])[0],
                    None => 1.0,
                };
                let code = &codes[pq.nsubq * row..pq.nsubq * (row + 1)];
                for (m, &cm) in code.iter().enumerate() {
                    let c = pq.centroid(m, cm);
                    let base = m * pq.dsub;
                    for (n, v) in c.iter().enumerate() {
                        x[base + n] += alpha * v;
                    }
                }
            }
        }
    }
}

/// A supervised fastText model (words and word n-grams, no subwords) for prediction.
pub struct SupervisedModel {
    dim: usize,
    word_ngrams: usize,
    bucket: u64,
    nwords: i32,
    words: HashMap<String, i32>,
    labels: Vec<String>,
    /// Bucket → row for quantized models pruned with a cutoff (`None`: not pruned).
    pruneidx: Option<HashMap<i32, i32>>,
    input: Input,
    /// Output matrix, one row of `dim` per label.
    output: Vec<f32>,
}

/// fastText's word hash: FNV-1a over the bytes, each sign-extended as C++'s `int8_t` does.
fn fnv(word: &[u8]) -> u32 {
    let mut h: u32 = 2_166_136_261;
    for &b in word {
        h ^= b as i8 as i32 as u32;
        h = h.wrapping_mul(16_777_619);
    }
    h
}

impl SupervisedModel {
    /// Loads a model, or explains why this reader cannot serve it (the C++ binding can).
    pub fn load(path: &Path) -> Result<SupervisedModel> {
        let f =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let mut c = Cursor {
            r: BufReader::new(f),
            left: len,
        };
        let model = Self::read(&mut c);
        model.with_context(|| format!("{}: at byte {}", path.display(), len - c.left))
    }

    fn read<R: Read>(c: &mut Cursor<R>) -> Result<SupervisedModel> {
        if c.i32()? != MAGIC {
            bail!("not a fastText model (no fastText magic number)");
        }
        let version = c.i32()?;
        if version != 12 {
            return Err(
                Unsupported(format!("fastText format version {version} (12 is read)")).into(),
            );
        }
        let dim = c.i32_count("the dimension", 1 << 16)?;
        let _ws = c.i32()?;
        let _epoch = c.i32()?;
        let _min_count = c.i32()?;
        let _neg = c.i32()?;
        let word_ngrams = c.i32_count("the word n-gram length", 1 << 10)?;
        let _loss = c.i32()?;
        let model = c.i32()?;
        let bucket = c.i32_count("the bucket count", i32::MAX as u64)? as u64;
        let _minn = c.i32()?;
        let maxn = c.i32()?;
        let _lr_update = c.i32()?;
        let _t = c.f64()?;
        if model != 3 {
            return Err(Unsupported("not a supervised model".into()).into());
        }
        if word_ngrams > 1 && bucket == 0 {
            bail!("the model file is damaged: word n-grams without buckets");
        }
        if maxn > 0 {
            return Err(Unsupported("character n-grams".into()).into());
        }
        // Each dictionary entry takes at least 10 bytes: bound the counts by the file.
        let entries = c.left / 10;
        let size = c.i32_count("the dictionary size", entries)?;
        let nwords = c.i32_count("the word count", size as u64)?;
        let nlabels = c.i32_count("the label count", size as u64)?;
        if nwords + nlabels != size {
            bail!("the model file is damaged: {nwords} words and {nlabels} labels in a dictionary of {size}");
        }
        let _ntokens = c.i64()?;
        let pruneidx_size = c.i64()?;
        let mut words = HashMap::with_capacity(nwords);
        let mut labels = Vec::with_capacity(nlabels);
        for i in 0..size as i32 {
            let word = c.cstring()?;
            let _count = c.i64()?;
            let kind = c.u8()?;
            if kind == 0 {
                words.insert(word, i);
            } else {
                labels.push(word);
            }
        }
        if labels.len() != nlabels {
            bail!(
                "the model file is damaged: {} labels where the header says {nlabels}",
                labels.len()
            );
        }
        let pruneidx = if pruneidx_size >= 0 {
            let n = c.count("the pruning index size", pruneidx_size, c.left / 8)?;
            let mut m = HashMap::with_capacity(n);
            for _ in 0..n {
                let (a, b) = (c.i32()?, c.i32()?);
                m.insert(a, b);
            }
            Some(m)
        } else {
            None
        };
        let quantized = c.u8()? != 0;
        let input = if quantized {
            let qnorm = c.u8()? != 0;
            let m = c.i64_count("the input rows", c.left)?;
            let _n = c.i64()?;
            let codesize = c.i32_count("the code size", c.left)?;
            let codes = c.u8s(codesize)?;
            let pq = ProductQuantizer::load(c, dim)?;
            if codes.len() != m * pq.nsubq {
                bail!(
                    "the model file is damaged: {} codes for {m} rows of {} sub-quantizers",
                    codes.len(),
                    pq.nsubq
                );
            }
            let norms = if qnorm {
                let norm_codes = c.u8s(m)?;
                Some((norm_codes, ProductQuantizer::load(c, 1)?))
            } else {
                None
            };
            (m, Input::Quantized { codes, pq, norms })
        } else {
            let m = c.i64_count("the input rows", c.left)?;
            let n = c.i64_count("the input columns", c.left)?;
            if n != dim {
                bail!("the model file is damaged: input rows of {n} values, dimension {dim}");
            }
            (
                m,
                Input::Dense {
                    dim: n,
                    data: c.f32s(m.saturating_mul(n))?,
                },
            )
        };
        let (rows, input) = input;
        // Every row predict() can ask for: a dictionary word (ids below size) or a bucket.
        let buckets = match &pruneidx {
            None => bucket as usize,
            Some(p) => p.values().map(|&v| v as usize + 1).max().unwrap_or(0),
        };
        if pruneidx
            .as_ref()
            .is_some_and(|p| p.values().any(|&v| v < 0))
            || size.max(nwords + buckets) > rows
        {
            bail!("the model file is damaged: {rows} input rows for {size} entries and {buckets} buckets");
        }
        let qout = c.u8()? != 0;
        if qout {
            return Err(Unsupported("a quantized output matrix".into()).into());
        }
        let m = c.i64()?;
        let n = c.i64()?;
        if m != nlabels as i64 || n != dim as i64 {
            bail!("unexpected output matrix shape {m}x{n}");
        }
        let (m, n) = (m as usize, n as usize);
        let output = c.f32s(m * n)?;
        Ok(SupervisedModel {
            dim,
            word_ngrams,
            bucket,
            nwords: nwords as i32,
            words,
            labels,
            pruneidx,
            input,
            output,
        })
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    fn push_bucket(&self, rows: &mut Vec<usize>, id: i32) {
        match &self.pruneidx {
            None => rows.push((self.nwords + id) as usize),
            Some(p) => {
                if let Some(&mapped) = p.get(&id) {
                    rows.push((self.nwords + mapped) as usize);
                }
            }
        }
    }

    /// Label probabilities for one line of text (as fastText's `predict` with k = all),
    /// in label order. A trailing newline adds `</s>`, exactly as in fastText.
    pub fn predict(&self, line: &str) -> Vec<f32> {
        let mut rows: Vec<usize> = Vec::with_capacity(256);
        let mut hashes: Vec<i32> = Vec::with_capacity(256);
        let push_token = |token: &str, rows: &mut Vec<usize>, hashes: &mut Vec<i32>| {
            if let Some(&id) = self.words.get(token) {
                rows.push(id as usize);
            } else if token.starts_with("__label__") {
                return;
            }
            hashes.push(fnv(token.as_bytes()) as i32);
        };
        let bytes = line.as_bytes();
        let is_space = |b: u8| matches!(b, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c | 0);
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if is_space(b) {
                if b == b'\n' {
                    push_token(EOS, &mut rows, &mut hashes);
                    break; // fastText reads one line
                }
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && !is_space(bytes[i]) {
                i += 1;
            }
            // Tokens end at whitespace, which is ASCII, so the slice is valid UTF-8.
            push_token(&line[start..i], &mut rows, &mut hashes);
        }
        for a in 0..hashes.len() {
            let mut h = hashes[a] as i64 as u64;
            for &next in hashes
                .iter()
                .take((a + self.word_ngrams).min(hashes.len()))
                .skip(a + 1)
            {
                h = h.wrapping_mul(116_049_371).wrapping_add(next as i64 as u64);
                self.push_bucket(&mut rows, (h % self.bucket) as i32);
            }
        }
        let nlabels = self.labels.len();
        if rows.is_empty() {
            return vec![0.0; nlabels];
        }
        let mut hidden = vec![0.0f32; self.dim];
        for &r in &rows {
            self.input.add_row(&mut hidden, r);
        }
        let scale = 1.0 / rows.len() as f32;
        for h in &mut hidden {
            *h *= scale;
        }
        let mut out: Vec<f32> = (0..nlabels)
            .map(|l| {
                self.output[l * self.dim..(l + 1) * self.dim]
                    .iter()
                    .zip(&hidden)
                    .map(|(w, h)| w * h)
                    .sum()
            })
            .collect();
        let max = out.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut z = 0.0f32;
        for o in &mut out {
            *o = (*o - max).exp();
            z += *o;
        }
        for o in &mut out {
            // fastText reports exp(log(p + 1e-5)).
            *o = *o / z + 1e-5;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::fnv;

    #[test]
    fn fnv_sign_extends_bytes_like_fasttext() {
        assert_eq!(fnv(b""), 2_166_136_261);
        // A non-ASCII byte differs from plain FNV-1a because of the sign extension.
        let plain = (2_166_136_261u32 ^ 0xc3).wrapping_mul(16_777_619);
        assert_ne!(fnv(&[0xc3]), plain);
    }
}
