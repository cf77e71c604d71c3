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
    for dir in ["src", "tests", "trainer/src", "trainer/tests"] {
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
            // A whole test file: `file::*` is tests/it/file.rs or trainer/tests/file.rs.
            let file = span.trim_end_matches("::*");
            assert!(
                root.join(format!("tests/it/{file}.rs")).exists()
                    || root.join(format!("trainer/tests/{file}.rs")).exists(),
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
