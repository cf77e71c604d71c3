//! The commands of the document-to-document stages the registry gives a command of their own
//! shape (`sieve clean`, `sieve langid`, …): `sieve <stage> [STAGE OPTIONS] [RUN OPTIONS]
//! --output DIR SHARDS...`. The stage's flags are its options type's (`stages/registry.rs`
//! names it), so a stage registered with a command needs no file here: its options are read
//! from the command line, written as its `[[stage]]` table, and the stage is built from that
//! table exactly as a spec builds it.

use anyhow::Result;
use clap::{ArgMatches, Args, FromArgMatches};

use super::Outcome;
use crate::io::source::InputKind;
use crate::pipeline::command::{run_stage_command, RunArgs};
use crate::pipeline::spec::StageSpec;
use crate::read::SourceSpec;
use crate::stages::registry;

/// One stage's command as parsed: the stage, its options as a spec table, the run options and
/// the input shards.
#[derive(Debug, Clone)]
pub struct StageCommand {
    pub stage: String,
    pub options: toml::Table,
    pub run: RunArgs,
    pub inputs: Vec<String>,
}

const INPUTS: &str = "inputs";

impl FromArgMatches for StageCommand {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let Some((name, sub)) = matches.subcommand() else {
            return Err(clap::Error::new(clap::error::ErrorKind::MissingSubcommand));
        };
        let Some(cli) = registry::command(name) else {
            return Err(clap::Error::new(clap::error::ErrorKind::InvalidSubcommand));
        };
        Ok(StageCommand {
            stage: name.to_string(),
            options: (cli.options)(sub)?,
            run: RunArgs::from_arg_matches(sub)?,
            inputs: sub
                .get_many::<String>(INPUTS)
                .map(|v| v.cloned().collect())
                .unwrap_or_default(),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Subcommand for StageCommand {
    fn augment_subcommands(cmd: clap::Command) -> clap::Command {
        registry::commands().fold(cmd, |cmd, (name, cli)| {
            // After the options' flags: their struct's doc comment would be the help line.
            let sub = (cli.augment)(clap::Command::new(name))
                .about(cli.about)
                .long_about(None);
            let sub = RunArgs::augment_args(sub).arg(
                clap::Arg::new(INPUTS)
                    .help("Document shards (files, directories, globs, listings, URLs)")
                    .required(true)
                    .num_args(1..)
                    .value_name("INPUTS"),
            );
            cmd.subcommand(sub)
        })
    }

    fn augment_subcommands_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_subcommands(cmd)
    }

    fn has_subcommand(name: &str) -> bool {
        registry::command(name).is_some()
    }
}

/// Runs the stage over the input shards. The stage is built once first, so that a bad option
/// (a missing model) is reported before any input is resolved.
pub fn run(c: StageCommand) -> Result<Outcome> {
    let spec = StageSpec {
        name: c.stage.clone(),
        options: c.options,
    };
    let stages = registry::factory(std::slice::from_ref(&spec))?;
    stages("")?;
    run_stage_command(
        &c.stage,
        &c.inputs,
        InputKind::Shards,
        SourceSpec::Shards,
        stages,
        &c.run,
    )
}
