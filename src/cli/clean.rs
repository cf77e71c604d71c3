//! `sieve clean`: Unicode repair, whitespace normalisation and the MT-NLG document rules.

use std::sync::Arc;

use anyhow::Result;
use clap::Args;

use super::Outcome;
use crate::io::source::InputKind;
use crate::pipeline::command::{run_stage_command, RunArgs};
use crate::pipeline::stage::Stage;
use crate::read::SourceSpec;
use crate::stages::clean::{CleanOptions, CleanStage};

#[derive(Debug, Args)]
pub struct CleanArgs {
    /// Drop documents with fewer characters (`too_short`); 0 disables.
    #[arg(long, default_value_t = 512)]
    pub min_chars: usize,
    /// Drop documents with fewer characters that mention "javascript" (`javascript`); 0 disables.
    #[arg(long, default_value_t = 256)]
    pub javascript_max_chars: usize,
    /// Megatron's remove_512_non_english: drop documents under N characters whose `lang` is
    /// not `en` (`short_non_english`); 0 (default) disables.
    #[arg(long, default_value_t = 0)]
    pub short_non_english_chars: usize,
    /// Megatron's general_cleaning substitution (join lines after words, squeeze spaces).
    #[arg(long)]
    pub megatron_general_cleaning: bool,
    /// Megatron's cleanup_dataset rule: drop documents under 8×N characters with fewer than
    /// N GPT-2 tokens (`too_few_tokens`); Megatron uses 128. 0 (default) disables.
    #[arg(long, default_value_t = 0)]
    pub min_gpt2_tokens: usize,
    /// Skip Unicode repair (mojibake, entities, controls, NFC).
    #[arg(long)]
    pub no_repair: bool,
    /// Skip whitespace normalisation.
    #[arg(long)]
    pub no_whitespace: bool,
    #[command(flatten)]
    pub run: RunArgs,
    /// Document shards.
    #[arg(required = true)]
    pub inputs: Vec<String>,
}

pub fn run(a: CleanArgs) -> Result<Outcome> {
    let options = CleanOptions {
        repair_unicode: !a.no_repair,
        normalize_whitespace: !a.no_whitespace,
        min_chars: a.min_chars,
        javascript_max_chars: a.javascript_max_chars,
        short_non_english_chars: a.short_non_english_chars,
        megatron_general_cleaning: a.megatron_general_cleaning,
        min_gpt2_tokens: a.min_gpt2_tokens,
    };
    let stages = Arc::new(move |_stem: &str| {
        Ok(vec![
            Box::new(CleanStage::new(options.clone())) as Box<dyn Stage>
        ])
    });
    run_stage_command(
        "clean",
        &a.inputs,
        InputKind::Shards,
        SourceSpec::Shards,
        stages,
        &a.run,
    )
}
