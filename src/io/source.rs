//! Turning command-line inputs into a sorted list of input files.
//!
//! An input argument is a file, a directory (walked recursively), a glob, a Common Crawl
//! `*.paths[.gz]` listing (each line joined to a base URL or directory), an `http(s)://` URL,
//! or an `s3://bucket/key` object, prefix or glob.
//! Each resolved input gets a *key*: its path relative to the root it was found under. Keys
//! name output shards and document ids, so they must not depend on how the input was spelled
//! (absolute or relative) and must be unique.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use super::http_source::{HttpReader, RetryPolicy};

/// Where an input's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Location {
    Local(PathBuf),
    Url(String),
    /// `s3://bucket/key`.
    S3(String),
}

/// One input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub location: Location,
    /// Relative name, unique among the inputs of one run (`CC-MAIN-...-00000.warc.gz`).
    pub key: String,
}

impl Input {
    pub fn local(path: &Path) -> Input {
        Input {
            key: file_name(path),
            location: Location::Local(path.to_path_buf()),
        }
    }

    /// Opens the raw (possibly compressed) bytes.
    pub fn open(&self) -> Result<Box<dyn Read + Send>> {
        match &self.location {
            Location::Local(p) => {
                let f = File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
                Ok(Box::new(f))
            }
            Location::Url(u) => {
                let r = HttpReader::open(u, RetryPolicy::default())
                    .with_context(|| format!("cannot download {u}"))?;
                Ok(Box::new(r))
            }
            Location::S3(u) => {
                let r = super::s3::S3Reader::open(&super::s3::S3Url::parse(u)?)
                    .with_context(|| format!("cannot download {u}"))?;
                Ok(Box::new(r))
            }
        }
    }

    /// A remote input copied to a temporary local file (Parquet needs random access). The
    /// file is deleted when the returned handle drops; a reader that opened it keeps reading.
    pub fn spool(&self) -> Result<tempfile::NamedTempFile> {
        let suffix = self.key.rsplit('/').next().unwrap_or(&self.key).to_string();
        let mut tmp = tempfile::Builder::new()
            .prefix(".sieve-spool-")
            .suffix(&format!("-{suffix}"))
            .tempfile()
            .context("cannot create a temporary file")?;
        std::io::copy(&mut self.open()?, tmp.as_file_mut())
            .with_context(|| format!("cannot download {self}"))?;
        Ok(tmp)
    }

    /// The local path, when there is one (Parquet needs random access).
    pub fn local_path(&self) -> Option<&Path> {
        match &self.location {
            Location::Local(p) => Some(p),
            Location::Url(_) | Location::S3(_) => None,
        }
    }
}

impl std::fmt::Display for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::Url(u) | Location::S3(u) => write!(f, "{u}"),
        }
    }
}

/// Which files a directory walk picks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// `.warc`, `.warc.gz`, `.warc.zst`, `.wet.gz`, ... and `.arc(.gz)` (reported as unsupported).
    Warc,
    /// Document shards or corpora: `.parquet`, `.jsonl`, `.jsonl.gz`, `.jsonl.zst`.
    Shards,
    /// Either of the above.
    Any,
    /// WARC files; a directory without any is walked for shards instead.
    PreferWarc,
}

impl InputKind {
    pub fn accepts(&self, name: &str) -> bool {
        let n = name.to_ascii_lowercase();
        let warc = [
            ".warc",
            ".warc.gz",
            ".warc.zst",
            ".wet",
            ".wet.gz",
            ".wat.gz",
            ".arc",
            ".arc.gz",
        ]
        .iter()
        .any(|s| n.ends_with(s));
        let shard = [
            ".parquet",
            ".jsonl",
            ".jsonl.gz",
            ".jsonl.zst",
            ".ndjson",
            ".ndjson.gz",
        ]
        .iter()
        .any(|s| n.ends_with(s));
        match self {
            InputKind::Warc => warc,
            InputKind::Shards => shard,
            InputKind::Any => warc || shard,
            InputKind::PreferWarc => warc,
        }
    }
}

/// Options for resolving inputs.
#[derive(Debug, Clone)]
pub struct Resolve {
    pub kind: InputKind,
    /// Prefix for the relative paths in `*.paths` listings: a URL or a local directory.
    pub base_url: String,
}

impl Default for Resolve {
    fn default() -> Self {
        Resolve {
            kind: InputKind::Any,
            base_url: "https://data.commoncrawl.org/".to_string(),
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// A remote location for a listing entry or an argument: HTTP(S) or S3.
fn remote(url: String) -> Location {
    if super::s3::is_s3(&url) {
        Location::S3(url)
    } else {
        Location::Url(url)
    }
}

fn is_listing(s: &str) -> bool {
    s.ends_with(".paths") || s.ends_with(".paths.gz")
}

fn url_key(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or(path)
        .to_string()
}

/// Expands the arguments into inputs, sorted by key, each key unique.
pub fn resolve(args: &[String], opts: &Resolve) -> Result<Vec<Input>> {
    let mut found: Vec<Input> = Vec::new();
    for arg in args {
        if super::s3::is_s3(arg) {
            found.extend(resolve_s3(arg, opts)?);
            continue;
        }
        if is_url(arg) {
            if is_listing(arg) {
                let reader = Input {
                    location: Location::Url(arg.clone()),
                    key: url_key(arg),
                }
                .open()?;
                found.extend(read_listing(reader, arg, &opts.base_url)?);
            } else {
                found.push(Input {
                    location: Location::Url(arg.clone()),
                    key: url_key(arg),
                });
            }
            continue;
        }
        let path = Path::new(arg);
        if is_listing(arg) && path.is_file() {
            let reader = File::open(path).with_context(|| format!("cannot open {arg}"))?;
            found.extend(read_listing(Box::new(reader), arg, &opts.base_url)?);
        } else if path.is_dir() {
            let before = found.len();
            walk(path, path, opts.kind, &mut found)?;
            if found.len() == before && opts.kind == InputKind::PreferWarc {
                walk(path, path, InputKind::Shards, &mut found)?;
            }
            if found.len() == before {
                bail!("{arg}: the directory holds no input files");
            }
        } else if path.is_file() {
            found.push(Input::local(path));
        } else if arg.contains(['*', '?', '[']) {
            let root = glob_root(arg);
            let mut matched = 0;
            for entry in glob::glob(arg).with_context(|| format!("bad glob {arg}"))? {
                let p = entry?;
                if p.is_file() {
                    let key = p
                        .strip_prefix(&root)
                        .unwrap_or(&p)
                        .to_string_lossy()
                        .into_owned();
                    found.push(Input {
                        location: Location::Local(p),
                        key,
                    });
                    matched += 1;
                }
            }
            if matched == 0 {
                bail!("{arg}: the glob matches no files");
            }
        } else {
            bail!("{arg}: no such file or directory");
        }
    }
    // The same file named twice is read once; two files with one key is an error.
    found.sort_by(|a, b| a.key.cmp(&b.key).then(a.location.cmp(&b.location)));
    found.dedup();
    let mut by_key: BTreeMap<&str, &Input> = BTreeMap::new();
    for input in &found {
        if let Some(other) = by_key.insert(&input.key, input) {
            bail!(
                "two inputs would write the same output shard `{}`: {} and {} (pass their common parent directory instead)",
                input.key,
                other,
                input
            );
        }
    }
    Ok(found)
}

/// An `s3://` argument: a listing, one object, every object under a prefix (directory), or
/// the objects matching a glob. Keys are relative to the prefix's directory, as for local
/// directories and globs.
fn resolve_s3(arg: &str, opts: &Resolve) -> Result<Vec<Input>> {
    use super::s3::{list, S3Url};
    let url = S3Url::parse(arg)?;
    if is_listing(arg) {
        let reader = Input {
            location: Location::S3(arg.to_string()),
            key: url_key(arg),
        }
        .open()?;
        return read_listing(reader, arg, &opts.base_url);
    }
    let wildcard = url.key.find(['*', '?', '[']);
    let found = match wildcard {
        Some(at) => {
            // List from the directory before the first wildcard, keep what the glob matches.
            let dir_end = url.key[..at].rfind('/').map_or(0, |i| i + 1);
            let dir = S3Url {
                bucket: url.bucket.clone(),
                key: url.key[..dir_end].to_string(),
            };
            let pattern =
                glob::Pattern::new(&url.key).with_context(|| format!("bad glob {arg}"))?;
            let options = glob::MatchOptions {
                require_literal_separator: true,
                ..Default::default()
            };
            let matched: Vec<Input> = list(&dir)?
                .into_iter()
                .filter(|(o, _)| pattern.matches_with(&o.key, options))
                .map(|(o, _)| Input {
                    key: o.key[dir_end..].to_string(),
                    location: Location::S3(o.url()),
                })
                .collect();
            if matched.is_empty() {
                bail!("{arg}: the glob matches no objects");
            }
            matched
        }
        None if !url.key.is_empty() && !url.key.ends_with('/') && super::s3::exists(&url)? => {
            vec![Input {
                key: url_key(arg),
                location: Location::S3(arg.to_string()),
            }]
        }
        None => {
            let dir_len = match url.key.trim_end_matches('/') {
                "" => 0,
                k => k.len() + 1,
            };
            // One listing; its visible files by relative key. A prefix without WARC files is
            // read for shards with PreferWarc, as a local directory is.
            let listed = list(&url)?;
            if listed.is_empty() {
                bail!("{arg}: no such object, and no objects under it");
            }
            let visible: Vec<(String, String)> = listed
                .into_iter()
                .map(|(o, _)| (o.key.get(dir_len..).unwrap_or(&o.key).to_string(), o.url()))
                .filter(|(rel, _)| !rel.split('/').any(|p| p.starts_with('.')))
                .collect();
            let of_kind = |kind: InputKind| -> Vec<Input> {
                visible
                    .iter()
                    .filter(|(rel, _)| kind.accepts(rel))
                    .map(|(rel, url)| Input {
                        key: rel.clone(),
                        location: Location::S3(url.clone()),
                    })
                    .collect()
            };
            let mut inputs = of_kind(opts.kind);
            if inputs.is_empty() && opts.kind == InputKind::PreferWarc {
                inputs = of_kind(InputKind::Shards);
            }
            if inputs.is_empty() {
                bail!("{arg}: the prefix holds no input files");
            }
            inputs
        }
    };
    Ok(found)
}

/// The directory part of a glob before its first wildcard, so keys keep the matched subpath.
fn glob_root(pattern: &str) -> PathBuf {
    let mut root = PathBuf::new();
    for comp in Path::new(pattern).components() {
        let s = comp.as_os_str().to_string_lossy();
        if s.contains(['*', '?', '[']) {
            break;
        }
        root.push(comp);
    }
    if root.as_os_str().is_empty() || Path::new(pattern) == root {
        PathBuf::from(".")
    } else {
        root
    }
}

/// Subdirectories of a run output directory that hold no output shards.
const RUN_OUTPUT_SIDE_DIRS: &[&str] = &[
    "rejected",
    "work",
    "dedup-work",
    "decontam-work",
    "reports",
    "stats",
    "done",
    "tokens",
    "blend",
    "report",
    "timings",
    "slurm",
];

fn walk(root: &Path, dir: &Path, kind: InputKind, out: &mut Vec<Input>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    // A sieve output directory (it has completion markers) is read as its output shards:
    // the rejected sidecar and intermediate work files are not documents to process.
    let is_run_output = dir.join("done").is_dir();
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue; // temporary files and other hidden state
        }
        let path = entry.path();
        if is_run_output && RUN_OUTPUT_SIDE_DIRS.contains(&name.as_str()) && path.is_dir() {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, kind, out)?;
        } else if kind.accepts(&name) {
            let key = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            out.push(Input {
                location: Location::Local(path),
                key,
            });
        }
    }
    Ok(())
}

/// Reads a Common Crawl listing (one relative path per line, possibly gzipped).
fn read_listing(reader: Box<dyn Read + Send>, name: &str, base: &str) -> Result<Vec<Input>> {
    let reader = super::shards::decompress(reader)?;
    let mut inputs = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("{name}: cannot read line {}", i + 1))?;
        let rel = line.trim();
        if rel.is_empty() || rel.starts_with('#') {
            continue;
        }
        let location = if is_url(rel) || super::s3::is_s3(rel) {
            remote(rel.to_string())
        } else if is_url(base) || super::s3::is_s3(base) {
            remote(format!(
                "{}/{}",
                base.trim_end_matches('/'),
                rel.trim_start_matches('/')
            ))
        } else {
            Location::Local(Path::new(base).join(rel))
        };
        inputs.push(Input {
            key: url_key(rel),
            location,
        });
    }
    if inputs.is_empty() {
        return Err(anyhow!("{name}: the listing holds no paths"));
    }
    Ok(inputs)
}

/// Keeps the inputs of task `index` out of `count` (round-robin over the sorted list, so
/// that tasks get similar mixes of file sizes).
pub fn select_shard<T>(items: Vec<T>, index: usize, count: usize) -> Vec<T> {
    items
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % count == index)
        .map(|(_, x)| x)
        .collect()
}

/// Parses `I/N` (0-based task index over N tasks).
pub fn parse_shard_spec(spec: &str) -> Result<(usize, usize)> {
    let (i, n) = spec
        .split_once('/')
        .ok_or_else(|| anyhow!("--shard wants I/N (e.g. 3/16), got `{spec}`"))?;
    let i: usize = i
        .trim()
        .parse()
        .with_context(|| format!("bad shard index in `{spec}`"))?;
    let n: usize = n
        .trim()
        .parse()
        .with_context(|| format!("bad shard count in `{spec}`"))?;
    if n == 0 || i >= n {
        bail!("--shard {spec}: the index must be below the count (0-based)");
    }
    Ok((i, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn directory_keys_are_relative_and_sorted() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("a")).unwrap();
        fs::write(d.path().join("a/x.warc.gz"), b"").unwrap();
        fs::write(d.path().join("b.warc"), b"").unwrap();
        fs::write(d.path().join("notes.txt"), b"").unwrap();
        fs::write(d.path().join(".hidden.warc"), b"").unwrap();
        let arg = d.path().to_string_lossy().into_owned();
        let got = resolve(
            &[arg],
            &Resolve {
                kind: InputKind::Warc,
                ..Default::default()
            },
        )
        .unwrap();
        let keys: Vec<_> = got.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["a/x.warc.gz", "b.warc"]);
    }

    #[test]
    fn globs_keep_the_subpath_after_the_wildcard() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("s1")).unwrap();
        fs::create_dir_all(d.path().join("s2")).unwrap();
        fs::write(d.path().join("s1/p.jsonl"), b"").unwrap();
        fs::write(d.path().join("s2/p.jsonl"), b"").unwrap();
        let pattern = format!("{}/s*/*.jsonl", d.path().display());
        let got = resolve(&[pattern], &Resolve::default()).unwrap();
        let keys: Vec<_> = got.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["s1/p.jsonl", "s2/p.jsonl"]);
    }

    #[test]
    fn same_key_twice_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("s1")).unwrap();
        fs::create_dir_all(d.path().join("s2")).unwrap();
        fs::write(d.path().join("s1/p.jsonl"), b"").unwrap();
        fs::write(d.path().join("s2/p.jsonl"), b"").unwrap();
        let a = d.path().join("s1/p.jsonl").to_string_lossy().into_owned();
        let b = d.path().join("s2/p.jsonl").to_string_lossy().into_owned();
        assert!(
            resolve(&[a.clone(), a.clone()], &Resolve::default())
                .unwrap()
                .len()
                == 1
        );
        let err = resolve(&[a, b], &Resolve::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("same output shard"), "{err}");
    }

    #[test]
    fn listings_join_the_base() {
        let d = tempfile::tempdir().unwrap();
        let listing = d.path().join("x.warc.paths");
        fs::write(
            &listing,
            "crawl-data/CC/segments/1/warc/a.warc.gz\n\ncrawl-data/CC/segments/2/warc/b.warc.gz\n",
        )
        .unwrap();
        let opts = Resolve {
            base_url: "https://example.org/".into(),
            ..Default::default()
        };
        let got = resolve(&[listing.to_string_lossy().into_owned()], &opts).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].key, "a.warc.gz");
        assert_eq!(
            got[0].location,
            Location::Url("https://example.org/crawl-data/CC/segments/1/warc/a.warc.gz".into())
        );
    }

    #[test]
    fn shard_selection_partitions_the_inputs() {
        let inputs: Vec<Input> = (0..10)
            .map(|i| Input::local(Path::new(&format!("f{i}"))))
            .collect();
        let mut all: Vec<String> = (0..3)
            .flat_map(|t| select_shard(inputs.clone(), t, 3))
            .map(|i| i.key)
            .collect();
        all.sort();
        assert_eq!(all.len(), 10);
        all.dedup();
        assert_eq!(all.len(), 10);
        assert_eq!(parse_shard_spec("2/4").unwrap(), (2, 4));
        assert!(parse_shard_spec("4/4").is_err());
        assert!(parse_shard_spec("x").is_err());
    }
}
