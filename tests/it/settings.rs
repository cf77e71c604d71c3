//! Each stage setting is defined once: the stage's options type is both the command's flags
//! (clap) and the spec's `[[stage]]` keys (serde), with one `Default`. For every option of every
//! stage, the flag and the key give equal settings, the command with no flags equals a spec that
//! names only the stage (and both equal `Default`), and the table below covers every flag the
//! options type has. A default written apart on one path fails here (tried: `min_chars` in
//! clean's clap attribute).

use clap::Parser;
use serde::de::DeserializeOwned;
use sieve::blend::options::BlendOptions;
use sieve::cli::quality::{QualityArgs, QualityCommand};
use sieve::cli::{Cli, Command};
use sieve::decontam::options::DecontamOptions;
use sieve::dedup::config::DedupOptions;
use sieve::paragraphs::options::ParagraphDedupOptions;
use sieve::stages::clean::CleanOptions;
use sieve::stages::extract::ExtractOptions;
use sieve::stages::langid::LangidOptions;
use sieve::stages::quality::QualityOptions;
use sieve::tokenize::options::TokenizeOptions;

/// The options of `sieve <stage> FLAGS -o x in`, taken from the parsed command line.
fn from_flags<T>(stage: &str, flags: &str, pick: fn(Command) -> T) -> T {
    let mut argv = vec!["sieve"];
    argv.extend(stage.split_whitespace());
    argv.extend(flags.split_whitespace());
    // Every stage command but blend reads input shards.
    argv.extend(["-o", "x"]);
    if stage != "blend" {
        argv.push("in");
    }
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

/// `required`: the flags and keys every case needs (a model, a blend spec), added to each.
fn check_with<T>(
    stage: &str,
    pick: fn(Command) -> T,
    required: (&str, &str),
    cases: &[(&str, &str)],
) -> T
where
    T: clap::Args + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let (req_flags, req_keys) = required;
    let base = from_flags(stage, req_flags, pick);
    assert_eq!(
        base,
        from_spec::<T>(req_keys),
        "{stage}: no flags and a spec naming only the stage"
    );
    for (flags, keys) in cases {
        let by_flag = from_flags(stage, &format!("{req_flags} {flags}"), pick);
        assert_ne!(
            by_flag, base,
            "{stage} {flags}: the case must set a non-default value"
        );
        assert_eq!(
            by_flag,
            from_spec::<T>(&format!("{req_keys}\n{keys}")),
            "{stage}: `{flags}` and `{keys}` differ"
        );
    }
    for flag in flags_of::<T>() {
        let covered = cases
            .iter()
            .chain(std::iter::once(&required))
            .any(|(f, _)| f.split_whitespace().any(|w| w == flag));
        assert!(covered, "{stage}: {flag} has no case here");
    }
    base
}

fn check<T>(stage: &str, pick: fn(Command) -> T, cases: &[(&str, &str)])
where
    T: clap::Args + DeserializeOwned + Default + PartialEq + std::fmt::Debug,
{
    let base = check_with(stage, pick, ("", ""), cases);
    assert_eq!(
        base,
        T::default(),
        "{stage}: the defaults are not Default's"
    );
}

#[test]
fn clean_flags_and_spec_keys_are_one_setting() {
    let pick = |c| match c {
        Command::Stage(s) => s.options.try_into().unwrap(),
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
        Command::Stage(s) => s.options.try_into().unwrap(),
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
            ("--score-above 0.65", "score_above = 0.65"),
        ],
    );
}

fn stage_options<T: DeserializeOwned>(c: Command) -> T {
    match c {
        Command::Stage(s) => s.options.try_into().unwrap(),
        _ => unreachable!(),
    }
}

#[test]
fn filter_flags_and_spec_keys_are_one_setting() {
    use sieve::stages::filters::{c4_quality, fineweb_quality, gopher_quality, gopher_repetition};
    use sieve::stages::filters::{pii, url_filter};
    check::<gopher_quality::GopherQualityOptions>(
        "gopher-quality",
        stage_options,
        &[
            ("--min-doc-words 10", "min_doc_words = 10"),
            ("--max-doc-words 10", "max_doc_words = 10"),
            ("--min-avg-word-length 2.5", "min_avg_word_length = 2.5"),
            ("--max-avg-word-length 12", "max_avg_word_length = 12.0"),
            ("--max-symbol-word-ratio 0.2", "max_symbol_word_ratio = 0.2"),
            (
                "--max-bullet-lines-ratio 0.5",
                "max_bullet_lines_ratio = 0.5",
            ),
            (
                "--max-ellipsis-lines-ratio 0.5",
                "max_ellipsis_lines_ratio = 0.5",
            ),
            (
                "--max-non-alpha-words-ratio 0.5",
                "max_non_alpha_words_ratio = 0.5",
            ),
            ("--min-stop-words 3", "min_stop_words = 3"),
            ("--stop-words a,b", "stop_words = ['a', 'b']"),
            ("--words whitespace", "words = 'whitespace'"),
        ],
    );
    check::<gopher_repetition::GopherRepetitionOptions>(
        "gopher-repetition",
        stage_options,
        &[
            ("--dup-line-frac 0.5", "dup_line_frac = 0.5"),
            ("--dup-para-frac 0.5", "dup_para_frac = 0.5"),
            ("--dup-line-char-frac 0.5", "dup_line_char_frac = 0.5"),
            ("--dup-para-char-frac 0.5", "dup_para_char_frac = 0.5"),
            (
                "--top-n-grams 2:0.3",
                "top_n_grams = [{ n = 2, fraction = 0.3 }]",
            ),
            (
                "--dup-n-grams 5:0.2,6:0.1",
                "dup_n_grams = [{ n = 5, fraction = 0.2 }, { n = 6, fraction = 0.1 }]",
            ),
            ("--words whitespace", "words = 'whitespace'"),
        ],
    );
    check::<c4_quality::C4QualityOptions>(
        "c4-quality",
        stage_options,
        &[
            ("--sentences", "split_paragraph = false"),
            ("--keep-citations", "remove_citations = false"),
            (
                "--no-terminal-punct-rule",
                "filter_no_terminal_punct = false",
            ),
            ("--min-num-sentences -1", "min_num_sentences = -1"),
            ("--min-words-per-line 5", "min_words_per_line = 5"),
            ("--max-word-length 50", "max_word_length = 50"),
            ("--allow-lorem-ipsum", "filter_lorem_ipsum = false"),
            ("--allow-javascript", "filter_javascript = false"),
            ("--allow-curly-bracket", "filter_curly_bracket = false"),
            ("--allow-policy", "filter_policy = false"),
        ],
    );
    check::<fineweb_quality::FinewebQualityOptions>(
        "fineweb-quality",
        stage_options,
        &[
            ("--line-punct-thr 0.2", "line_punct_thr = 0.2"),
            (
                "--line-punct-exclude-zero",
                "line_punct_exclude_zero = true",
            ),
            ("--stop-chars .,!", "stop_chars = ['.', '!']"),
            ("--short-line-thr 0.5", "short_line_thr = 0.5"),
            ("--short-line-length 20", "short_line_length = 20"),
            ("--char-duplicates-ratio 0.1", "char_duplicates_ratio = 0.1"),
            ("--new-line-ratio 0.5", "new_line_ratio = 0.5"),
            ("--words whitespace", "words = 'whitespace'"),
        ],
    );
    check::<url_filter::UrlFilterOptions>(
        "url-filter",
        stage_options,
        &[
            ("--domain-list d", "domain_lists = ['d']"),
            ("--url-list u", "url_lists = ['u']"),
            ("--banned-words-file b", "banned_word_lists = ['b']"),
            ("--banned-subwords-file s", "banned_subword_lists = ['s']"),
            (
                "--soft-banned-words-file w",
                "soft_banned_word_lists = ['w']",
            ),
            ("--domain x.com", "extra_domains = ['x.com']"),
            ("--url x.com/a", "extra_urls = ['x.com/a']"),
            ("--banned-word casino", "banned_words = ['casino']"),
            ("--banned-subword money", "banned_subwords = ['money']"),
            ("--soft-banned-word poker", "soft_banned_words = ['poker']"),
            ("--soft-word-threshold 3", "soft_word_threshold = 3"),
        ],
    );
    check::<sieve::stages::filters::c4_badwords::C4BadwordsOptions>(
        "c4-badwords",
        stage_options,
        &[
            ("--word-list en=f", "word_lists = ['en=f']"),
            ("--keep-fraction 0.1", "keep_fraction = 0.1"),
            ("--seed 7", "seed = 7"),
            ("--default-language de", "default_language = 'de'"),
            (
                "--keep-missing-language",
                "fail_on_missing_language = false",
            ),
        ],
    );
    check::<pii::PiiOptions>(
        "pii",
        stage_options,
        &[
            ("--keep-emails", "remove_emails = false"),
            ("--keep-ips", "remove_ips = false"),
            ("--all-ips", "only_remove_public_ips = false"),
            (
                "--email-replacement a@b.org",
                "email_replacement = ['a@b.org']",
            ),
            ("--ip-replacement 1.1.1.1", "ip_replacement = ['1.1.1.1']"),
        ],
    );

    // datatrove 0.10.1's defaults, written here from its source (not read from sieve).
    let g = gopher_quality::GopherQualityOptions::default();
    assert_eq!(
        (g.min_doc_words, g.max_doc_words, g.min_stop_words),
        (50, 100_000, 2)
    );
    assert_eq!((g.min_avg_word_length, g.max_avg_word_length), (3.0, 10.0));
    assert_eq!(
        (
            g.max_symbol_word_ratio,
            g.max_bullet_lines_ratio,
            g.max_ellipsis_lines_ratio,
            g.max_non_alpha_words_ratio
        ),
        (0.1, 0.9, 0.3, 0.8)
    );
    assert_eq!(
        g.stop_words,
        ["the", "be", "to", "of", "and", "that", "have", "with"]
    );
    let r = gopher_repetition::GopherRepetitionOptions::default();
    assert_eq!(
        (
            r.dup_line_frac,
            r.dup_para_frac,
            r.dup_line_char_frac,
            r.dup_para_char_frac
        ),
        (0.3, 0.3, 0.2, 0.2)
    );
    let pairs = |v: &[gopher_repetition::NgramLimit]| {
        v.iter().map(|l| (l.n, l.fraction)).collect::<Vec<_>>()
    };
    assert_eq!(pairs(&r.top_n_grams), [(2, 0.2), (3, 0.18), (4, 0.16)]);
    assert_eq!(
        pairs(&r.dup_n_grams),
        [
            (5, 0.15),
            (6, 0.14),
            (7, 0.13),
            (8, 0.12),
            (9, 0.11),
            (10, 0.10)
        ]
    );
    let c = c4_quality::C4QualityOptions::default();
    assert_eq!(
        (c.min_num_sentences, c.min_words_per_line, c.max_word_length),
        (5, 3, 1000)
    );
    assert!(
        c.split_paragraph && c.remove_citations && c.filter_no_terminal_punct && c.filter_policy
    );
    let f = fineweb_quality::FinewebQualityOptions::default();
    assert_eq!(
        (f.line_punct_thr, f.short_line_thr, f.short_line_length),
        (0.12, 0.67, 30)
    );
    assert_eq!(
        (f.char_duplicates_ratio, f.new_line_ratio, f.stop_chars),
        (0.01, 0.3, None)
    );
    assert_eq!(
        url_filter::UrlFilterOptions::default().soft_word_threshold,
        2
    );
}

#[test]
fn extract_flags_and_spec_keys_are_one_setting() {
    let pick = |c| match c {
        Command::Extract(a) => a.options,
        _ => unreachable!(),
    };
    check::<ExtractOptions>(
        "extract",
        pick,
        &[
            ("--max-html-bytes 1000", "max_html_bytes = 1000"),
            ("--max-depth 40", "max_depth = 40"),
            ("--max-nodes 500", "max_nodes = 500"),
            ("--time-budget-ms 7", "time_budget_ms = 7"),
            ("--keep-empty", "keep_empty = true"),
        ],
    );
}

#[test]
fn quality_flags_and_spec_keys_are_one_setting() {
    let pick = |c| match c {
        Command::Quality(QualityArgs {
            what: QualityCommand::Filter(f),
        }) => f.options,
        _ => unreachable!(),
    };
    let base = check_with::<QualityOptions>(
        "quality filter",
        pick,
        ("--model m.ftz", "model = 'm.ftz'"),
        &[
            ("--alpha 2.5", "alpha = 2.5"),
            ("--threshold 0.5", "threshold = 0.5"),
            ("--seed 9", "seed = 9"),
        ],
    );
    assert_eq!(
        base,
        QualityOptions {
            model: "m.ftz".into(),
            ..QualityOptions::default()
        }
    );
}

#[test]
fn dedup_flags_and_spec_keys_are_one_setting() {
    let pick = |c| match c {
        Command::Dedup(a) => a.options,
        _ => unreachable!(),
    };
    check::<DedupOptions>(
        "dedup",
        pick,
        &[
            ("--priority a,b", "priority = ['a', 'b']"),
            ("--preset fineweb", "preset = 'fineweb'"),
            ("--bands 9", "bands = 9"),
            ("--rows 4", "rows = 4"),
            ("--shingle char:7", "shingle = 'char:7'"),
            ("--threshold 0.7", "threshold = 0.7"),
            ("--verify estimate", "verify = 'estimate'"),
            ("--methods exact,fuzzy", "methods = ['exact', 'fuzzy']"),
            ("--seed 3", "seed = 3"),
            ("--ranges 4", "ranges = 4"),
            ("--max-bucket-comparisons 10", "max_bucket_comparisons = 10"),
            ("--against i1 --against i2", "against = ['i1', 'i2']"),
            ("--write-index i3", "write_index = 'i3'"),
        ],
    );
}

#[test]
fn paragraph_dedup_flags_and_spec_keys_are_one_setting() {
    let pick = |c| match c {
        Command::ParagraphDedup(a) => a.options,
        _ => unreachable!(),
    };
    check::<ParagraphDedupOptions>(
        "paragraph-dedup",
        pick,
        &[
            ("--split paragraph", "split = 'paragraph'"),
            ("--keep none", "keep = 'none'"),
            ("--max-copies 7", "max_copies = 7"),
            ("--min-unit-chars 5", "min_unit_chars = 5"),
            ("--min-doc-chars 50", "min_doc_chars = 50"),
            ("--partitions 9", "partitions = 9"),
        ],
    );
}

#[test]
fn decontam_flags_and_spec_keys_are_one_setting() {
    let pick = |c| match c {
        Command::Decontam(a) => a.settings.options,
        _ => unreachable!(),
    };
    check::<DecontamOptions>(
        "decontam",
        pick,
        &[
            ("--tasks t.toml", "tasks = 't.toml'"),
            ("--compat megatron", "compat = 'megatron'"),
            ("--ngram 10", "ngram = 10"),
            ("--min-ngram 6", "min_ngram = 6"),
            ("--df-threshold 4", "df_threshold = 4"),
            ("--context-chars 50", "context_chars = 50"),
            ("--min-piece-chars 60", "min_piece_chars = 60"),
            ("--max-pieces 3", "max_pieces = 3"),
        ],
    );
}

#[test]
fn tokenize_flags_and_spec_keys_are_one_setting() {
    let pick = |c| match c {
        Command::Tokenize(a) => a.options,
        _ => unreachable!(),
    };
    check::<TokenizeOptions>(
        "tokenize",
        pick,
        &[
            ("--tokenizer cl100k", "tokenizer = 'cl100k'"),
            ("--seed 7", "seed = 7"),
        ],
    );
}

#[test]
fn blend_flags_and_spec_keys_are_one_setting() {
    let pick = |c| match c {
        Command::Blend(a) => a.options,
        _ => unreachable!(),
    };
    check_with::<BlendOptions>(
        "blend",
        pick,
        ("--spec b.toml", "spec = 'b.toml'"),
        &[("--no-stream", "no_stream = true")],
    );
}

/// `sieve run --show-settings` of a spec that names its stages and nothing else prints the
/// MT-NLG recipe's settings: the values below are written from the paper and Megatron's
/// scripts, not read from sieve. (The spec's table is read by the same options types as the
/// flags, checked above.)
#[test]
fn show_settings_prints_the_recipe_for_a_spec_naming_only_its_stages() {
    let dir = tempfile::tempdir().unwrap();
    let tasks = dir.path().join("tasks.toml");
    std::fs::write(&tasks, "[[task]]\nname = \"qa\"\npaths = [\"qa.jsonl\"]\n").unwrap();
    let spec = dir.path().join("spec.toml");
    std::fs::write(
        &spec,
        format!(
            r#"
[[input]]
kind = "import"
dataset = "web"
paths = ["in.jsonl"]
[output]
dir = "out"
[[stage]]
name = "extract"
[[stage]]
name = "langid"
[[stage]]
name = "clean"
[[stage]]
name = "dedup"
[[stage]]
name = "quality"
model = "m.ftz"
[[stage]]
name = "decontam"
tasks = {tasks:?}
[[stage]]
name = "tokenize"
"#
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("in.jsonl"), "").unwrap();
    let out = crate::util::run_ok(&["run", spec.to_str().unwrap(), "--show-settings"]);
    let printed: toml::Table = toml::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
    let stages = printed["stage"].as_array().unwrap();
    let stage = |name: &str| {
        stages
            .iter()
            .find(|s| s["name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in {printed}"))
            .as_table()
            .unwrap()
            .clone()
    };
    let int = |t: &toml::Table, k: &str| t[k].as_integer().unwrap_or_else(|| panic!("{k}"));
    let clean = stage("clean");
    assert_eq!(int(&clean, "min_chars"), 512);
    assert_eq!(int(&clean, "javascript_max_chars"), 256);
    let dedup = stage("dedup");
    assert_eq!((int(&dedup, "bands"), int(&dedup, "rows")), (20, 13));
    assert_eq!(dedup["threshold"].as_float(), Some(0.8));
    // find_duplicates.py's char_ngram=5.
    assert_eq!(dedup["shingle"].as_str(), Some("char:5"));
    assert_eq!(dedup["methods"].as_array().unwrap().len(), 3);
    assert_eq!(stage("quality")["alpha"].as_float(), Some(3.0));
    let decontam = stage("decontam");
    assert_eq!(int(&decontam, "ngram"), 13);
    assert_eq!(int(&decontam, "context_chars"), 200);
    assert_eq!(int(&decontam, "min_piece_chars"), 200);
    assert_eq!(int(&decontam, "max_pieces"), 10);
    assert_eq!(stage("tokenize")["tokenizer"].as_str(), Some("gpt2"));
    // The printed tables are themselves a spec's stages giving the same settings.
    assert_eq!(stages.len(), 7);
}
