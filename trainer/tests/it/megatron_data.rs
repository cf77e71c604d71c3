//! The trainer's samples are Megatron's: document, sample and shuffle indices, blending
//! indices and the tokens of blended samples equal those of `../shared/tools/megatron_ref.py`
//! (numpy's RandomState) for several splits, seeds, sequence lengths and sample counts.

use crate::common;

use sieve_trainer::data::blend_dir::parse_blend;
use sieve_trainer::data::samples::{indices_for, per_dataset_sizes};
use sieve_trainer::data::{BlendDir, SampleSource, Split};

const REFERENCE: &str = r#"
import json, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import megatron_ref as m
prefix, split, which, seq, n, seed = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
r = m.read_indexed(prefix)
ranges = m.split_indices(len(r["lengths"]), m.split_matrix(m.parse_split(split)))
doc, samp, shuf = m.gpt_indices(r["lengths"], ranges[which], seq, n, seed)
print(json.dumps({"doc": doc.tolist(), "sample": samp.tolist(), "shuffle": shuf.tolist()}))
"#;

const BLENDED: &str = r#"
import json, sys, math
sys.path.insert(0, sys.argv[1])
import numpy as np
import megatron_ref as m
blend_dir, which, seq, n, seed, count, split = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), sys.argv[8]
words = sys.argv[9].split()  # Megatron's --data-path: w1 p1 w2 p2 ..., or p1 p2 ...
# get_blend_from_list: an odd count, or pairs whose first words are not numbers, are prefixes
# without weights.
def number(x):
    try:
        return float(x)
    except ValueError:
        return None
weights = [number(w) for w in words[0::2]] if len(words) % 2 == 0 else [None]
if None in weights:
    weights, prefixes = None, words
else:
    prefixes = words[1::2]
prefixes = [blend_dir + "/" + p for p in prefixes]
def member(p, num_samples):
    r = m.read_indexed(p)
    ranges = m.split_indices(len(r["lengths"]), m.split_matrix(m.parse_split(split)))
    return (r, m.gpt_indices(r["lengths"], ranges[which], seq, num_samples, seed))
if weights is None and len(prefixes) == 1:
    # BlendedMegatronDatasetBuilder: a single prefix is a plain GPTDataset of n samples.
    members = [member(prefixes[0], n)]
    size = len(members[0][1][2])
    di, dsi = np.zeros(size, np.int16), np.arange(size)
elif weights is None:
    # One epoch of each (num_samples None), blended by their lengths, at most n samples.
    members = [member(p, None) for p in prefixes]
    lengths = [len(shuf) for _, (_, _, shuf) in members]
    size = min(n, sum(lengths))
    w = np.asarray(lengths, np.float64)
    di, dsi = m.build_blending_indices((w / np.sum(w)).tolist(), size)
else:
    w, target, buffer = m.per_dataset_sizes(weights, [n, n, n])
    members = [member(p, buf[which]) for p, buf in zip(prefixes, buffer)]
    size = sum(t[which] for t in target)
    di, dsi = m.build_blending_indices(w, size)
out = []
for k in range(count):
    r, (doc, samp, shuf) = members[di[k]]
    j = shuf[dsi[k]]
    (i0, o0), (i1, o1) = samp[j], samp[j + 1]
    toks = []
    for i in range(i0, i1 + 1):
        d = doc[i]
        p, L = int(r["pointers"][d]) // r["dtype"].itemsize, int(r["lengths"][d])
        t = r["data"][p:p + L].tolist()
        toks += t[(o0 if i == i0 else 0):(o1 + 1 if i == i1 else L)]
    out.append(toks)
print(json.dumps({"size": int(size), "dataset_index": di.tolist(), "samples": out}))
"#;

#[test]
fn gpt_dataset_indices_equal_megatron_ref() {
    let (Some(tools), Some(py)) = (common::shared_tools(), common::python_with(&["numpy"])) else {
        return;
    };
    let blend = common::sample_blend();
    let tools = tools.to_str().unwrap();
    let mut checked = 0;
    for name in ["web", "books", "encyclopedia"] {
        let prefix = blend.join(format!("datasets/{name}_text_document"));
        // One epoch, many epochs with a separate last epoch, many epochs without; the valid
        // split; several seeds.
        for &(which, seq, n, seed) in &[
            (0usize, 64u64, 10u64, 1234u32),
            (0, 128, 500, 1),
            (0, 32, 1234, 99),
            (1, 16, 40, 1234),
            (1, 256, 3, 7),
            (0, 512, 60, 31337),
        ] {
            let got = indices_for(&prefix, "90,10,0", which, seq, n, seed).unwrap();
            let out = common::run_python(
                &py,
                REFERENCE,
                &[
                    tools,
                    prefix.to_str().unwrap(),
                    "90,10,0",
                    &which.to_string(),
                    &seq.to_string(),
                    &n.to_string(),
                    &seed.to_string(),
                ],
            );
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            let doc: Vec<i32> = serde_json::from_value(v["doc"].clone()).unwrap();
            let sample: Vec<[i64; 2]> = serde_json::from_value(v["sample"].clone()).unwrap();
            let shuffle: Vec<u64> = serde_json::from_value(v["shuffle"].clone()).unwrap();
            assert_eq!(
                got.document, doc,
                "{name} document index, seq {seq} n {n} seed {seed}"
            );
            assert_eq!(
                got.sample, sample,
                "{name} sample index, seq {seq} n {n} seed {seed}"
            );
            assert_eq!(
                got.shuffle, shuffle,
                "{name} shuffle index, seq {seq} n {n} seed {seed}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 18);
}

#[test]
fn blended_samples_equal_megatron_ref() {
    let (Some(tools), Some(py)) = (common::shared_tools(), common::python_with(&["numpy"])) else {
        return;
    };
    let blend_path = common::sample_blend();
    // The sample blend as written (blend.txt, read through the checked blend directory) ...
    let blend = BlendDir::open(&blend_path, true).unwrap();
    let written = std::fs::read_to_string(blend_path.join("blend.txt")).unwrap();
    let mut cases = vec![(
        written.trim().to_string(),
        "90,10,0".to_string(),
        Some(&blend),
    )];
    // ... and other blends of its prefixes: other weights and orders, two datasets, another split.
    for (data, split) in [
        ("0.1 datasets/books_text_document 0.9 datasets/web_text_document", "90,10,0"),
        ("3 datasets/encyclopedia_text_document 1 datasets/books_text_document 1 datasets/web_text_document", "80,20"),
        ("1 datasets/web_text_document", "969, 30, 1"),
        // Megatron's forms without weights: one bare prefix (a plain GPTDataset), an odd and
        // an even number of prefixes (one epoch of each, blended by size).
        ("datasets/web_text_document", "90,10,0"),
        ("datasets/books_text_document datasets/web_text_document datasets/encyclopedia_text_document", "90,10,0"),
        ("datasets/encyclopedia_text_document datasets/books_text_document", "80,20"),
    ] {
        cases.push((data.to_string(), split.to_string(), None));
    }
    for (data, split_spec, dir) in &cases {
        for (split, which, seq, n, seed) in [
            (Split::Train, 0usize, 64usize, 300u64, 1234u32),
            (Split::Valid, 1, 32, 50, 5),
            (Split::Train, 0, 128, 1000, 42),
        ] {
            let src = match dir {
                Some(b) => SampleSource::blended(b, split, n, seq, seed).unwrap(),
                None => {
                    let blend = parse_blend(data).unwrap().map(|p| blend_path.join(p));
                    SampleSource::from_blend(&blend, split_spec, split, n, seq, seed).unwrap()
                }
            };
            let count = 40.min(src.len() as usize);
            let out = common::run_python(
                &py,
                BLENDED,
                &[
                    tools.to_str().unwrap(),
                    blend_path.to_str().unwrap(),
                    &which.to_string(),
                    &seq.to_string(),
                    &n.to_string(),
                    &seed.to_string(),
                    &count.to_string(),
                    split_spec,
                    data,
                ],
            );
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(
                v["size"].as_u64().unwrap(),
                src.len(),
                "blended size of {data:?}"
            );
            let want: Vec<Vec<u32>> = serde_json::from_value(v["samples"].clone()).unwrap();
            for (k, w) in want.iter().enumerate() {
                let mut got = Vec::new();
                src.sample(k as u64, &mut got).unwrap();
                assert_eq!(got.len(), seq + 1);
                assert_eq!(
                    &got, w,
                    "{data:?} split {split_spec:?}: sample {k} (seq {seq}, n {n}, seed {seed})"
                );
            }
        }
    }
}

#[test]
fn per_dataset_sizes_follow_megatrons_surplus() {
    // ceil(N·w) taken, ceil(ceil(N·w)·1.005) built.
    assert_eq!(
        per_dataset_sizes(&[0.5, 0.3, 0.2], 1000),
        vec![(500, 503), (300, 302), (200, 201)]
    );
}
