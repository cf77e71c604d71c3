//! docs/testing.md, the table of claims and the tests that check them, names only tests that
//! exist: a renamed or deleted test fails here instead of leaving a claim without a check.

use std::collections::BTreeSet;
use std::path::Path;

use crate::util::repo;

/// Every `fn name` defined in the Rust files under `dir`.
fn functions_under(dir: &Path, out: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "target") {
                functions_under(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&p).unwrap();
            for rest in text.split("fn ").skip(1) {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.insert(name);
            }
        }
    }
}

#[test]
fn every_test_named_in_docs_testing_exists() {
    let root = repo();
    let mut functions = BTreeSet::new();
    for dir in ["src", "shards/src", "tests", "trainer/src", "trainer/tests"] {
        functions_under(&root.join(dir), &mut functions);
    }
    let table = std::fs::read_to_string(root.join("docs/testing.md")).unwrap();
    let mut named = 0;
    for (k, span) in table.split('`').enumerate() {
        // Odd pieces are inside backticks; test references are paths with `::`.
        if k % 2 == 0 || !span.contains("::") || span.contains([' ', '<']) {
            continue;
        }
        let last = span.rsplit("::").next().unwrap();
        if last == "*" {
            // A whole test file: `file::*` is tests/it/file.rs or trainer/tests/it/file.rs.
            let file = span.trim_end_matches("::*");
            assert!(
                root.join(format!("tests/it/{file}.rs")).exists()
                    || root.join(format!("trainer/tests/it/{file}.rs")).exists(),
                "docs/testing.md names the test file `{file}`, which does not exist"
            );
        } else if !last.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
            assert!(
                functions.contains(last),
                "docs/testing.md names the test `{span}`, but no `fn {last}` exists"
            );
        }
        named += 1;
    }
    assert!(named >= 60, "only {named} tests named in docs/testing.md");
}

/// The Markdown files a reader follows links through: the README, the guide under docs/, and
/// the benchmark history the guide includes.
fn markdown_files() -> Vec<std::path::PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
    }
    let root = repo();
    let mut files = vec![root.join("README.md"), root.join("benches/README.md")];
    walk(&root.join("docs"), &mut files);
    files.sort();
    files
}

/// The text of a Markdown file outside fenced code blocks and inline code spans (links in
/// code are examples, not links).
fn prose(markdown: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            for (i, part) in line.split('`').enumerate() {
                if i % 2 == 0 {
                    out.push_str(part);
                }
            }
            out.push('\n');
        }
    }
    out
}

/// The anchors of a Markdown file's headings, as GitHub and mdBook make them: lowercase,
/// letters, digits, `-` and `_` kept, spaces to `-`, everything else dropped; a repeated
/// heading gets `-1`, `-2`, ….
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        let Some(title) = line.strip_prefix('#').filter(|_| !fenced) else {
            continue;
        };
        let title = title.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue;
        }
        let slug: String = title
            .trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let mut unique = slug.clone();
        let mut k = 0;
        while seen.contains(&unique) {
            k += 1;
            unique = format!("{slug}-{k}");
        }
        seen.insert(unique);
    }
    seen
}

#[test]
fn every_relative_link_and_anchor_of_the_readme_and_guide_resolves() {
    let root = repo();
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let rel = file.strip_prefix(&root).unwrap().display().to_string();
        let dir = file.parent().unwrap();
        let mut targets: Vec<String> = Vec::new();
        let body = prose(&text);
        for piece in body.split("](").skip(1) {
            if let Some(end) = piece.find(')') {
                targets.push(piece[..end].trim().to_string());
            }
        }
        // mdBook's includes name files too.
        for piece in text.split("{{#include ").skip(1) {
            if let Some(end) = piece.find("}}") {
                let path = piece[..end].split(':').next().unwrap().trim();
                targets.push(path.to_string());
            }
        }
        for target in targets {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (target.as_str(), None),
            };
            let resolved = if path.is_empty() {
                file.clone()
            } else {
                dir.join(path)
            };
            if !resolved.exists() {
                broken.push(format!("{rel}: {target} (no such file)"));
                continue;
            }
            if let Some(anchor) = anchor {
                let linked = std::fs::read_to_string(&resolved).unwrap_or_default();
                if !anchors(&linked).contains(anchor) {
                    broken.push(format!("{rel}: {target} (no such heading)"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(checked >= 40, "only {checked} links checked");
}

#[test]
fn heading_anchors_are_made_as_github_makes_them() {
    let a = anchors("# One Common Crawl snapshot: `pipelines/mtnlg-cc.toml`\n## Output directory\n## Output directory\n```\n# not a heading\n```\n");
    let want: BTreeSet<String> = [
        "one-common-crawl-snapshot-pipelinesmtnlg-cctoml",
        "output-directory",
        "output-directory-1",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(a, want);
}

#[test]
fn the_readme_is_read_in_ten_minutes() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= 200,
        "README.md has {lines} lines; the guide is docs/"
    );
}

/// Every long option of every `sieve` command: (`sieve dedup index`, `--work`).
fn every_option() -> Vec<(String, String)> {
    fn walk(cmd: &clap::Command, path: &str, out: &mut Vec<(String, String)>) {
        for a in cmd.get_arguments() {
            if let Some(long) = a.get_long() {
                if !["help", "version"].contains(&long) {
                    out.push((path.to_string(), format!("--{long}")));
                }
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }
    let mut out = Vec::new();
    walk(
        &<sieve::cli::Cli as clap::CommandFactory>::command(),
        "sieve",
        &mut out,
    );
    out
}

/// docs/testing.md's "Every option" table: (command, option) pairs in the order written. A
/// `sieve …` span sets the command for the `--option` spans after it.
fn options_table() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo().join("docs/testing.md")).unwrap();
    let section = text
        .split("\n## Every option\n")
        .nth(1)
        .expect("docs/testing.md has an \"Every option\" section");
    let section = section.split("\n## ").next().unwrap();
    let mut out = Vec::new();
    for row in section.lines().filter(|l| l.starts_with("| ")) {
        let first_cell = row.split(" | ").next().unwrap();
        let mut command = String::new();
        for (k, span) in first_cell.split('`').enumerate() {
            if k % 2 == 1 && span.starts_with("sieve") {
                command = span.to_string();
            } else if k % 2 == 1 && span.starts_with("--") {
                assert!(
                    !command.is_empty(),
                    "{span} has no command before it: {row}"
                );
                out.push((command.clone(), span.to_string()));
            }
        }
    }
    out
}

/// Whether the table's `command` covers the option's command path (itself or a subcommand).
fn covers(command: &str, path: &str) -> bool {
    path == command || path.starts_with(&format!("{command} "))
}

#[test]
fn every_option_of_every_command_is_in_the_options_table() {
    let table = options_table();
    let options = every_option();
    assert!(options.len() > 300, "{} options", options.len());
    // Help text options that every command has are not settings.
    let missing: Vec<String> = options
        .iter()
        .filter(|(path, flag)| flag != "--quiet" || path == "sieve")
        .filter(|(path, flag)| !table.iter().any(|(c, f)| f == flag && covers(c, path)))
        .map(|(path, flag)| format!("{path} {flag}"))
        .collect();
    assert!(
        missing.is_empty(),
        "options missing from docs/testing.md's \"Every option\" table: {missing:?}"
    );
    let stale: Vec<String> = table
        .iter()
        .filter(|(c, f)| {
            !options
                .iter()
                .any(|(path, flag)| flag == f && covers(c, path))
        })
        .map(|(c, f)| format!("{c} {f}"))
        .collect();
    assert!(
        stale.is_empty(),
        "the table names options that do not exist: {stale:?}"
    );
}
