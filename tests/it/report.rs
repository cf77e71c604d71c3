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
    assert_eq!(html.matches("<svg").count(), 9, "charts are inline");

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
        "Repeated paragraphs",
        "Decontamination",
        "Blend",
        "Throughput",
    ] {
        assert!(md.contains(&format!("## {title}\n")), "no section {title}");
    }
    assert_eq!(linked.len(), 9, "{linked:?}");
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
    let removed = dedup["removed"].as_u64().unwrap();
    let verb = if removed == 1 { "was" } else { "were" };
    assert!(md.contains(&format!("of which {removed} {verb} removed")));

    // Repeated paragraphs: the lines that reached the stage, counted here (lowercase, digits
    // as 0, letters and digits only, single spaces; 20 characters or more): copies beyond the
    // first go, all of them past 100.
    let norm = |line: &str| -> String {
        let kept: String = line
            .to_lowercase()
            .chars()
            .map(|c| if c.is_numeric() { '0' } else { c })
            .filter(|c| c.is_alphanumeric() || c.is_whitespace())
            .collect();
        kept.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let mut copies: std::collections::BTreeMap<String, u64> = Default::default();
    let mut before: Vec<PathBuf> = std::fs::read_dir(run.join("work/before-paragraph-dedup"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    before.sort();
    for shard in before {
        for doc in crate::util::docs_of(&shard) {
            for line in doc.text.split('\n') {
                let key = norm(line);
                if key.chars().count() >= 20 {
                    *copies.entry(key).or_default() += 1;
                }
            }
        }
    }
    let repeated = copies.values().filter(|&&n| n > 1).count();
    let removed: u64 = copies
        .values()
        .map(|&n| if n > 100 { n } else { n - 1 })
        .sum();
    assert!(removed > 0, "the sample repeats lines across its manuals");
    assert!(
        md.contains(&format!(
            "{repeated} distinct ones occur more than once, and {removed} copies were removed"
        )),
        "the paragraph section does not say {repeated} repeated, {removed} removed"
    );
    let top = table_rows(&md, "| repeated unit | copies |");
    let most = copies.values().max().copied().unwrap();
    assert_eq!(number(&top[0][1]), most);
    let shown = top[0][0].replace("\\|", "|").replace("&lt;", "<");
    assert_eq!(copies.get(&norm(&shown)), Some(&most), "{:?}", top[0]);

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

/// What each chart of the sample run's card must show, computed here from the run's own
/// files (stats.json, the dedup report, the decontamination records, the blend manifest,
/// the step timings), not from the card.
struct Expected {
    funnel: Vec<(String, f64)>,
    drops: Vec<(String, f64)>,
    languages: Vec<(String, f64)>,
    quality: Vec<(String, String, f64)>,
    components: Vec<(String, String, f64)>,
    decontam: Vec<(String, f64)>,
    blend: Vec<(String, String, f64)>,
    /// Unit → (step, input per CPU second), in plan order.
    throughput: Vec<(String, Vec<(String, f64)>)>,
}

/// Largest first; equal values by label, as a reader would list them.
fn largest_first(mut v: Vec<(String, f64)>) -> Vec<(String, f64)> {
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

fn expected_charts(run: &Path) -> Expected {
    let s = stats(run);
    let stages = s["stages"].as_array().unwrap();
    let stage = |name: &str| stages.iter().find(|x| x["name"] == name).unwrap();
    let n = |v: &serde_json::Value| v.as_u64().unwrap() as f64;

    let mut funnel = vec![("records read".to_string(), n(&stages[0]["docs_in"]))];
    for st in stages {
        funnel.push((
            format!("after {}", st["name"].as_str().unwrap()),
            n(&st["docs_out"]),
        ));
    }

    let mut drops = Vec::new();
    for st in stages {
        for key in ["dropped", "errors"] {
            for (reason, count) in st[key].as_object().unwrap() {
                drops.push((
                    format!("{}: {reason}", st["name"].as_str().unwrap()),
                    n(count),
                ));
            }
        }
    }
    let mut drops = largest_first(drops);
    drops.truncate(20);

    let langs = stage("langid")["tallies"]["lang"].as_object().unwrap();
    let languages = largest_first(langs.iter().map(|(l, c)| (l.clone(), n(c))).collect());
    assert!(languages.len() <= 20, "the sample has few languages");

    let mut quality = Vec::new();
    let tallies = &stage("quality")["tallies"];
    for i in 0..20 {
        let bin = format!("{:.2}", i as f64 * 0.05);
        for (series, key) in [("scored", "score"), ("kept", "score_kept")] {
            let c = tallies[key][&bin].as_u64().unwrap_or(0) as f64;
            quality.push((bin.clone(), series.to_string(), c));
        }
    }

    let report = json(&run.join("work/dedup/components/report.json"));
    let mut sizes: Vec<(u64, String, f64)> = report["size_histogram"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let lo = k.split('-').next().unwrap().parse().unwrap();
            (lo, k.clone(), n(v))
        })
        .collect();
    sizes.sort_by_key(|s| s.0);
    let components = sizes
        .into_iter()
        .map(|(_, k, v)| (k, "groups".to_string(), v))
        .collect();

    // Matches by task, counted from the per-shard match records.
    let mut by_task = std::collections::BTreeMap::<String, f64>::new();
    for e in std::fs::read_dir(run.join("reports/decontam")).unwrap() {
        for line in std::fs::read_to_string(e.unwrap().path()).unwrap().lines() {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            for task in record["tasks"].as_array().unwrap() {
                *by_task
                    .entry(task.as_str().unwrap().to_string())
                    .or_default() += 1.0;
            }
        }
    }
    let decontam = largest_first(by_task.into_iter().collect());

    let manifest = json(&run.join("blend/manifest.json"));
    let datasets = manifest["datasets"].as_array().unwrap();
    let train: f64 = datasets
        .iter()
        .map(|d| n(&d["splits"]["train"]["samples"]))
        .sum();
    let mut blend = Vec::new();
    for d in datasets {
        let name = d["name"].as_str().unwrap().to_string();
        let weight = d["normalized_weight"].as_f64().unwrap();
        blend.push((name.clone(), "weight".to_string(), weight));
        let share = n(&d["splits"]["train"]["samples"]) / train;
        blend.push((name, "realised share".to_string(), share));
    }

    // CPU seconds per step from the timing files, and what each step consumed.
    let mut steps: Vec<(u64, String, f64)> = Vec::new();
    for dir in std::fs::read_dir(run.join("timings")).unwrap() {
        for f in std::fs::read_dir(dir.unwrap().path()).unwrap() {
            let t = json(&f.unwrap().path());
            let step = t["step"].as_str().unwrap().to_string();
            let cpu = t["cpu_seconds"].as_f64().unwrap();
            match steps.iter_mut().find(|s| s.1 == step) {
                Some(s) => s.2 += cpu,
                None => steps.push((t["position"].as_u64().unwrap(), step, cpu)),
            }
        }
    }
    steps.sort_by_key(|s| s.0);
    let tokens: f64 = json(&run.join("tokens/tokenize.json"))["datasets"]
        .as_object()
        .unwrap()
        .values()
        .map(|d| n(&d["tokens"]))
        .sum();
    let blended: f64 = manifest["streams"]
        .as_object()
        .unwrap()
        .values()
        .map(|s| n(&s["tokens"]))
        .sum();
    let mut documents = Vec::new();
    let mut token_rates = Vec::new();
    for (_, step, cpu) in &steps {
        // The sample spec is read → … → dedup → paragraph-dedup → quality → decontam →
        // tokenize → blend: pass 1 reads the records, dedup's steps and pass 2 see what reached
        // dedup, paragraph-dedup's steps and pass 3 what reached it, decontam's steps and pass
        // 4 what reached decontam.
        let docs = match step.as_str() {
            "pass-1" => Some(n(&stage("read")["docs_in"])),
            "pass-2" => Some(n(&stage("dedup")["docs_in"])),
            "pass-3" => Some(n(&stage("paragraph-dedup")["docs_in"])),
            "pass-4" => Some(n(&stage("decontam")["docs_in"])),
            s if s.starts_with("dedup-") => Some(n(&stage("dedup")["docs_in"])),
            s if s.starts_with("paragraph-dedup-") => Some(n(&stage("paragraph-dedup")["docs_in"])),
            s if s.starts_with("decontam-") => Some(n(&stage("decontam")["docs_in"])),
            _ => None,
        };
        if *cpu <= 0.0 {
            continue;
        }
        match (docs, step.as_str()) {
            (Some(d), _) => documents.push((step.clone(), d / cpu)),
            (None, "tokenize") => token_rates.push((step.clone(), tokens / cpu)),
            (None, "blend") => token_rates.push((step.clone(), blended / cpu)),
            _ => {}
        }
    }
    Expected {
        funnel,
        drops,
        languages,
        quality,
        components,
        decontam,
        blend,
        throughput: vec![
            ("documents".to_string(), documents),
            ("tokens".to_string(), token_rates),
        ],
    }
}

/// The charts as a person reads them: every label with its bar's length and printed number,
/// against the values computed from the run's files, in the SVG files the Markdown card links
/// and in the page (which must carry the same drawings).
#[test]
fn every_chart_pairs_its_labels_with_the_bars_of_their_values() {
    let run = sample_run();
    let card = run.join("report");
    let md = std::fs::read_to_string(card.join("README.md")).unwrap();
    let html = std::fs::read_to_string(card.join("index.html")).unwrap();
    let want = expected_charts(run);
    let linked: Vec<&str> = md
        .lines()
        .filter_map(|l| l.strip_prefix("![")?.split_once("](")?.1.strip_suffix(')'))
        .collect();
    let mut inline = html.split("<svg").skip(1);
    let mut checked = Vec::new();
    let mut wrong = Vec::new();
    for file in &linked {
        let svg = std::fs::read_to_string(card.join(file)).unwrap();
        let body = &svg[svg.find("<svg").unwrap() + 4..];
        let page = inline
            .next()
            .expect("fewer charts in the page than in the Markdown");
        assert_eq!(
            page.split("</svg>").next(),
            body.split("</svg>").next(),
            "the page's drawing differs from {file}"
        );
        let stem = file.trim_end_matches(".svg").to_string();
        // Every chart is checked, and every wrong one named, before the test fails.
        let check = std::panic::catch_unwind(|| check_chart(&stem, &svg, &want));
        if let Err(e) = check {
            let why = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            wrong.push(format!("{stem}: {why}"));
        }
        checked.push(stem);
    }
    assert!(
        inline.next().is_none(),
        "the page has charts the Markdown lacks"
    );
    assert!(
        wrong.is_empty(),
        "{} of {} charts disagree with the run's files:\n{}",
        wrong.len(),
        checked.len(),
        wrong.join("\n")
    );

    assert_eq!(
        checked,
        [
            "funnel",
            "drops",
            "languages",
            "quality",
            "dedup-components",
            "decontam",
            "blend",
            "throughput-documents",
            "throughput-tokens"
        ]
    );

    // The Markdown tables beside the charts say the same.
    let drops = table_rows(&md, "| step | reason |");
    let mut from_table: Vec<(String, f64)> = drops
        .iter()
        .map(|r| (format!("{}: {}", r[0], r[1]), number(&r[3]) as f64))
        .collect();
    from_table = largest_first(from_table);
    from_table.truncate(20);
    assert_eq!(from_table, want.drops);
    let tasks = table_rows(&md, "| task | matches |");
    let from_table: Vec<(String, f64)> = tasks
        .iter()
        .map(|r| (r[0].clone(), number(&r[1]) as f64))
        .collect();
    assert_eq!(largest_first(from_table), want.decontam);
    let steps = table_rows(&md, "| step | tasks |");
    for (unit, bars) in &want.throughput {
        for (step, rate) in bars {
            let row = steps.iter().find(|r| &r[0] == step).unwrap();
            let (printed, u) = row[6].split_once(' ').unwrap();
            assert_eq!(u, unit, "{row:?}");
            assert!(
                crate::svg_chart::prints(printed, *rate),
                "{step}: the table says {printed} {u} per CPU second, the files {rate}"
            );
        }
    }
}

/// One chart of the sample card read back and compared with what it must show.
fn check_chart(stem: &str, svg: &str, want: &Expected) {
    use crate::svg_chart::{assert_bars, assert_grouped, read_horizontal, read_vertical};
    match stem {
        "funnel" => assert_bars(stem, &read_horizontal(svg), &want.funnel),
        "drops" => assert_bars(stem, &read_horizontal(svg), &want.drops),
        "languages" => assert_bars(stem, &read_horizontal(svg), &want.languages),
        "decontam" => assert_bars(stem, &read_horizontal(svg), &want.decontam),
        "quality" => assert_grouped(stem, &read_vertical(svg), &want.quality),
        "dedup-components" => assert_grouped(stem, &read_vertical(svg), &want.components),
        "blend" => assert_grouped(stem, &read_vertical(svg), &want.blend),
        _ => {
            let unit = stem
                .strip_prefix("throughput-")
                .unwrap_or_else(|| panic!("a chart this test does not know: {stem}"));
            let (_, bars) = want.throughput.iter().find(|(u, _)| u == unit).unwrap();
            assert_bars(stem, &read_horizontal(svg), bars);
            // One unit per axis: the axis says which.
            assert!(
                svg.contains(&format!("{unit} per CPU second")),
                "{stem} does not name its unit"
            );
        }
    }
}
