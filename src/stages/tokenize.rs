//! The `tokenize` stage of a spec: the finished documents (`OUT`) → Megatron indexed datasets
//! in `OUT/tokens/<dataset>/`, one task per shard; the task that finds every shard done writes
//! `OUT/tokens/tokenize.json`. See `crate::tokenize::step`.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::pipeline::global::{Completion, GlobalStage, GlobalStep, Placement, StepContext};
use crate::pipeline::spec::stage_options;
use crate::tokenize::options::TokenizeOptions;
use crate::tokenize::step::{print_summary, tokenize_all};
use crate::tokenize::Tokenizer;

pub struct TokenizeStage {
    options: TokenizeOptions,
}

impl TokenizeStage {
    pub fn from_table(table: &toml::Table) -> Result<Box<dyn GlobalStage>> {
        Ok(Box::new(TokenizeStage {
            options: stage_options("tokenize", table)?,
        }))
    }
}

impl GlobalStage for TokenizeStage {
    fn name(&self) -> &'static str {
        "tokenize"
    }

    fn placement(&self) -> Placement {
        Placement::End { after: None }
    }

    fn work_dir(&self, out: &Path) -> PathBuf {
        out.join("tokens")
    }

    fn steps(&self) -> Vec<GlobalStep> {
        vec![GlobalStep::map("tokenize", Completion::Dir("done".into()))]
    }

    fn run_step(&self, _step: usize, cx: &StepContext) -> Result<()> {
        let tokenizer = Tokenizer::by_name(&self.options.tokenizer)?;
        let manifest = tokenize_all(
            cx.work,
            &tokenizer,
            self.options.seed,
            cx.all,
            cx.mine,
            cx.threads,
            cx.quiet,
        )?;
        if let (Some(m), false) = (manifest, cx.quiet) {
            print_summary(&m, cx.work);
        }
        Ok(())
    }
}
