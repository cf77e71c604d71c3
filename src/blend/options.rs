//! The blend settings, defined once for the `sieve blend` flags and the spec's
//! `[[stage]] name = "blend"` keys.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The flags and spec keys are these fields, with the defaults of `Default` for both.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct BlendOptions {
    /// The blend spec (see pipelines/mtnlg-blend.toml); in a pipeline spec, relative to it.
    #[arg(long, value_name = "BLEND.toml", required = true)]
    pub spec: PathBuf,
    /// Do not write the blended stream; only the per-dataset prefixes, blend.txt and indices
    /// (Megatron blends the prefixes itself).
    #[arg(long)]
    pub no_stream: bool,
}
