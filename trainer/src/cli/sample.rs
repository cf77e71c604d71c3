//! `sieve-train sample`: generate text from a checkpoint with the tokenizer of its data.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use sieve_shards::tokenizer::Tokenizer;

use crate::backend::Cpu;
use crate::ckpt;
use crate::dist::Solo;
use crate::model::{Activations, Gpt, ModelShard, Precision};

#[derive(Args, Debug)]
pub struct SampleArgs {
    /// A checkpoint (iteration directory or save directory).
    #[arg(long)]
    pub checkpoint: PathBuf,
    #[arg(long, default_value = "")]
    pub prompt: String,
    /// Tokens to generate.
    #[arg(short = 'n', long, default_value_t = 64)]
    pub tokens: usize,
    /// Softmax temperature of the draw; 0 is greedy (always the most likely token).
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f64,
    /// Draw among the k most likely tokens only.
    #[arg(long, default_value_t = 40)]
    pub top_k: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the generated token ids (space-separated) instead of the text.
    #[arg(long, conflicts_with = "logprobs")]
    pub ids: bool,
    /// Print one line per generated token instead of the text: its id, its log-probability
    /// under the model (before temperature and top-k) and its text as a JSON string.
    #[arg(long)]
    pub logprobs: bool,
}

/// One generated token: its id and its log-probability under the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Generated {
    pub id: u32,
    pub logprob: f64,
}

/// A single-rank model holding a checkpoint's consolidated weights.
pub fn load_model(checkpoint: &std::path::Path) -> Result<(Gpt<Cpu<f32>>, ckpt::CheckpointConfig)> {
    let (config, tensors) = ckpt::consolidate(checkpoint)?;
    let mut model = Gpt::new(
        config.train.model.clone(),
        ModelShard::SINGLE,
        Cpu::new(),
        Precision::Full,
    )?;
    for t in tensors {
        let spec = model.layout.get(&t.name).clone();
        model.params[spec.range()].copy_from_slice(&t.data);
    }
    Ok((model, config))
}

/// What `sample` prints: the text, the ids, or a line per token (see the flags).
pub fn run(args: &SampleArgs) -> Result<String> {
    let (tok, generated) = generate(args)?;
    let ids: Vec<u32> = generated.iter().map(|g| g.id).collect();
    if args.ids {
        let words: Vec<String> = ids.iter().map(u32::to_string).collect();
        return Ok(words.join(" "));
    }
    if args.logprobs {
        let lines: Vec<String> = generated
            .iter()
            .map(|g| {
                let text = String::from_utf8_lossy(&tok.decode(&[g.id])).into_owned();
                format!(
                    "{}\t{:.6}\t{}",
                    g.id,
                    g.logprob,
                    serde_json::Value::String(text)
                )
            })
            .collect();
        return Ok(lines.join("\n"));
    }
    Ok(String::from_utf8_lossy(&tok.decode(&ids)).into_owned())
}

/// The tokens a checkpoint generates after `args.prompt` (after the end-of-document token
/// when the prompt is empty), with their log-probabilities.
pub fn generate(args: &SampleArgs) -> Result<(Tokenizer, Vec<Generated>)> {
    let (model, config) = load_model(&args.checkpoint)?;
    let Some(info) = &config.tokenizer else {
        bail!(
            "{}: the checkpoint does not name its tokenizer",
            args.checkpoint.display()
        );
    };
    let tok = Tokenizer::by_name(&info.name).with_context(|| format!("tokenizer {}", info.name))?;
    let mut ids = Vec::new();
    tok.encode(&args.prompt, &mut ids)?;
    if ids.is_empty() {
        ids.push(tok.eod());
    }
    let mut rng = sieve_shards::rng::SplitMix(args.seed);
    let max = model.cfg.max_seq;
    let vocab = model.cfg.vocab_size;
    let mut generated = Vec::with_capacity(args.tokens);
    for _ in 0..args.tokens {
        let ctx = &ids[ids.len().saturating_sub(max)..];
        let mut acts = Activations::new(1, ctx.len());
        acts.tokens = ctx.to_vec();
        acts.targets = vec![0; ctx.len()];
        model.forward(&mut acts, &Solo)?;
        let vl = model.layout.vocab_local;
        let row = &acts.logits()[(ctx.len() - 1) * vl..(ctx.len() - 1) * vl + vocab];
        let id = pick(row, args.temperature, args.top_k, &mut rng);
        generated.push(Generated {
            id,
            logprob: log_softmax_at(row, id as usize),
        });
        ids.push(id);
    }
    Ok((tok, generated))
}

/// `log(softmax(logits)[i])`, in f64 with the maximum subtracted.
fn log_softmax_at(logits: &[f32], i: usize) -> f64 {
    let top = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    let sum: f64 = logits.iter().map(|&x| (x as f64 - top).exp()).sum();
    logits[i] as f64 - top - sum.ln()
}

/// Top-k sampling at a temperature (greedy at temperature 0).
fn pick(
    logits: &[f32],
    temperature: f64,
    top_k: usize,
    rng: &mut sieve_shards::rng::SplitMix,
) -> u32 {
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    if temperature <= 0.0 {
        return order[0] as u32;
    }
    order.truncate(top_k.max(1));
    let top = logits[order[0]] as f64;
    let weights: Vec<f64> = order
        .iter()
        .map(|&i| ((logits[i] as f64 - top) / temperature).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let mut u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
    for (&i, w) in order.iter().zip(&weights) {
        if u < *w {
            return i as u32;
        }
        u -= w;
    }
    order[order.len() - 1] as u32
}
