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

struct Cursor<R: Read> {
    r: R,
}

impl<R: Read> Cursor<R> {
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut b = [0u8; N];
        self.r
            .read_exact(&mut b)
            .context("the model file ends early")?;
        Ok(b)
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
        let mut raw = vec![0u8; n * 4];
        self.r
            .read_exact(&mut raw)
            .context("the model file ends early")?;
        Ok(raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
    fn u8s(&mut self, n: usize) -> Result<Vec<u8>> {
        let mut raw = vec![0u8; n];
        self.r
            .read_exact(&mut raw)
            .context("the model file ends early")?;
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

struct ProductQuantizer {
    nsubq: usize,
    dsub: usize,
    lastdsub: usize,
    centroids: Vec<f32>,
}

impl ProductQuantizer {
    fn load<R: Read>(c: &mut Cursor<R>) -> Result<Self> {
        let dim = c.i32()? as usize;
        let nsubq = c.i32()? as usize;
        let dsub = c.i32()? as usize;
        let lastdsub = c.i32()? as usize;
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
        let mut c = Cursor {
            r: BufReader::new(f),
        };
        if c.i32()? != MAGIC {
            bail!("{} is not a fastText model", path.display());
        }
        let version = c.i32()?;
        if version != 12 {
            bail!("fastText format version {version} is not supported (12 is)");
        }
        let dim = c.i32()? as usize;
        let _ws = c.i32()?;
        let _epoch = c.i32()?;
        let _min_count = c.i32()?;
        let _neg = c.i32()?;
        let word_ngrams = c.i32()? as usize;
        let _loss = c.i32()?;
        let model = c.i32()?;
        let bucket = c.i32()? as u64;
        let _minn = c.i32()?;
        let maxn = c.i32()?;
        let _lr_update = c.i32()?;
        let _t = c.f64()?;
        if model != 3 {
            bail!("not a supervised model");
        }
        if maxn > 0 {
            bail!("models with character n-grams are not supported by the Rust reader");
        }
        let size = c.i32()?;
        let nwords = c.i32()?;
        let nlabels = c.i32()?;
        let _ntokens = c.i64()?;
        let pruneidx_size = c.i64()?;
        let mut words = HashMap::with_capacity(nwords as usize);
        let mut labels = Vec::with_capacity(nlabels as usize);
        for i in 0..size {
            let word = c.cstring()?;
            let _count = c.i64()?;
            let kind = c.u8()?;
            if kind == 0 {
                words.insert(word, i);
            } else {
                labels.push(word);
            }
        }
        let pruneidx = if pruneidx_size >= 0 {
            let mut m = HashMap::with_capacity(pruneidx_size as usize);
            for _ in 0..pruneidx_size {
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
            let m = c.i64()? as usize;
            let _n = c.i64()?;
            let codesize = c.i32()? as usize;
            let codes = c.u8s(codesize)?;
            let pq = ProductQuantizer::load(&mut c)?;
            let norms = if qnorm {
                let norm_codes = c.u8s(m)?;
                Some((norm_codes, ProductQuantizer::load(&mut c)?))
            } else {
                None
            };
            Input::Quantized { codes, pq, norms }
        } else {
            let m = c.i64()? as usize;
            let n = c.i64()? as usize;
            Input::Dense {
                dim: n,
                data: c.f32s(m * n)?,
            }
        };
        let qout = c.u8()? != 0;
        if qout {
            bail!("quantized output matrices are not supported by the Rust reader");
        }
        let m = c.i64()? as usize;
        let n = c.i64()? as usize;
        if m != nlabels as usize || n != dim {
            bail!("unexpected output matrix shape {m}x{n}");
        }
        let output = c.f32s(m * n)?;
        Ok(SupervisedModel {
            dim,
            word_ngrams,
            bucket,
            nwords,
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
