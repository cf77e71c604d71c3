//! Each stage setting is defined once: the stage's options type is both the command's flags
//! (clap) and the spec's `[[stage]]` keys (serde), with one `Default`. For every option of the
//! stages converted so far (clean, langid; the others follow), the flag and the key give equal
//! settings, the command with no flags equals a spec that names only the stage, and the table
//! below covers every flag the options type has.

use clap::Parser;
use serde::de::DeserializeOwned;
use sieve::cli::{Cli, Command};
use sieve::stages::clean::CleanOptions;
use sieve::stages::langid::LangidOptions;

/// The options of `sieve <stage> FLAGS -o x in`, taken from the parsed command line.
fn from_flags<T>(stage: &str, flags: &str, pick: fn(Command) -> T) -> T {
    let mut argv = vec!["sieve", stage];
    argv.extend(flags.split_whitespace());
    argv.extend(["-o", "x", "in"]);
    let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    pick(cli.command)
}

fn from_spec<T: DeserializeOwned>(keys: &str) -> T {
    toml::from_str(keys).unwrap_or_else(|e| panic!("{keys:?}: {e}"))
}

/// Every long flag an options type defines.
fn flags_of<T: clap::Args>() -> Vec<String> {
    T::augment_args(clap::Command::new("x"))
        .get_arguments()
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect()
}

fn check<T>(stage: &str, pick: fn(Command) -> T, cases: &[(&str, &str)])
where
    T: clap::Args + DeserializeOwned + Default + PartialEq + std::fmt::Debug,
{
    let defaults = T::default();
    assert_eq!(from_flags(stage, "", pick), defaults, "{stage}: no flags");
    assert_eq!(
        from_spec::<T>(""),
        defaults,
        "{stage}: a spec naming only the stage"
    );
    for (flags, keys) in cases {
        let by_flag = from_flags(stage, flags, pick);
        assert_ne!(
            by_flag, defaults,
            "{stage} {flags}: the case must set a non-default value"
        );
        assert_eq!(
            by_flag,
            from_spec::<T>(keys),
            "{stage}: `{flags}` and `{keys}` differ"
        );
    }
    for flag in flags_of::<T>() {
        assert!(
            cases
                .iter()
                .any(|(f, _)| f.split_whitespace().next() == Some(flag.as_str())),
            "{stage}: {flag} has no case here"
        );
    }
}

#[test]
fn clean_flags_and_spec_keys_are_one_setting() {
    let pick = |c| match c {
        Command::Clean(a) => a.options,
        _ => unreachable!(),
    };
    check::<CleanOptions>(
        "clean",
        pick,
        &[
            ("--no-repair", "repair_unicode = false"),
            ("--no-whitespace", "normalize_whitespace = false"),
            ("--min-chars 100", "min_chars = 100"),
            ("--javascript-max-chars 99", "javascript_max_chars = 99"),
            (
                "--short-non-english-chars 512",
                "short_non_english_chars = 512",
            ),
            (
                "--megatron-general-cleaning",
                "megatron_general_cleaning = true",
            ),
            ("--min-gpt2-tokens 128", "min_gpt2_tokens = 128"),
        ],
    );
    // The paper's rules are the defaults on both paths.
    let d = CleanOptions::default();
    assert_eq!((d.min_chars, d.javascript_max_chars), (512, 256));
}

#[test]
fn langid_flags_and_spec_keys_are_one_setting() {
    let pick = |c| match c {
        Command::Langid(a) => a.options,
        _ => unreachable!(),
    };
    check::<LangidOptions>(
        "langid",
        pick,
        &[
            ("--keep en,de", "keep = ['en', 'de']"),
            ("--min-score 0.5", "min_score = 0.5"),
            ("--backend whatlang", "backend = 'whatlang'"),
            ("--lid-model m.ftz", "lid_model = 'm.ftz'"),
        ],
    );
}
