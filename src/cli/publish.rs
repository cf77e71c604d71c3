//! `sieve publish RUN_DIR s3://bucket/prefix`: a finished run copied to object storage,
//! markers and manifests last (see `pipeline/publish.rs`). Also the last step of a spec with
//! `[output] publish = "s3://…"`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::Outcome;
use crate::pipeline::publish::print_report;
use crate::pipeline::publish::publish;

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The output directory of a finished run.
    pub run: PathBuf,
    /// Destination, `s3://bucket/prefix` (endpoint and credentials from the AWS variables).
    pub destination: String,
    /// No progress output.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(a: PublishArgs) -> Result<Outcome> {
    let r = publish(&a.run, &a.destination, a.quiet)?;
    if !a.quiet {
        print_report(&r);
    }
    Ok(Outcome::Ok)
}
