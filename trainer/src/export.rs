//! `sieve-train export --format safetensors`: the consolidated model under Hugging Face's
//! GPT-2 names (`transformer.h.0.attn.c_attn.weight`, …) and shapes (Conv1D weights stored
//! `[in, out]`, the embedding cut back to the tokenizer's vocabulary), with a `config.json`
//! for `GPT2LMHeadModel`, a `generation_config.json`, and the tokenizer the training data was
//! made with (`tokenizer.json` and its config; GPT-2's `vocab.json` and `merges.txt` too), so
//! that `AutoModelForCausalLM` and `AutoTokenizer` load the directory as it is.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use sieve_shards::atomic::AtomicFile;
use sieve_shards::tokenizer::Tokenizer;

use crate::ckpt;
use crate::safetensors::{self, Tensor};

/// Linear weights that Hugging Face's GPT-2 keeps as Conv1D (`[in, out]`).
fn is_conv1d(name: &str) -> bool {
    name.ends_with("c_attn.weight")
        || name.ends_with("attn.c_proj.weight")
        || name.ends_with("c_fc.weight")
        || name.ends_with("mlp.c_proj.weight")
}

pub fn export_hf(checkpoint: &Path, out_dir: &Path) -> Result<()> {
    let (config, tensors) = ckpt::consolidate(checkpoint)?;
    let m = &config.train.model;
    let Some(info) = &config.tokenizer else {
        bail!(
            "{}: the checkpoint does not name the tokenizer of its data, so the export would have none",
            checkpoint.display()
        );
    };
    let tokenizer = Tokenizer::by_name(&info.name)
        .with_context(|| format!("the tokenizer of {}", checkpoint.display()))?;
    if tokenizer.info.vocab_sha256 != info.vocab_sha256 {
        bail!(
            "tokenizer {}: its vocabulary (sha256 {}) is not the one the data was made with ({})",
            info.name,
            tokenizer.info.vocab_sha256,
            info.vocab_sha256
        );
    }
    std::fs::create_dir_all(out_dir)?;
    let mut hf = Vec::new();
    for t in tensors {
        let (rows, cols) = (t.shape[0], t.shape[1]);
        let (shape, data) = if t.name == "wte.weight" {
            (
                vec![m.vocab_size, cols],
                t.data[..m.vocab_size * cols].to_vec(),
            )
        } else if is_conv1d(&t.name) {
            let mut tr = vec![0.0f32; rows * cols];
            for r in 0..rows {
                for c in 0..cols {
                    tr[c * rows + r] = t.data[r * cols + c];
                }
            }
            (vec![cols, rows], tr)
        } else if rows == 1 || cols == 1 {
            (vec![rows * cols], t.data)
        } else {
            (vec![rows, cols], t.data)
        };
        hf.push(Tensor {
            name: format!("transformer.{}", t.name),
            shape,
            data,
        });
    }
    let meta = BTreeMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::write(&out_dir.join("model.safetensors"), &hf, &meta)?;
    let hf_config = serde_json::json!({
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": m.vocab_size,
        "n_positions": m.max_seq,
        "n_ctx": m.max_seq,
        "n_embd": m.hidden,
        "n_layer": m.layers,
        "n_head": m.heads,
        "activation_function": "gelu_new",
        "layer_norm_epsilon": 1e-5,
        "initializer_range": config.train.init_std,
        "tie_word_embeddings": true,
        "bos_token_id": config.tokenizer.as_ref().map(|t| t.eod_id),
        "eos_token_id": config.tokenizer.as_ref().map(|t| t.eod_id),
        "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0,
    });
    AtomicFile::write_all(
        &out_dir.join("config.json"),
        &serde_json::to_vec_pretty(&hf_config)?,
    )?;
    // Generation stops at the end-of-document token, which also starts an empty prompt.
    let generation = serde_json::json!({
        "bos_token_id": info.eod_id,
        "eos_token_id": info.eod_id,
    });
    AtomicFile::write_all(
        &out_dir.join("generation_config.json"),
        &serde_json::to_vec_pretty(&generation)?,
    )?;
    for (name, bytes) in tokenizer.hf_files(m.max_seq)? {
        AtomicFile::write_all(&out_dir.join(name), &bytes)?;
    }
    Ok(())
}
