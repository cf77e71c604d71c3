//! The `blend` stage of a spec: the tokenized datasets (`OUT/tokens`) mixed by the blend
//! spec's weights into `OUT/blend/` (Megatron prefixes, blending indices, `manifest.json`
//! written last). One task. See `crate::blend::build`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::blend::build::{build_blend, print_summary, BuildOptions};
use crate::blend::options::BlendOptions;
use crate::blend::spec::BlendSpec;
use crate::pipeline::global::{Completion, GlobalStage, GlobalStep, Placement, StepContext};
use crate::pipeline::spec::stage_options;

pub struct BlendStage {
    options: BlendOptions,
}

impl BlendStage {
    pub fn from_table(table: &toml::Table) -> Result<Box<dyn GlobalStage>> {
        let options: BlendOptions = stage_options("blend", table)?;
        if options.spec.as_os_str().is_empty() {
            bail!("blend: give the blend spec as `spec = \"BLEND.toml\"`");
        }
        Ok(Box::new(BlendStage { options }))
    }
}

impl GlobalStage for BlendStage {
    fn name(&self) -> &'static str {
        "blend"
    }

    fn placement(&self) -> Placement {
        Placement::End {
            after: Some("tokenize"),
        }
    }

    fn work_dir(&self, out: &Path) -> PathBuf {
        out.join("blend")
    }

    fn steps(&self) -> Vec<GlobalStep> {
        vec![GlobalStep::single(
            "blend",
            Completion::File("manifest.json".into()),
        )]
    }

    fn run_step(&self, _step: usize, cx: &StepContext) -> Result<()> {
        let spec = BlendSpec::load(&self.options.spec)?;
        let opts = BuildOptions {
            default_root: Some(cx.out.join("tokens")),
            no_stream: self.options.no_stream,
            quiet: cx.quiet,
        };
        let manifest = build_blend(&spec, cx.work, &opts)?;
        if !cx.quiet {
            print_summary(&manifest, cx.work);
        }
        Ok(())
    }
}
