//! extract → langid → clean end to end: on the sample pipeline, on every shared WARC (all
//! charsets, no panics), and each command on its own.

use crate::util::{docs_of, read_stage, repo, run_ok, sample_web, shared_data, stats};

#[test]
fn the_sample_pipeline_keeps_clean_english_main_text() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("o");
    let spec = repo().join("pipelines/sample.toml");
    run_ok(&[
        "run",
        "-q",
        "--output",
        out.to_str().unwrap(),
        spec.to_str().unwrap(),
    ]);
    let s = stats(&out);
    let extract = read_stage(&s, "extract");
    assert_eq!(extract["dropped"]["http_status"], 1, "{extract}");
    let langid = read_stage(&s, "langid");
    assert!(
        langid["dropped"]["lang_not_kept"].as_u64().unwrap() > 30,
        "{langid}"
    );
    let clean = read_stage(&s, "clean");
    assert!(
        clean["dropped"]["too_short"].as_u64().unwrap() > 0,
        "{clean}"
    );
    let web: Vec<_> = ["web__sample-web-00000", "web__sample-web-00001"]
        .iter()
        .flat_map(|s| docs_of(&out.join(format!("{s}.parquet"))))
        .collect();
    assert!(web.len() > 30, "{}", web.len());
    let dedup = read_stage(&s, "dedup");
    assert!(
        dedup["dropped"]["exact_duplicate"].as_u64().unwrap() > 0
            && dedup["dropped"]["near_duplicate"].as_u64().unwrap() > 0,
        "{dedup}"
    );
    // The sample page quoting a task passage that survives the quality filter is cut.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("decontam-summary.json")).unwrap()).unwrap();
    assert!(summary["documents_cut"].as_u64().unwrap() >= 1, "{summary}");
    assert!(read_stage(&s, "decontam")["docs_in"].as_u64().unwrap() > 30);
    let quality = read_stage(&s, "quality");
    assert!(
        quality["dropped"]["quality"].as_u64().unwrap() > 0,
        "{quality}"
    );
    for doc in &web {
        assert_eq!(doc.lang.as_deref(), Some("en"), "{}", doc.id);
        assert!(doc.text.chars().count() >= 512, "{}", doc.id);
        for furniture in [
            "We use cookies",
            "All rights reserved",
            "About us",
            "not text",
            "Add to cart",
            "Related",
        ] {
            assert!(
                !doc.text.contains(furniture),
                "{furniture:?} in {}: {}",
                doc.id,
                doc.text
            );
        }
        assert!(!doc.text.contains('<'), "markup left in {}", doc.id);
        assert!(doc.meta.contains_key("title"));
        assert!(doc.quality.is_some() && doc.meta.contains_key("quality_pareto_draw"));
    }
    // Imported corpora pass through extract untouched.
    let books = docs_of(&out.join("books__books.parquet"));
    assert!(books.iter().all(|d| d.text.contains("\n\n")));
}

#[test]
fn every_shared_warc_extracts_without_panics_and_decodes_its_charset() {
    let Some(data) = shared_data() else { return };
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("o");
    let warcs = data.join("warc");
    let o = crate::util::run_expect(
        &[
            "extract",
            "-q",
            "--write-rejected",
            "--output",
            out.to_str().unwrap(),
            warcs.to_str().unwrap(),
        ],
        0,
    );
    assert!(o.stderr.len() < 200_000);
    let s = stats(&out);
    let extract = read_stage(&s, "extract");
    assert!(extract["docs_out"].as_u64().unwrap() > 1000, "{extract}");
    // The Common Crawl excerpt includes windows-1251 and other pages; ClueWeb is EUC-JP.
    let cc = docs_of(&out.join("resiliparse__warcfile.parquet"));
    assert!(
        cc.iter()
            .any(|d| d.text.chars().any(|c| ('а'..='я').contains(&c))),
        "no Cyrillic decoded"
    );
    let clueweb = docs_of(&out.join("resiliparse__clueweb-quirk.parquet"));
    assert!(clueweb
        .iter()
        .any(|d| d.meta.get("charset").map(String::as_str) == Some("euc-jp")));
    assert!(
        clueweb.iter().any(|d| d
            .text
            .chars()
            .any(|c| ('\u{3040}'..='\u{30ff}').contains(&c))),
        "no kana decoded"
    );
    for doc in cc.iter().chain(&clueweb) {
        assert!(doc.meta.contains_key("charset_source"), "{}", doc.id);
        assert!(
            !doc.text.contains('\u{fffd}') || doc.meta.contains_key("charset_errors"),
            "{}",
            doc.id
        );
    }
}

#[test]
fn each_text_command_runs_on_the_previous_ones_output() {
    let d = tempfile::tempdir().unwrap();
    let (ex, li, cl) = (
        d.path().join("ex"),
        d.path().join("li"),
        d.path().join("cl"),
    );
    crate::util::extract_sample_into(&ex);
    run_ok(&[
        "langid",
        "-q",
        "--keep",
        "en,de",
        "--output",
        li.to_str().unwrap(),
        ex.to_str().unwrap(),
    ]);
    run_ok(&[
        "clean",
        "-q",
        "--min-chars",
        "300",
        "--output",
        cl.to_str().unwrap(),
        li.to_str().unwrap(),
    ]);
    let docs = docs_of(&cl.join("sample-web-00000.parquet"));
    assert!(docs.iter().any(|d| d.lang.as_deref() == Some("de")));
    assert!(docs
        .iter()
        .all(|d| matches!(d.lang.as_deref(), Some("en" | "de"))));
    assert!(docs.iter().all(|d| d.text.chars().count() >= 300));
    if let Some(data) = shared_data() {
        let model = data.join("langid/fasttext-lid176/lid.176.ftz");
        let ft = d.path().join("ft");
        run_ok(&[
            "langid",
            "-q",
            "--lid-model",
            model.to_str().unwrap(),
            "--output",
            ft.to_str().unwrap(),
            ex.to_str().unwrap(),
        ]);
        let docs = docs_of(&ft.join("sample-web-00000.parquet"));
        assert!(docs.iter().all(|d| d.meta["langid"] == "fasttext"));
        let fr = docs
            .iter()
            .filter(|d| d.lang.as_deref() == Some("fr"))
            .count();
        assert!(fr > 0);
    }
}

#[test]
fn the_shipped_quality_model_scores_prose_above_chatter() {
    // Works without ../shared: the model ships in models/.
    let model =
        sieve::stages::quality::QualityModel::load(&crate::util::shipped_quality_model()).unwrap();
    let prose =
        "The committee, which had been asked to review the state of the public library system, \
        published its findings on Tuesday. Its members concluded that the branches in the eastern \
        districts had been underfunded for more than a decade, and they recommended that the city \
        restore the opening hours that were cut during the last recession. The report also noted \
        that attendance rose sharply wherever reading programmes for children had been introduced, \
        and it urged the council to extend them before the next school year begins.";
    let chatter = "lol anyone else here?? my phone keeps dying after the update, so annoying. \
        ok brb gotta feed the cat. back. anyway does anyone know a fix? pm me plz. \
        omg the game last night tho!!! cant believe it. whatever. see u guys later xD";
    let (p, c) = (model.score(prose), model.score(chatter));
    // The ranking is what the Pareto filter relies on.
    assert!(p > 0.9 && p - c > 0.3, "prose {p} vs chatter {c}");
}

#[test]
fn rust_inference_equals_the_cpp_library_on_the_shipped_quantized_model() {
    use sieve::stages::quality::QualityModel;
    let path = crate::util::shipped_quality_model();
    let rust = QualityModel::load(&path).unwrap();
    assert!(
        matches!(rust, QualityModel::Rust { .. }),
        "the shipped model should use the Rust reader"
    );
    let cpp = QualityModel::load_cpp(&path).unwrap();
    let d = tempfile::tempdir().unwrap();
    let ex = d.path().join("ex");
    crate::util::extract_sample_into(&ex);
    let docs = docs_of(&ex.join("sample-web-00000.parquet"));
    assert!(docs.len() > 100);
    for doc in &docs {
        let (a, b) = (rust.score(&doc.text), cpp.score(&doc.text));
        assert!((a - b).abs() < 1e-5, "{}: rust {a} vs C++ {b}", doc.id);
    }
}

/// Every line of the shared language-ID data (the lingua sentences, single words and word
/// pairs, and the whatlang examples): the Rust reader (character n-grams, hierarchical
/// softmax, quantized matrices) gives lid.176's top label of the C++ library and its
/// probability within 1e-4.
#[test]
fn rust_lid176_equals_the_cpp_library_on_every_shared_langid_line() {
    let Some(data) = shared_data() else { return };
    let path = data.join("langid/fasttext-lid176/lid.176.ftz");
    let rust = sieve::stages::fasttext_infer::SupervisedModel::load(&path).unwrap();
    let cpp = sieve::stages::fasttext_model::load_shared(&path).unwrap();
    let mut lines: Vec<String> = Vec::new();
    for kind in ["sentences", "single-words", "word-pairs"] {
        let dir = data.join("langid/lingua-testdata").join(kind);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            lines.extend(text.lines().map(str::to_string));
        }
    }
    let examples: std::collections::BTreeMap<String, String> = serde_json::from_slice(
        &std::fs::read(data.join("langid/whatlang-examples/examples.json")).unwrap(),
    )
    .unwrap();
    lines.extend(examples.into_values());
    assert!(lines.len() > 100_000, "{}", lines.len());
    let mut worst = 0.0f32;
    for text in &lines {
        let line = format!("{}\n", sieve::stages::fasttext_model::one_line(text));
        let theirs = cpp.predict(&line, 1, 0.0).unwrap();
        let ours = rust.predict_best(&line);
        match (theirs.first(), ours) {
            (None, None) => {}
            (Some(t), Some((label, p))) => {
                assert_eq!(rust.labels()[label], t.label, "{text:?}");
                worst = worst.max((p - t.prob).abs());
                assert!((p - t.prob).abs() < 1e-4, "{text:?}: {p} vs {}", t.prob);
            }
            (t, o) => panic!("{text:?}: C++ {:?}, Rust {o:?}", t.map(|t| &t.label)),
        }
    }
    eprintln!(
        "{} lines, largest probability difference {worst:e}",
        lines.len()
    );
}

/// `sieve eval langid` scores every backend on the multilingual paragraphs: cld2 (the
/// default) is the most accurate, lid.176 (through the Rust reader) next, whatlang last,
/// and each reports its rate and English precision and recall.
#[test]
fn eval_langid_scores_every_backend_on_multilingual_paragraphs() {
    let Some(data) = shared_data() else { return };
    let d = tempfile::tempdir().unwrap();
    let json = d.path().join("langid.json");
    let out = run_ok(&[
        "eval",
        "langid",
        "--data",
        data.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--show-misses",
    ]);
    // `--show-misses`: as many English texts listed as missed as each recall line counts.
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    for backend in ["whatlang", "cld2", "lid.176.ftz"] {
        let recall = text
            .lines()
            .find(|l| l.starts_with(&format!("English recall ({backend},")))
            .unwrap_or_else(|| panic!("no recall line for {backend}: {text}"));
        let counts = recall
            .rsplit(": ")
            .next()
            .unwrap()
            .split(" = ")
            .next()
            .unwrap();
        let (hit, all) = counts.split_once('/').unwrap();
        let missed: usize = all.parse::<usize>().unwrap() - hit.parse::<usize>().unwrap();
        let listed = text.matches(&format!("miss ({backend}): ")).count();
        assert_eq!(listed, missed, "{backend}");
    }
    let scores: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let get = |name: &str| scores.iter().find(|s| s["backend"] == name).unwrap();
    let (cld2, lid, whatlang) = (get("cld2"), get("lid.176.ftz"), get("whatlang"));
    let f = |s: &serde_json::Value, k: &str| s[k].as_f64().unwrap();
    // 75 lingua languages in paragraphs, plus the whatlang examples' languages.
    assert!(cld2["texts"].as_u64().unwrap() > 18_000, "{cld2}");
    assert!(cld2["per_language"].as_object().unwrap().len() >= 80);
    assert!(f(cld2, "accuracy") > 0.95, "{cld2}");
    assert!(f(cld2, "accuracy") > f(lid, "accuracy"));
    assert!(f(lid, "accuracy") > f(whatlang, "accuracy"));
    for s in [cld2, lid, whatlang] {
        assert!(f(s, "docs_per_second") > 0.0, "{s}");
        assert_eq!(f(s, "english_recall"), 1.0, "{s}");
        assert!(f(s, "macro_accuracy") > 0.5, "{s}");
    }
    // cld2's score (its share of the text, halved when it calls itself unreliable) is close
    // to the probability of being right.
    assert!(f(cld2, "calibration_error") < 0.05, "{cld2}");
}

/// `--lid-model lid.176.ftz` runs through sieve's Rust reader, labelling like the eval.
#[test]
fn the_langid_stage_runs_lid176_through_the_rust_reader() {
    let Some(data) = shared_data() else { return };
    let model = data.join("langid/fasttext-lid176/lid.176.ftz");
    let id = sieve::stages::langid::Identifier::new(Default::default(), Some(&model)).unwrap();
    assert!(matches!(id, sieve::stages::langid::Identifier::FastText(_)));
    let g = id
        .identify("Der schnelle braune Fuchs springt jeden Morgen über den faulen Hund.")
        .unwrap();
    assert_eq!(g.lang, "de");
    assert!(g.score > 0.5 && g.score <= 1.0, "{g:?}");
}

/// `sieve extract --explain URL` finds the page in the WARCs and shows every block with the
/// rule that decided it; the kept blocks are the text `sieve extract` writes for that page.
#[test]
fn extract_explain_shows_each_blocks_rule_for_one_page() {
    let d = tempfile::tempdir().unwrap();
    let ex = d.path().join("ex");
    crate::util::extract_sample_into(&ex);
    let docs = docs_of(&ex.join("sample-web-00000.parquet"));
    let doc = docs
        .iter()
        .find(|d| d.meta.get("extract_method").map(String::as_str) == Some("main"))
        .unwrap();
    let url = doc.url.clone().unwrap();
    let o = run_ok(&["extract", "--explain", &url, sample_web().to_str().unwrap()]);
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains(&format!("page: {}", doc.id)), "{out}");
    assert!(
        out.contains("method: main") && out.contains("container: <"),
        "{out}"
    );
    let kept: Vec<&str> = out.lines().filter(|l| l.starts_with("KEEP")).collect();
    assert!(!kept.is_empty(), "{out}");
    // Each kept line ends with the start of its block (after the rule and two spaces; block
    // text has no double spaces), which is in the extracted text.
    for line in kept {
        let start = line.rsplit("  ").next().unwrap().trim();
        let start: String = start.chars().take(30).collect();
        assert!(
            doc.text.replace('\n', " ").contains(&start),
            "{start:?} not in the text"
        );
    }
    assert!(out.lines().any(|l| l.starts_with("DROP")), "{out}");
    // An id that is not there is an error naming it.
    let o = crate::util::run_expect(
        &[
            "extract",
            "--explain",
            "urn:uuid:none",
            sample_web().to_str().unwrap(),
        ],
        1,
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("urn:uuid:none"));
}
