//! The data card: `sieve run` of the sample spec ends with OUT/report/, whose numbers are
//! those of the run's own records, whose charts are well-formed SVG, and whose page opens in
//! headless Chromium with no error and no request beyond the page itself.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::util::{python_with, repo, run_sample, stats};

/// One run of the sample pipeline shared by the tests of this file.
fn sample_run() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep().join("sample");
        run_sample(&dir, &[]);
        dir
    })
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The rows of the Markdown table that follows the line starting with `header`.
fn table_rows(markdown: &str, header: &str) -> Vec<Vec<String>> {
    let mut lines = markdown.lines().skip_while(|l| !l.starts_with(header));
    lines.next().unwrap_or_else(|| panic!("no table {header}"));
    lines.next(); // the alignment row
    lines
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

fn number(cell: &str) -> u64 {
    cell.replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("not a count: {cell}"))
}

#[test]
fn the_sample_run_ends_with_a_data_card_of_its_own_records() {
    let run = sample_run();
    let card = run.join("report");
    let md = std::fs::read_to_string(card.join("README.md")).unwrap();
    let html = std::fs::read_to_string(card.join("index.html")).unwrap();
    // Self-contained: nothing to fetch, nothing to run.
    for needle in ["<script", "<link", "src=", "<img", "@import", "url("] {
        assert!(!html.contains(needle), "the page has {needle}");
    }
    assert_eq!(html.matches("<svg").count(), 8, "charts are inline");

    // Every chart the Markdown shows is a file beside it, and every section is there.
    let linked: Vec<&str> = md
        .lines()
        .filter_map(|l| l.strip_prefix("![")?.split_once("](")?.1.strip_suffix(')'))
        .collect();
    for title in [
        "Funnel",
        "Drops by step and reason",
        "Languages",
        "Quality scores",
        "Deduplication (dedup)",
        "Decontamination",
        "Blend",
        "Throughput",
    ] {
        assert!(md.contains(&format!("## {title}\n")), "no section {title}");
    }
    assert_eq!(linked.len(), 8, "{linked:?}");
    for svg in &linked {
        assert!(card.join(svg).is_file(), "{svg} is linked but missing");
    }

    // The numbers are the run's: funnel rows against stats.json.
    let s = stats(run);
    let stages = s["stages"].as_array().unwrap();
    let funnel = table_rows(&md, "| step | documents in |");
    assert_eq!(funnel.len(), stages.len());
    for (row, stage) in funnel.iter().zip(stages) {
        assert_eq!(row[0], stage["name"].as_str().unwrap());
        assert_eq!(number(&row[1]), stage["docs_in"].as_u64().unwrap());
        assert_eq!(number(&row[2]), stage["docs_out"].as_u64().unwrap());
    }
    let stage = |name: &str| stages.iter().find(|x| x["name"] == name).unwrap();

    // Languages: one count per document langid saw (none was unidentifiable here).
    let langs = table_rows(&md, "| language |");
    let seen: u64 = langs.iter().map(|r| number(&r[1])).sum();
    assert_eq!(seen, stage("langid")["docs_in"].as_u64().unwrap());
    let en = langs.iter().find(|r| r[0] == "en").unwrap();
    assert_eq!(
        number(&en[1]),
        stage("langid")["docs_out"].as_u64().unwrap()
    );

    // Quality: the histogram covers every scored document and every kept one, and the
    // Pareto column is (2 − s)^−3 at the bin's middle, computed here.
    let q = table_rows(&md, "| score | scored |");
    let scored: u64 = q.iter().map(|r| number(&r[1])).sum();
    let kept: u64 = q.iter().map(|r| number(&r[2])).sum();
    assert_eq!(scored, stage("quality")["docs_in"].as_u64().unwrap());
    assert_eq!(kept, stage("quality")["docs_out"].as_u64().unwrap());
    for r in &q {
        let lo: f64 = r[0].split(' ').next().unwrap().parse().unwrap();
        let p = (2.0 - (lo + 0.025)).powf(-3.0) * 100.0;
        assert_eq!(r[4], format!("{p:.1}%"), "{r:?}");
    }

    // Dedup: the largest group and the removed count, from the components report.
    let dedup = json(&run.join("work/dedup/components/report.json"));
    let groups = table_rows(&md, "| size | kept copy |");
    assert_eq!(
        groups[0][1],
        dedup["largest"][0]["representative"].as_str().unwrap()
    );
    assert_eq!(
        number(&groups[0][0]),
        dedup["largest"][0]["size"].as_u64().unwrap()
    );
    assert!(md.contains(&format!(
        "of which {} were removed",
        dedup["removed"].as_u64().unwrap()
    )));

    // Blend: realised shares are the manifest's train samples over their sum.
    let blend = json(&run.join("blend/manifest.json"));
    let datasets = blend["datasets"].as_array().unwrap();
    let total: u64 = datasets
        .iter()
        .map(|d| d["splits"]["train"]["samples"].as_u64().unwrap())
        .sum();
    let rows = table_rows(&md, "| dataset | weight |");
    assert_eq!(rows.len(), datasets.len());
    for (row, d) in rows.iter().zip(datasets) {
        let share = d["splits"]["train"]["samples"].as_u64().unwrap() as f64 / total as f64;
        assert_eq!(row[0], d["name"].as_str().unwrap());
        assert_eq!(row[2], format!("{share:.4}"));
    }

    // Throughput: a row per step of the plan that did work, in plan order.
    let steps = table_rows(&md, "| step | tasks |");
    let names: Vec<&str> = steps.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names.first(), Some(&"pass-1"));
    assert_eq!(names.last(), Some(&"blend"));
    assert!(names.contains(&"dedup-edges") && names.contains(&"tokenize"));

    // Each SVG is well-formed XML (read by Python's parser, not ours).
    if let Some(python) = python_with(&["xml.etree.ElementTree"]) {
        let files: Vec<String> = linked
            .iter()
            .map(|f| card.join(f).to_string_lossy().into_owned())
            .collect();
        let o = Command::new(python)
            .arg("-c")
            .arg(
                "import sys, xml.etree.ElementTree as ET\n\
                 for f in sys.argv[1:]:\n    assert ET.parse(f).getroot().tag.endswith('svg'), f",
            )
            .args(&files)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "an SVG does not parse:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn the_data_card_opens_in_headless_chromium_without_errors() {
    let found = Command::new(repo().join("scripts/chromium.sh"))
        .output()
        .unwrap();
    if found.status.code() == Some(3) {
        sieve::testing::skip("Chromium (not installed, and it cannot be installed here)");
        return;
    }
    assert!(
        found.status.success(),
        "scripts/chromium.sh failed:\n{}",
        String::from_utf8_lossy(&found.stderr)
    );
    let chromium = String::from_utf8(found.stdout).unwrap().trim().to_string();
    let page = sample_run().join("report/index.html");
    let url = format!("file://{}", page.display());
    let shot = page.with_file_name("screenshot.png");
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=1",
            "--window-size=900,4000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "chromium failed:\n{log}");
    // Page errors (script errors, failed resources, bad markup reported to the console)
    // come out as CONSOLE lines; every file or network request is logged by its loader.
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(
        console.is_empty(),
        "the page logged errors:\n{}",
        console.join("\n")
    );
    for line in log.lines().filter(|l| l.contains("FileURLLoader::Start")) {
        assert!(line.ends_with(&url), "the page loads another file: {line}");
    }
    let png = std::fs::read(&shot).expect("no screenshot");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert!(
        png.len() > 50_000,
        "a near-empty screenshot ({} bytes)",
        png.len()
    );
    eprintln!("screenshot of the data card: {}", shot.display());
}
