//! Every WARC under ../shared/data/warc reads with the record counts its STATS.jsonl and
//! SOURCES.md give.

use std::collections::BTreeMap;

use sieve::io::warc::{TypeFilter, WarcReader};

use crate::util::shared_data;

#[test]
fn every_shared_warc_has_the_documented_record_counts() {
    let Some(data) = shared_data() else { return };
    let dir = data.join("warc");
    let stats = std::fs::read_to_string(dir.join("STATS.jsonl")).unwrap();
    let mut checked = 0;
    for line in stats.lines() {
        let want: serde_json::Value = serde_json::from_str(line).unwrap();
        let file = want["file"].as_str().unwrap();
        if file.ends_with(".paths.gz") {
            continue; // a listing, not a WARC
        }
        let mut want_types: BTreeMap<String, u64> = want["types"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect();
        if file == "resiliparse/clueweb-quirk.warc.gz" {
            // STATS.jsonl counts only WARC/1.x (0 records); SOURCES.md documents the 30
            // WARC/0.18 records (1 warcinfo + 29 responses), which sieve reads.
            want_types = [("warcinfo".to_string(), 1), ("response".to_string(), 29)].into();
        }
        let reader = WarcReader::new(
            std::fs::File::open(dir.join(file)).unwrap(),
            TypeFilter::all(),
        );
        let mut got: BTreeMap<String, u64> = BTreeMap::new();
        let mut errors = Vec::new();
        for item in reader {
            match item {
                Ok(r) => *got.entry(r.record_type.as_str().to_string()).or_default() += 1,
                Err(e) => errors.push(format!("{}: {}", e.kind.as_str(), e)),
            }
        }
        assert_eq!(got, want_types, "{file}: record types (errors: {errors:?})");
        if want["arc_format"].as_bool() == Some(true) {
            assert!(
                errors.iter().any(|e| e.starts_with("warc_not_warc")),
                "{file}: {errors:?}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} files checked");
}

#[test]
fn the_cc_style_warc_becomes_one_document_per_html_response() {
    let Some(data) = shared_data() else { return };
    let warc = data.join("warc/synthetic-cc-style/real-html-cc-style.warc.gz");
    let out = tempfile::tempdir().unwrap();
    let o = out.path().to_str().unwrap();
    crate::util::run_ok(&[
        "warc",
        "-q",
        "--dataset",
        "cc",
        "--output",
        o,
        warc.to_str().unwrap(),
    ]);
    let docs = crate::util::docs_of(&out.path().join("real-html-cc-style.parquet"));
    assert_eq!(docs.len(), 1171);
    // Ids are unique and lineage points back at the gzip member.
    let ids: std::collections::BTreeSet<_> = docs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids.len(), 1171);
    assert!(docs
        .iter()
        .all(|d| d.warc_record_id.is_some() && d.url.is_some()));
    let stats = crate::util::stats(out.path());
    let read = crate::util::read_stage(&stats, "read");
    assert_eq!(read["docs_out"], 1171);
    assert!(read["errors"].as_object().unwrap().is_empty(), "{read}");
}
