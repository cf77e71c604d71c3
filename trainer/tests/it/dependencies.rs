//! The trainer builds without the pipeline: nothing it depends on, directly or through other
//! crates (normal and dev dependencies alike), is sieve itself, Arrow, Parquet, tokio,
//! object_store, cld2 or fastText. Read from the workspace's Cargo.lock, which lists every
//! package with the packages it depends on, so the check needs neither cargo nor the network.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::workspace;

/// Package name → the names of the packages it depends on (over all versions of a name).
fn lock_graph() -> BTreeMap<String, BTreeSet<String>> {
    let lock = std::fs::read_to_string(workspace().join("Cargo.lock")).unwrap();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for package in lock.split("[[package]]").skip(1) {
        let name = package
            .lines()
            .find_map(|l| l.strip_prefix("name = "))
            .unwrap()
            .trim_matches('"')
            .to_string();
        let deps = graph.entry(name).or_default();
        if let Some(list) = package.split("dependencies = [").nth(1) {
            let list = list.split(']').next().unwrap();
            for dep in list.split(',') {
                let dep = dep.trim().trim_matches('"');
                if let Some(dep_name) = dep.split(' ').next().filter(|d| !d.is_empty()) {
                    deps.insert(dep_name.to_string());
                }
            }
        }
    }
    graph
}

fn reachable(graph: &BTreeMap<String, BTreeSet<String>>, root: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![root.to_string()];
    while let Some(p) = todo.pop() {
        if seen.insert(p.clone()) {
            todo.extend(graph.get(&p).into_iter().flatten().cloned());
        }
    }
    seen
}

#[test]
fn the_trainer_depends_on_none_of_the_pipelines_heavy_crates() {
    let graph = lock_graph();
    let deps = reachable(&graph, "sieve-trainer");
    assert!(deps.contains("sieve-shards") && deps.contains("matrixmultiply"));
    let forbidden: Vec<&String> = deps
        .iter()
        .filter(|d| {
            *d == "sieve"
                || d.starts_with("arrow")
                || *d == "parquet"
                || *d == "tokio"
                || *d == "object_store"
                || d.starts_with("cld2")
                || d.starts_with("fasttext")
        })
        .collect();
    assert!(
        forbidden.is_empty(),
        "sieve-trainer pulls in {forbidden:?} ({} crates in all)",
        deps.len()
    );
    // The check itself sees those crates where they are: sieve depends on all of them.
    let pipeline = reachable(&graph, "sieve");
    for heavy in ["parquet", "tokio", "object_store", "cld2", "fasttext"] {
        assert!(pipeline.contains(heavy), "sieve no longer uses {heavy}?");
    }
}
