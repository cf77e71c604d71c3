//! Inference for supervised fastText models in Rust: quality classifiers (words and word
//! n-grams) and language identifiers such as lid.176, GlotLID or OpenLID (character n-grams,
//! hierarchical softmax), dense or product-quantized.
//!
//! It reads fastText's binary format (version 12) and reproduces its prediction exactly:
//! the same tokenizer (whitespace, a final newline gives `</s>`), the same FNV-1a hashes of
//! words, word n-grams and the character n-grams of `<word>` (with their signed/unsigned
//! quirks), the same pruning index for quantized models, the averaged hidden vector, and the
//! output of each loss (softmax; one sigmoid per label for one-vs-all and negative sampling;
//! the Huffman tree of `fasttext_tree` for hierarchical softmax), all in `f32`. What it saves
//! over the C++ library is the stream-based tokenizer, per-word string allocations and the
//! `unordered_map` lookups of the pruning index.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{bail, Context, Result};

use super::fasttext_tree::HuffmanTree;

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

/// A product-quantized matrix (fastText's `QuantMatrix`): per row one code byte per
/// sub-quantizer, and optionally a quantized norm that scales the row.
struct QuantMatrix {
    codes: Vec<u8>,
    pq: ProductQuantizer,
    norms: Option<(Vec<u8>, ProductQuantizer)>,
}

impl QuantMatrix {
    /// Reads a quantized matrix of rows of `dim` values. `check` sees the stored shape
    /// (rows, columns) before any code is read and refuses one the model cannot use.
    fn load<R: Read>(
        c: &mut Cursor<R>,
        dim: usize,
        what: &str,
        check: impl FnOnce(usize, i64) -> Result<()>,
    ) -> Result<(usize, QuantMatrix)> {
        let qnorm = c.u8()? != 0;
        let m = c.i64_count(&format!("the {what} rows"), c.left)?;
        let n = c.i64()?;
        let codesize = c.i32_count(&format!("the {what} code size"), c.left)?;
        check(m, n)?;
        let codes = c.u8s(codesize)?;
        let pq = ProductQuantizer::load(c, dim)?;
        if codes.len() != m * pq.nsubq {
            bail!(
                "the model file is damaged: {} {what} codes for {m} rows of {} sub-quantizers",
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
        Ok((m, QuantMatrix { codes, pq, norms }))
    }

    /// The row's scale and its sub-quantizer centroids, each with its offset in the row.
    fn row(&self, row: usize) -> (f32, impl Iterator<Item = (usize, &[f32])>) {
        let alpha = match &self.norms {
            Some((norm_codes, npq)) => npq.centroid(0, norm_codes[row])[0],
            None => 1.0,
        };
        let pq = &self.pq;
        let code = &self.codes[pq.nsubq * row..pq.nsubq * (row + 1)];
        let parts = code
            .iter()
            .enumerate()
            .map(move |(m, &cm)| (m * pq.dsub, pq.centroid(m, cm)));
        (alpha, parts)
    }
}

/// The input matrix (a row per word, subword and n-gram bucket) or the output matrix (a row
/// per label, per internal tree node with hierarchical softmax), dense or product-quantized.
enum Matrix {
    Dense { dim: usize, data: Vec<f32> },
    Quantized(QuantMatrix),
}

impl Matrix {
    /// `x += row`.
    fn add_row(&self, x: &mut [f32], row: usize) {
        match self {
            Matrix::Dense { dim, data } => {
                for (xi, v) in x.iter_mut().zip(&data[row * dim..(row + 1) * dim]) {
                    *xi += v;
                }
            }
            Matrix::Quantized(q) => {
                let (alpha, parts) = q.row(row);
                for (base, c) in parts {
                    for (n, v) in c.iter().enumerate() {
                        x[base + n] += alpha * v;
                    }
                }
            }
        }
    }

    /// `row · x`.
    fn dot_row(&self, x: &[f32], row: usize) -> f32 {
        match self {
            Matrix::Dense { dim, data } => data[row * dim..(row + 1) * dim]
                .iter()
                .zip(x)
                .map(|(w, h)| w * h)
                .sum(),
            Matrix::Quantized(q) => {
                let (alpha, parts) = q.row(row);
                let mut sum = 0.0f32;
                for (base, c) in parts {
                    for (n, v) in c.iter().enumerate() {
                        sum += x[base + n] * v;
                    }
                }
                sum * alpha
            }
        }
    }
}

/// How the hidden vector becomes label probabilities (fastText's `-loss`).
enum Loss {
    Softmax,
    /// One-vs-all and negative sampling: an independent sigmoid per label.
    Sigmoid,
    Hierarchical(HuffmanTree),
}

/// A supervised fastText model for prediction.
pub struct SupervisedModel {
    dim: usize,
    word_ngrams: usize,
    bucket: u64,
    /// Character n-gram lengths of subwords (`maxn == 0`: none).
    minn: usize,
    maxn: usize,
    loss: Loss,
    nwords: i32,
    words: HashMap<String, i32>,
    labels: Vec<String>,
    /// Bucket → row for quantized models pruned with a cutoff (`None`: not pruned).
    pruneidx: Option<HashMap<i32, i32>>,
    input: Matrix,
    output: Matrix,
}

/// fastText's word hash: FNV-1a over the bytes, each sign-extended as C++'s `int8_t` does.
fn fnv(word: &[u8]) -> u32 {
    fnv_extend(2_166_136_261, word)
}

/// Continues an FNV-1a hash `h` over more bytes.
fn fnv_extend(mut h: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
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
        let loss = c.i32()?;
        let model = c.i32()?;
        let bucket = c.i32_count("the bucket count", i32::MAX as u64)? as u64;
        let minn = c.i32_count("the shortest character n-gram", 1 << 10)?;
        let maxn = c.i32_count("the longest character n-gram", 1 << 10)?;
        let _lr_update = c.i32()?;
        let _t = c.f64()?;
        if model != 3 {
            return Err(Unsupported("not a supervised model".into()).into());
        }
        if word_ngrams > 1 && bucket == 0 {
            bail!("the model file is damaged: word n-grams without buckets");
        }
        if maxn > 0 && bucket == 0 {
            bail!("the model file is damaged: character n-grams without buckets");
        }
        if !(1..=4).contains(&loss) {
            bail!("the model file is damaged: loss {loss} (fastText has 1 to 4)");
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
        let mut label_counts = Vec::with_capacity(nlabels);
        for i in 0..size as i32 {
            let word = c.cstring()?;
            let count = c.i64()?;
            let kind = c.u8()?;
            if kind == 0 {
                words.insert(word, i);
            } else {
                labels.push(word);
                label_counts.push(count);
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
            let (m, q) = QuantMatrix::load(c, dim, "input", |_, _| Ok(()))?;
            (m, Matrix::Quantized(q))
        } else {
            let m = c.i64_count("the input rows", c.left)?;
            let n = c.i64_count("the input columns", c.left)?;
            if n != dim {
                bail!("the model file is damaged: input rows of {n} values, dimension {dim}");
            }
            (
                m,
                Matrix::Dense {
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
        let output = if qout {
            let shape = |m: usize, n: i64| {
                if m != nlabels || n != dim as i64 {
                    bail!("unexpected output matrix shape {m}x{n}");
                }
                Ok(())
            };
            Matrix::Quantized(QuantMatrix::load(c, dim, "output", shape)?.1)
        } else {
            let m = c.i64()?;
            let n = c.i64()?;
            if m != nlabels as i64 || n != dim as i64 {
                bail!("unexpected output matrix shape {m}x{n}");
            }
            let (m, n) = (m as usize, n as usize);
            Matrix::Dense {
                dim: n,
                data: c.f32s(m * n)?,
            }
        };
        let loss = match loss {
            1 => Loss::Hierarchical(HuffmanTree::build(&label_counts)),
            3 => Loss::Softmax,
            _ => Loss::Sigmoid,
        };
        Ok(SupervisedModel {
            dim,
            word_ngrams,
            bucket,
            minn,
            maxn,
            loss,
            nwords: nwords as i32,
            words,
            labels,
            pruneidx,
            input,
            output,
        })
    }

    /// Whether label probabilities come from a softmax (they then sum to one).
    pub fn is_softmax(&self) -> bool {
        matches!(self.loss, Loss::Softmax)
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

    /// Pushes the rows of the character n-grams of `<token>` (lengths `minn..=maxn`, whole
    /// UTF-8 characters; a single character only inside the word), as fastText's
    /// `computeSubwords` does.
    fn push_subwords(&self, rows: &mut Vec<usize>, token: &str) {
        let mut word = Vec::with_capacity(token.len() + 2);
        word.push(b'<');
        word.extend_from_slice(token.as_bytes());
        word.push(b'>');
        let continuation = |b: u8| b & 0xC0 == 0x80;
        for i in 0..word.len() {
            if continuation(word[i]) {
                continue;
            }
            let mut j = i;
            let mut n = 1;
            // FNV-1a extends byte by byte, so the hash of each longer n-gram continues the
            // shorter one's: linear in maxn per position, whatever a model file asks for.
            let mut h = fnv(b"");
            while j < word.len() && n <= self.maxn {
                let from = j;
                j += 1;
                while j < word.len() && continuation(word[j]) {
                    j += 1;
                }
                h = fnv_extend(h, &word[from..j]);
                if n >= self.minn && !(n == 1 && (i == 0 || j == word.len())) {
                    self.push_bucket(rows, (h as u64 % self.bucket) as i32);
                }
                n += 1;
            }
        }
    }

    /// The averaged input rows of one line (fastText's hidden vector), or `None` when the
    /// line has no known word, subword or n-gram. A trailing newline adds `</s>`.
    fn hidden(&self, line: &str) -> Option<Vec<f32>> {
        let mut rows: Vec<usize> = Vec::with_capacity(256);
        let mut hashes: Vec<i32> = Vec::with_capacity(256);
        let push_token = |token: &str, rows: &mut Vec<usize>, hashes: &mut Vec<i32>| {
            let id = self.words.get(token);
            if id.is_none() && token.starts_with("__label__") {
                return;
            }
            if let Some(&id) = id {
                rows.push(id as usize);
            }
            if self.maxn > 0 && token != EOS {
                self.push_subwords(rows, token);
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
        if rows.is_empty() {
            return None;
        }
        let mut hidden = vec![0.0f32; self.dim];
        for &r in &rows {
            self.input.add_row(&mut hidden, r);
        }
        let scale = 1.0 / rows.len() as f32;
        for h in &mut hidden {
            *h *= scale;
        }
        Some(hidden)
    }

    /// Label probabilities for one line of text (as fastText's `predict` with k = all),
    /// in label order; all zero when the line has nothing the model knows. A trailing
    /// newline adds `</s>`, exactly as in fastText.
    pub fn predict(&self, line: &str) -> Vec<f32> {
        let nlabels = self.labels.len();
        let Some(hidden) = self.hidden(line) else {
            return vec![0.0; nlabels];
        };
        let sigmoid = |x: f32| 1.0 / (1.0 + (-x).exp());
        match &self.loss {
            Loss::Softmax => {
                let mut out: Vec<f32> = (0..nlabels)
                    .map(|l| self.output.dot_row(&hidden, l))
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
            Loss::Sigmoid => (0..nlabels)
                .map(|l| sigmoid(self.output.dot_row(&hidden, l)) + 1e-5)
                .collect(),
            Loss::Hierarchical(tree) => tree
                .all_log_probs(&mut |row| sigmoid(self.output.dot_row(&hidden, row)))
                .into_iter()
                .map(f32::exp)
                .collect(),
        }
    }

    /// The most probable label and its probability (fastText's `predict` with k = 1), or
    /// `None` when the line has nothing the model knows. With hierarchical softmax only the
    /// branches that can still win are scored.
    pub fn predict_best(&self, line: &str) -> Option<(usize, f32)> {
        match &self.loss {
            Loss::Hierarchical(tree) => {
                let hidden = self.hidden(line)?;
                let sigmoid = |x: f32| 1.0 / (1.0 + (-x).exp());
                let (label, log_p) =
                    tree.best(&mut |row| sigmoid(self.output.dot_row(&hidden, row)))?;
                Some((label, log_p.exp()))
            }
            _ => {
                self.hidden(line)?;
                let probs = self.predict(line);
                // The first of equal maxima, as a left-to-right scan finds it.
                let (label, p) =
                    probs
                        .iter()
                        .enumerate()
                        .fold((0, f32::NEG_INFINITY), |best, (l, &p)| {
                            if p > best.1 {
                                (l, p)
                            } else {
                                best
                            }
                        });
                Some((label, p))
            }
        }
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
