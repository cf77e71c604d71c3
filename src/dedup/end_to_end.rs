//! The dedup report, the component list and the remove lists against a corpus built to hold
//! known groups of duplicates: every count, histogram bucket, largest group, component line
//! and dropped document's record is computed here from how the corpus was made, not read back
//! from sieve's own arithmetic. The commands run in-process (as `sieve import` and `sieve
//! dedup` would), so that these checks run with the library's unit tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser;
use serde_json::{json, Value};

use crate::doc::Document;

/// Runs `sieve ARGS` in this process; panics on an error.
fn run_ok(args: &[&str]) {
    let cli = crate::cli::Cli::try_parse_from(std::iter::once("sieve").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("sieve {args:?}: {e}"));
    crate::cli::run(cli).unwrap_or_else(|e| panic!("sieve {args:?}: {e:#}"));
}

fn docs_of(path: &Path) -> Vec<Document> {
    crate::io::shards::read_docs(path)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The documents of every Parquet shard of `dir`, shards in name order.
fn all_docs(dir: &Path) -> Vec<Document> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    files.iter().flat_map(|f| docs_of(f)).collect()
}

/// Shard files in name order (the order dedup meets them) and their datasets.
const FILES: [(&str, &str); 3] = [("a", "wiki"), ("b", "books"), ("c", "cc")];
/// `--priority books,wiki`: cc is not named and ranks after both.
fn rank(dataset: &str) -> usize {
    match dataset {
        "books" => 0,
        "wiki" => 1,
        _ => 2,
    }
}

/// `n` words of random letters: two different seeds share almost no 5-character shingle.
fn random_text(seed: u64, n: usize) -> String {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut words = Vec::with_capacity(n);
    for _ in 0..n {
        let len = 3 + (next() % 7) as usize;
        words.push(
            (0..len)
                .map(|_| (b'a' + (next() % 26) as u8) as char)
                .collect::<String>(),
        );
    }
    words.join(" ") + "."
}

/// Where a document sits: (file index, position in its file).
type Place = (usize, usize);

struct Group {
    /// The relation that joins its members: "exact", "url" or "fuzzy".
    kind: &'static str,
    members: Vec<Place>,
}

#[derive(Default)]
struct Corpus {
    files: [Vec<(String, String)>; 3],
    groups: Vec<Group>,
}

impl Corpus {
    fn add(&mut self, file: usize, url: String, text: String) -> Place {
        self.files[file].push((url, text));
        (file, self.files[file].len() - 1)
    }

    /// 100 groups of exact copies (2 to 8 members over the three files), one of 1,004 copies
    /// (more than the 1,000 members a component line lists), three texts at one URL, one pair
    /// of near-duplicates and 60 documents without a duplicate, interleaved.
    fn build() -> Corpus {
        let mut c = Corpus::default();
        for g in 0..100usize {
            let text = random_text(1000 + g as u64, 60);
            let members = (0..2 + g % 7)
                .map(|i| {
                    c.add(
                        (g + i) % 3,
                        format!("https://e{g}.example/{i}"),
                        text.clone(),
                    )
                })
                .collect();
            c.groups.push(Group {
                kind: "exact",
                members,
            });
            if g % 2 == 0 {
                let k = g / 2;
                c.add(
                    k % 3,
                    format!("https://single.example/{k}"),
                    random_text(9000 + k as u64, 60),
                );
            }
        }
        let notice = random_text(5, 25);
        let mut members: Vec<Place> = (0..1003)
            .map(|i| c.add(2, format!("https://giant.example/{i}"), notice.clone()))
            .collect();
        members.push(c.add(1, "https://giant.example/books".into(), notice));
        c.groups.push(Group {
            kind: "exact",
            members,
        });
        let urls = [
            "https://www.U.example/page/",
            "http://u.example/page#top",
            "u.example/page",
        ];
        let members = urls
            .iter()
            .enumerate()
            .map(|(k, url)| c.add(k, url.to_string(), random_text(7000 + k as u64, 60)))
            .collect();
        c.groups.push(Group {
            kind: "url",
            members,
        });
        let long = random_text(8000, 200);
        let mut words: Vec<&str> = long.split(' ').collect();
        words[100] = "zzzzzz";
        let near = words.join(" ");
        let members = vec![
            c.add(2, "https://near.example/original".into(), long.clone()),
            c.add(0, "https://near.example/edited".into(), near),
        ];
        c.groups.push(Group {
            kind: "fuzzy",
            members,
        });
        c
    }

    fn write(&self, dir: &Path) -> std::path::PathBuf {
        let shards = dir.join("shards");
        for ((file, dataset), docs) in FILES.iter().zip(&self.files) {
            let src = dir.join(format!("{file}.jsonl"));
            let lines: Vec<String> = docs
                .iter()
                .map(|(url, text)| json!({"url": url, "text": text}).to_string())
                .collect();
            std::fs::write(&src, lines.join("\n") + "\n").unwrap();
            run_ok(&[
                "import",
                "-q",
                "--dataset",
                dataset,
                "--output",
                shards.to_str().unwrap(),
                src.to_str().unwrap(),
            ]);
        }
        shards
    }
}

/// The group's representative: the first document met in its highest-priority dataset.
fn representative(g: &Group) -> Place {
    *g.members
        .iter()
        .min_by_key(|&&(f, p)| (rank(FILES[f].1), f, p))
        .unwrap()
}

/// "2", "3-4", "5-8", …: the power-of-two range holding `size`.
fn size_bucket(size: usize) -> String {
    if size == 2 {
        return "2".into();
    }
    let mut hi = 2;
    while hi < size {
        hi *= 2;
    }
    format!("{}-{}", hi / 2 + 1, hi)
}

fn count(map: &mut BTreeMap<String, u64>, key: &str, by: u64) {
    *map.entry(key.to_string()).or_default() += by;
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn every_figure_of_the_dedup_report_is_what_the_corpus_holds() {
    let d = tempfile::tempdir().unwrap();
    let corpus = Corpus::build();
    let shards = corpus.write(d.path());
    let ids: Vec<Vec<String>> = FILES
        .iter()
        .map(|(f, _)| {
            docs_of(&shards.join(format!("{f}.parquet")))
                .into_iter()
                .map(|d| d.id)
                .collect()
        })
        .collect();
    for (f, docs) in corpus.files.iter().enumerate() {
        assert_eq!(
            ids[f].len(),
            docs.len(),
            "import kept every document of {}",
            FILES[f].0
        );
    }
    let id = |(f, p): Place| ids[f][p].clone();
    let dataset = |(f, _): Place| FILES[f].1;

    // Expected report, from the groups.
    let total: usize = corpus.files.iter().map(Vec::len).sum();
    let mut by_dataset = BTreeMap::new();
    for (f, docs) in corpus.files.iter().enumerate() {
        count(&mut by_dataset, FILES[f].1, docs.len() as u64);
    }
    let (mut removed_by_dataset, mut removed_by_kind, mut histogram) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let mut lines = Vec::new();
    let mut dropped = BTreeMap::new(); // id → (representative id, size, kind)
    for g in &corpus.groups {
        let rep = representative(g);
        let size = g.members.len();
        count(&mut histogram, &size_bucket(size), 1);
        count(&mut removed_by_kind, g.kind, size as u64 - 1);
        let mut datasets = BTreeMap::new();
        let mut others: Vec<Place> = g.members.iter().copied().filter(|&m| m != rep).collect();
        others.sort();
        for &m in g.members.iter() {
            count(&mut datasets, dataset(m), 1);
            if m != rep {
                count(&mut removed_by_dataset, dataset(m), 1);
                dropped.insert(id(m), (id(rep), size, g.kind));
            }
        }
        let listed: Vec<String> = others.iter().take(1000).map(|&m| id(m)).collect();
        lines.push((
            rep,
            json!({
                "representative": id(rep),
                "dataset": dataset(rep),
                "size": size,
                "datasets": datasets,
                "members": listed,
                "members_truncated": size - 1 > 1000,
            }),
        ));
    }
    // Lines come in the order of their representatives; the largest list the 20 biggest
    // groups, ties in that order too.
    lines.sort_by_key(|(rep, _)| *rep);
    let mut largest: Vec<(usize, Place, Value)> = lines
        .iter()
        .map(|(rep, l)| {
            let size = l["size"].as_u64().unwrap() as usize;
            let c = json!({
                "representative": l["representative"],
                "representative_dataset": l["dataset"],
                "size": size,
                "datasets": l["datasets"],
            });
            (size, *rep, c)
        })
        .collect();
    largest.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let largest: Vec<Value> = largest.into_iter().take(20).map(|(_, _, c)| c).collect();
    let in_groups: usize = corpus.groups.iter().map(|g| g.members.len()).sum();
    let exact_edges: usize = corpus
        .groups
        .iter()
        .filter(|g| g.kind == "exact")
        .map(|g| g.members.len() - 1)
        .sum();

    let mut reports = Vec::new();
    for (name, extra) in [
        ("one", vec!["-j", "1"]),
        ("ranges", vec!["-j", "2", "--ranges", "4"]),
    ] {
        let out = d.path().join(name);
        let mut args = vec![
            "dedup",
            "-q",
            "--priority",
            "books,wiki",
            "--write-rejected",
        ];
        args.extend(extra);
        args.extend(["--output", out.to_str().unwrap(), shards.to_str().unwrap()]);
        run_ok(&args);
        let work = out.join("dedup-work/components");
        let report = read_json(&work.join("report.json"));
        let check = |key: &str, want: Value| assert_eq!(report[key], want, "{key} in {report}");
        check("documents", json!(total));
        check("shards", json!(3));
        check("components", json!(corpus.groups.len()));
        check("documents_in_components", json!(in_groups));
        check("removed", json!(in_groups - corpus.groups.len()));
        check("documents_by_dataset", json!(by_dataset));
        check("removed_by_dataset", json!(removed_by_dataset));
        check("removed_by_kind", json!(removed_by_kind));
        check("size_histogram", json!(histogram));
        check("union_find_bytes", json!(6 * total));
        check("largest", json!(largest));
        // Every band of 13 rows puts a group of exact copies in one bucket: 20 × (size − 1)
        // fuzzy edges each; the edited pair shares between 1 and 20 bands.
        assert_eq!(report["edges"]["exact"], json!(exact_edges), "{report}");
        assert_eq!(report["edges"]["url"], json!(2), "{report}");
        let fuzzy = report["edges"]["fuzzy"].as_u64().unwrap() as usize;
        assert!(
            (20 * exact_edges + 1..=20 * exact_edges + 20).contains(&fuzzy),
            "{report}"
        );

        // The lsh step: each document gives 20 band keys, its text key and its URL key.
        let dedup_work = out.join("dedup-work");
        for (f, docs) in corpus.files.iter().enumerate() {
            let stats = read_json(&dedup_work.join(format!("lsh/stats/{}.json", FILES[f].0)));
            assert_eq!(stats["documents"], json!(docs.len()), "{stats}");
            assert_eq!(stats["records"], json!(22 * docs.len()), "{stats}");
            if name == "one" {
                assert_eq!(stats["partitions_written"], json!(22), "{stats}");
            }
        }
        // Each partition holds the keys of its own key range only (so an edges task reads one
        // range), and every record is in one.
        use crate::dedup::files::{self, KIND_EXACT, KIND_FUZZY, KIND_URL};
        let ranges = if name == "ranges" { 4 } else { 1 };
        let mut placed = 0;
        for range in 0..ranges {
            let mut parts: Vec<String> = (0..20)
                .map(|band| files::part_name(KIND_FUZZY, band, range))
                .collect();
            parts.push(files::part_name(KIND_EXACT, 0, range));
            parts.push(files::part_name(KIND_URL, 0, range));
            for part in parts {
                for (stem, _) in FILES {
                    let path = dedup_work
                        .join("lsh")
                        .join(&part)
                        .join(format!("{stem}.bin"));
                    let Ok(bytes) = std::fs::read(&path) else {
                        continue;
                    };
                    for b in bytes.chunks_exact(files::LSH_RECORD_SIZE) {
                        let key = files::LshRecord::from_bytes(b).key;
                        assert_eq!(files::range_of(key, ranges), range, "{}", path.display());
                        placed += 1;
                    }
                }
            }
        }
        assert_eq!(placed, 22 * total, "{name}: records in their partitions");
        // The edges step: every bucket is a group (or the edited pair in the bands it
        // shares), each verified in one round in which every member matches its anchor.
        let mut edge_stats: BTreeMap<String, u64> = BTreeMap::new();
        for e in std::fs::read_dir(dedup_work.join("edges/stats")).unwrap() {
            let stats = read_json(&e.unwrap().path());
            for (k, v) in stats.as_object().unwrap() {
                let v = v.as_u64().unwrap();
                let slot = edge_stats.entry(k.clone()).or_default();
                *slot = if k == "largest_bucket" {
                    (*slot).max(v)
                } else {
                    *slot + v
                };
            }
        }
        let shared_bands = (fuzzy - 20 * exact_edges) as u64;
        let groups = corpus.groups.len() as u64;
        let want = json!({
            "records": 22 * total,
            "buckets": 20 * (groups - 2) + shared_bands + (groups - 2) + 1,
            "largest_bucket": 1004,
            "comparisons": fuzzy,
            "edges": fuzzy + exact_edges + 2,
            "rejected": 0,
            "capped_buckets": 0,
        });
        assert_eq!(json!(edge_stats), want);

        let written: Vec<Value> = std::fs::read_to_string(work.join("components.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(written.len(), lines.len());
        for (w, (_, want)) in written.iter().zip(&lines) {
            assert_eq!(w, want);
        }

        // The filter drops exactly the listed members, each naming its representative.
        let kept: Vec<String> = all_docs(&out).into_iter().map(|d| d.id).collect();
        assert_eq!(kept.len(), total - dropped.len());
        assert!(kept.iter().all(|k| !dropped.contains_key(k)));
        let rejected = all_docs(&out.join("rejected"));
        assert_eq!(rejected.len(), dropped.len());
        for r in &rejected {
            let (rep, size, kind) = &dropped[&r.id];
            assert_eq!(&r.meta["dedup_representative"], rep, "{}", r.id);
            assert_eq!(r.meta["dedup_component_size"], size.to_string(), "{}", r.id);
            assert_eq!(r.meta["dedup_match"], *kind, "{}", r.id);
            let reason = match *kind {
                "exact" => "exact_duplicate",
                "url" => "url_duplicate",
                _ => "near_duplicate",
            };
            assert_eq!(r.meta["drop_reason"], reason, "{}", r.id);
            // The stage a rejected record names (and its stats and report lines go under).
            assert_eq!(r.meta["drop_stage"], "dedup", "{}", r.id);
        }
        reports.push(report);
    }
    assert_eq!(
        reports[0], reports[1],
        "four key ranges on two threads: the same report"
    );
}

/// A snapshot of one shard of its own dataset under `root/name`, made of `texts[k]` for each
/// `k` in `which` (URLs `https://<name>.example/<i>`); returns its shards directory.
fn snapshot(root: &Path, name: &str, dataset: &str, texts: &[String], which: &[usize]) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let docs: Vec<serde_json::Value> = which
        .iter()
        .enumerate()
        .map(|(i, &k)| json!({"url": format!("https://{name}.example/{i}"), "text": texts[k]}))
        .collect();
    import_jsonl(&dir, name, dataset, &docs)
}

/// `docs` written to `dir/<name>.jsonl` and imported as `dataset` into `dir/shards`; returns
/// the shards directory.
fn import_jsonl(dir: &Path, name: &str, dataset: &str, docs: &[serde_json::Value]) -> PathBuf {
    let src = dir.join(format!("{name}.jsonl"));
    let lines: Vec<String> = docs.iter().map(|d| d.to_string()).collect();
    std::fs::write(&src, lines.join("\n") + "\n").unwrap();
    let shards = dir.join("shards");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    run_ok(&[
        "import",
        "-q",
        "--dataset",
        dataset,
        "--output",
        &s(&shards),
        &s(&src),
    ]);
    shards
}

/// Documents without a URL share no URL key: three different texts without one are all kept,
/// with `url` among the methods (as by default), and no URL edge is found.
#[test]
fn documents_without_a_url_are_not_url_duplicates_of_each_other() {
    let d = tempfile::tempdir().unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let docs: Vec<serde_json::Value> = (0..3)
        .map(|k| json!({"text": random_text(700 + k, 60)}))
        .collect();
    let shards = import_jsonl(d.path(), "no-url", "web", &docs);
    let out = d.path().join("out");
    run_ok(&["dedup", "-q", "--output", &s(&out), &s(&shards)]);
    assert_eq!(all_docs(&out).len(), 3);
    let report = read_json(&out.join("dedup-work/components/report.json"));
    assert_eq!(report["removed"], json!(0), "{report}");
    assert_eq!(report["edges"].get("url"), None, "{report}");
}

/// Buckets whose members are all indexed decide nothing about the run and are not verified:
/// a run against two indexes that share a document the run lacks has the same edges step
/// (buckets, comparisons, edges; only the records read differ) as against indexes without that
/// shared copy.
#[test]
fn buckets_of_indexed_documents_only_are_skipped() {
    let d = tempfile::tempdir().unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let texts: Vec<String> = (0..6).map(|k| random_text(900 + k, 60)).collect();
    let index = |name: &str, dataset: &str, which: &[usize]| {
        let shards = snapshot(d.path(), name, dataset, &texts, which);
        let out = d.path().join(format!("{name}-index"));
        let dedup_out = d.path().join(format!("{name}-out"));
        run_ok(&[
            "dedup",
            "-q",
            "--write-index",
            &s(&out),
            "--output",
            &s(&dedup_out),
            &s(&shards),
        ]);
        out
    };
    let a = index("a", "snap1", &[0, 1]);
    // B holds a copy of A's text 1, which the run does not have; B' does not.
    let (b, b_without) = (index("b", "snap2", &[2, 1]), index("b2", "snap2", &[2]));
    let run = snapshot(d.path(), "c", "snap3", &texts, &[0, 2, 3]);
    let edges_against = |second: &Path, name: &str| {
        let out = d.path().join(name);
        run_ok(&[
            "dedup",
            "-q",
            "--against",
            &s(&a),
            "--against",
            &s(second),
            "--output",
            &s(&out),
            &s(&run),
        ]);
        assert_eq!(all_docs(&out).len(), 1, "only text 3 is new");
        edge_stats(&out.join("dedup-work"))
    };
    let (mut with_shared, mut without) = (
        edges_against(&b, "out-1"),
        edges_against(&b_without, "out-2"),
    );
    assert!(with_shared["edges"] > 0, "{with_shared:?}");
    // The merge reads the indexes' extra records; nothing else may differ.
    assert!(with_shared.remove("records") > without.remove("records"));
    assert_eq!(with_shared, without);
}

/// The summed statistics of the edges step's partitions.
fn edge_stats(work: &Path) -> BTreeMap<String, u64> {
    let mut sum = BTreeMap::new();
    for e in std::fs::read_dir(work.join("edges/stats")).unwrap() {
        let stats = read_json(&e.unwrap().path());
        for (k, v) in stats.as_object().unwrap() {
            count(&mut sum, k, v.as_u64().unwrap());
        }
    }
    sum
}

/// Three edits of one text, each 0.98 similar to the others, meet in the one bucket of a
/// one-band, one-row layout. Above their similarity each anchor round rejects every pair, and
/// `--max-bucket-comparisons` stops the bucket before the round that would pass the cap: at 2
/// after the first anchor's two comparisons, at 3 only once all three pairs are compared.
#[test]
fn a_bucket_of_dissimilar_members_stops_at_its_comparison_cap() {
    let d = tempfile::tempdir().unwrap();
    let base = random_text(42, 300);
    let mut c = Corpus::default();
    for k in 1..=3usize {
        let mut words: Vec<String> = base.split(' ').map(String::from).collect();
        words[70 * k] = format!("edit{k}x");
        c.add(0, format!("https://edits.example/{k}"), words.join(" "));
    }
    let shards = c.write(d.path());
    let run = |name: &str, threshold: &str, cap: &str| {
        let out = d.path().join(name);
        run_ok(&[
            "dedup",
            "-q",
            "--methods",
            "fuzzy",
            "--bands",
            "1",
            "--rows",
            "1",
            "--threshold",
            threshold,
            "--max-bucket-comparisons",
            cap,
            "--output",
            out.to_str().unwrap(),
            shards.to_str().unwrap(),
        ]);
        let stats = edge_stats(&out.join("dedup-work"));
        let kept = all_docs(&out).len();
        let pick = |k: &str| stats[k];
        (
            pick("comparisons"),
            pick("rejected"),
            pick("capped_buckets"),
            pick("edges"),
            kept,
        )
    };
    // (comparisons, rejected, capped buckets, edges, documents kept)
    assert_eq!(run("cap2", "0.999", "2"), (2, 2, 1, 0, 3));
    assert_eq!(run("cap3", "0.999", "3"), (3, 3, 0, 0, 3));
    assert_eq!(run("cap0", "0.999", "0"), (0, 0, 1, 0, 3));
    // Below their similarity the first anchor takes both others in its one round.
    assert_eq!(run("match", "0.9", "1"), (2, 0, 0, 2, 1));
}

/// Two indexes of earlier runs, the first ranking higher: a document of the new run that
/// duplicates an indexed one is dropped naming the index that holds its representative (the
/// first, when both hold a copy), the report counts the run's documents only and each index's
/// removals, and what is new is kept.
#[test]
fn a_run_against_two_indexes_names_the_one_that_holds_each_duplicate() {
    let d = tempfile::tempdir().unwrap();
    let path = |p: &str| d.path().join(p);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let texts: Vec<String> = (0..8).map(|k| random_text(500 + k, 60)).collect();
    let snapshot = |name: &str, dataset: &str, which: &[usize]| {
        snapshot(d.path(), name, dataset, &texts, which)
    };
    let (index_a, index_b) = (path("index-a"), path("index-b"));
    let a = snapshot("a", "snap1", &[0, 1, 2]);
    run_ok(&[
        "dedup",
        "-q",
        "--write-index",
        &s(&index_a),
        "--output",
        &s(&path("out-a")),
        &s(&a),
    ]);
    // B holds a copy of A's text 0 too: B was not checked against A.
    let b = snapshot("b", "snap2", &[3, 4, 0]);
    run_ok(&[
        "dedup",
        "-q",
        "--write-index",
        &s(&index_b),
        "--output",
        &s(&path("out-b")),
        &s(&b),
    ]);
    let ids_of = |dir: &Path| -> BTreeMap<String, String> {
        all_docs(dir)
            .into_iter()
            .map(|d| (d.url.clone().unwrap(), d.id))
            .collect()
    };
    let (kept_a, kept_b) = (ids_of(&path("out-a")), ids_of(&path("out-b")));

    // C: A's text 1, B's text 3, text 0 (in both indexes), and a new text 7.
    let c = snapshot("c", "snap3", &[1, 3, 0, 7]);
    let out_c = path("out-c");
    run_ok(&[
        "dedup",
        "-q",
        "--against",
        &s(&index_a),
        "--against",
        &s(&index_b),
        "--write-rejected",
        "--output",
        &s(&out_c),
        &s(&c),
    ]);
    let kept: Vec<String> = all_docs(&out_c)
        .into_iter()
        .map(|d| d.url.unwrap())
        .collect();
    assert_eq!(kept, ["https://c.example/3"]);
    let rejected: BTreeMap<String, Document> = all_docs(&out_c.join("rejected"))
        .into_iter()
        .map(|d| (d.url.clone().unwrap(), d))
        .collect();
    for (url, index, representative) in [
        (
            "https://c.example/0",
            &index_a,
            &kept_a["https://a.example/1"],
        ),
        (
            "https://c.example/1",
            &index_b,
            &kept_b["https://b.example/0"],
        ),
        (
            "https://c.example/2",
            &index_a,
            &kept_a["https://a.example/0"],
        ),
    ] {
        let r = &rejected[url];
        assert_eq!(r.meta["drop_reason"], "duplicate_of_index", "{url}");
        assert_eq!(r.meta["dedup_index"], s(index), "{url}");
        assert_eq!(&r.meta["dedup_representative"], representative, "{url}");
    }
    let report = read_json(&out_c.join("dedup-work/components/report.json"));
    assert_eq!(report["documents"], 4, "the run's own documents: {report}");
    assert_eq!(report["removed"], 3, "{report}");
    assert_eq!(
        report["removed_by_index"],
        json!({s(&index_a): 2, s(&index_b): 1}),
        "{report}"
    );
    assert_eq!(
        report["against"],
        json!([
            {"path": s(&index_a), "generation": 1, "documents": 3},
            {"path": s(&index_b), "generation": 1, "documents": 3},
        ]),
        "{report}"
    );
}
