//! Copying a finished run directory to object storage (`s3://bucket/prefix`), committed the
//! way the run itself is: data files first, then the files that say "complete" (completion
//! markers, stats, manifests, the data card's page), and last `published.json`, the list of
//! every object with its size and sha256. A reader that finds `published.json` finds every
//! object it lists; an interrupted publish is resumed by running it again (objects already
//! there with the same sha256 are not sent again).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rayon::prelude::*;
use serde::Serialize;

use crate::io::digest::FileDigest;
use crate::io::s3::{upload_file, S3Url};

/// Directories of a run that are not published: intermediate work and the scheduler's files.
const NOT_PUBLISHED: &[&str] = &["work", "slurm"];

/// The last object written.
pub const PUBLISHED: &str = "published.json";

#[derive(Debug, Default, Serialize)]
pub struct PublishReport {
    pub destination: String,
    pub files: u64,
    pub uploaded: u64,
    pub already_there: u64,
    pub bytes: u64,
    /// Relative path → size and sha256, for every object published.
    pub objects: std::collections::BTreeMap<String, FileDigest>,
}

/// Files that mark something complete go after the data they describe.
fn is_commit_file(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    rel.split('/').any(|p| p == "done")
        || name == "stats.json"
        || name == "manifest.json"
        || name == "tokenize.json"
        || rel == "report/index.html"
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with('.') || (dir == root && NOT_PUBLISHED.contains(&rel.as_str())) {
            continue; // temporaries, and what the next run step would recompute
        }
        if path.is_dir() {
            walk(root, &path, out)?;
        } else if rel != PUBLISHED {
            out.push(rel);
        }
    }
    Ok(())
}

/// Uploads the run directory `run` under `dest`.
pub fn publish(run: &Path, dest: &str, quiet: bool) -> Result<PublishReport> {
    let base = S3Url::parse(dest)?;
    if !run.join("stats.json").is_file() {
        anyhow::bail!(
            "{} has no stats.json: publish the output directory of a finished run",
            run.display()
        );
    }
    let mut files = Vec::new();
    walk(run, run, &mut files)?;
    let (commit, data): (Vec<String>, Vec<String>) =
        files.into_iter().partition(|f| is_commit_file(f));
    let mut report = PublishReport {
        destination: base.url(),
        ..Default::default()
    };
    for batch in [data, commit] {
        let results: Vec<Result<(String, bool, FileDigest)>> = batch
            .par_iter()
            .map(|rel| {
                let (uploaded, digest) = upload_file(&run.join(rel), &base.join(rel))?;
                Ok((rel.clone(), uploaded, digest))
            })
            .collect();
        for r in results {
            let (rel, uploaded, digest) = r?;
            report.files += 1;
            report.bytes += digest.bytes;
            if uploaded {
                report.uploaded += 1;
            } else {
                report.already_there += 1;
            }
            report.objects.insert(rel, digest);
        }
        if !quiet {
            eprintln!(
                "sieve publish: {} of {} files sent so far ({} already there)",
                report.uploaded, report.files, report.already_there
            );
        }
    }
    let listing = tempfile::NamedTempFile::new()?;
    std::fs::write(listing.path(), serde_json::to_vec_pretty(&report)?)?;
    upload_file(listing.path(), &base.join(PUBLISHED))?;
    Ok(report)
}

pub fn print_report(r: &PublishReport) {
    eprintln!(
        "sieve publish: {} files ({:.1} MB) in {}: {} sent, {} already there; listed in {PUBLISHED}",
        r.files,
        r.bytes as f64 / 1e6,
        r.destination,
        r.uploaded,
        r.already_there
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_and_manifests_are_committed_last() {
        assert!(is_commit_file("done/web__a"));
        assert!(is_commit_file("tokens/done/web__a"));
        assert!(is_commit_file("blend/manifest.json"));
        assert!(is_commit_file("stats.json"));
        assert!(is_commit_file("report/index.html"));
        assert!(!is_commit_file("web__a.parquet"));
        assert!(!is_commit_file("stats/web__a.json"));
        assert!(!is_commit_file("report/funnel.svg"));
    }

    #[test]
    fn work_and_scheduler_files_stay_home() {
        let d = tempfile::tempdir().unwrap();
        for f in [
            "a.parquet",
            "work/x/y",
            "slurm/logs/z",
            "report/w.svg",
            ".tmp-a",
        ] {
            let p = d.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"x").unwrap();
        }
        let mut files = Vec::new();
        walk(d.path(), d.path(), &mut files).unwrap();
        assert_eq!(files, ["a.parquet", "report/w.svg"]);
    }
}
