//! The `url-filter` stage: drops documents by their URL, as datatrove 0.10.1's `URLFilter`
//! (used by FineWeb and RefinedWeb) does, from block lists the user supplies. sieve ships no
//! list. Checks in order:
//!
//! | # | drop if | reason |
//! |---|---|---|
//! | 1 | the registered domain (Public Suffix List, ICANN section) is a listed domain | `domain` |
//! | 2 | the full host is a listed domain | `subdomain` |
//! | 3 | the URL, exactly, is a listed URL | `url` |
//! | 4 | a banned word is one of the URL's words (split at non-alphanumerics, case kept) | `hard_blacklisted` |
//! | 5 | at least `soft_word_threshold` distinct soft-banned words are among them | `soft_blacklisted` |
//! | 6 | a banned subword occurs in the URL lower-cased with non-alphanumerics removed | `blacklisted_subword` |
//!
//! Lists are files in the UT1 format (<https://dsi.ut-capitole.fr/blacklists/>): one domain or
//! URL (without scheme) per line; `#` starts a comment line, blank lines are skipped. Word
//! lists hold one word per line and are normalised (lower case, alphanumerics only). A
//! document without a URL is kept and counted in the `url_filter` histogram as `no_url`.
//! Lists are read line by line, once per process, and shared by every shard's stage; domains
//! and URLs are held as 64-bit hashes: 4.5 million domains (UT1's size) raised the peak RSS of
//! `sieve url-filter` from 17 MB to 122 MB.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use aho_corasick::AhoCorasick;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::doc::Document;
use crate::pipeline::stage::{Emit, Stage};

/// Drop reasons, in the order the checks run.
pub const REASONS: &[&str] = &[
    "domain",
    "subdomain",
    "url",
    "hard_blacklisted",
    "soft_blacklisted",
    "blacklisted_subword",
];

/// The URL filter's settings: list files and inline entries (datatrove's `extra_*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct UrlFilterOptions {
    /// Files of blocked domains, one per line (UT1's `<category>/domains`).
    #[arg(long = "domain-list", value_name = "FILE")]
    pub domain_lists: Vec<PathBuf>,
    /// Files of blocked URLs without scheme, one per line (UT1's `<category>/urls`).
    #[arg(long = "url-list", value_name = "FILE")]
    pub url_lists: Vec<PathBuf>,
    /// Files of banned words: one in the URL's words drops it.
    #[arg(long = "banned-words-file", value_name = "FILE")]
    pub banned_word_lists: Vec<PathBuf>,
    /// Files of banned subwords: one anywhere in the normalised URL drops it.
    #[arg(long = "banned-subwords-file", value_name = "FILE")]
    pub banned_subword_lists: Vec<PathBuf>,
    /// Files of soft-banned words: `soft_word_threshold` of them in the URL's words drop it.
    #[arg(long = "soft-banned-words-file", value_name = "FILE")]
    pub soft_banned_word_lists: Vec<PathBuf>,
    /// Blocked domains given inline.
    #[arg(long = "domain", value_name = "DOMAIN")]
    pub extra_domains: Vec<String>,
    /// Blocked URLs given inline.
    #[arg(long = "url", value_name = "URL")]
    pub extra_urls: Vec<String>,
    /// Banned words given inline.
    #[arg(long = "banned-word", value_name = "WORD")]
    pub banned_words: Vec<String>,
    /// Banned subwords given inline.
    #[arg(long = "banned-subword", value_name = "WORD")]
    pub banned_subwords: Vec<String>,
    /// Soft-banned words given inline.
    #[arg(long = "soft-banned-word", value_name = "WORD")]
    pub soft_banned_words: Vec<String>,
    /// How many distinct soft-banned words drop a URL (datatrove: 2).
    #[arg(long, default_value_t = UrlFilterOptions::default().soft_word_threshold)]
    pub soft_word_threshold: usize,
}

impl Default for UrlFilterOptions {
    fn default() -> Self {
        UrlFilterOptions {
            domain_lists: Vec::new(),
            url_lists: Vec::new(),
            banned_word_lists: Vec::new(),
            banned_subword_lists: Vec::new(),
            soft_banned_word_lists: Vec::new(),
            extra_domains: Vec::new(),
            extra_urls: Vec::new(),
            banned_words: Vec::new(),
            banned_subwords: Vec::new(),
            soft_banned_words: Vec::new(),
            soft_word_threshold: 2,
        }
    }
}

/// datatrove's `normalize`: runs of characters other than ASCII letters and digits removed,
/// then lower case.
pub fn normalize(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn hash(s: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(s.as_bytes())
}

/// The loaded lists.
struct Lists {
    domains: HashSet<u64>,
    urls: HashSet<u64>,
    banned: HashSet<String>,
    soft: HashSet<String>,
    subwords: Option<AhoCorasick>,
}

/// Calls `each` with the entries of one list file, read line by line: trimmed, without blanks
/// and `#` comments. `check` says what is wrong with an entry, if anything; the error names the
/// file and line.
fn read_list(
    path: &Path,
    check: fn(&str) -> Option<&'static str>,
    mut each: impl FnMut(&str),
) -> Result<()> {
    use std::io::BufRead;
    let file =
        std::fs::File::open(path).with_context(|| format!("reading list {}", path.display()))?;
    let mut reader = std::io::BufReader::new(file);
    let mut line = Vec::new();
    for n in 1.. {
        line.clear();
        if reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("reading list {}", path.display()))?
            == 0
        {
            break;
        }
        let text = std::str::from_utf8(&line)
            .map_err(|_| anyhow::anyhow!("{}: line {n}: not UTF-8 text", path.display()))?;
        let entry = text.trim();
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        if let Some(problem) = check(entry) {
            bail!("{}: line {n}: `{entry}` {problem}", path.display());
        }
        each(entry);
    }
    Ok(())
}

fn check_domain(entry: &str) -> Option<&'static str> {
    if entry.contains(char::is_whitespace) {
        Some("is not a domain (it contains whitespace; one domain per line)")
    } else if entry.contains('/') || entry.contains('@') {
        Some("is not a domain (a URL or address belongs in a URL list)")
    } else {
        None
    }
}

fn check_url(entry: &str) -> Option<&'static str> {
    if entry.contains(char::is_whitespace) {
        Some("is not a URL (it contains whitespace; one URL per line)")
    } else {
        None
    }
}

fn check_word(entry: &str) -> Option<&'static str> {
    if normalize(entry).is_empty() {
        Some("has no letter or digit, so it can never match")
    } else {
        None
    }
}

impl Lists {
    fn load(o: &UrlFilterOptions) -> Result<Lists> {
        let mut domains = HashSet::new();
        for path in &o.domain_lists {
            read_list(path, check_domain, |d| {
                domains.insert(hash(d));
            })?;
        }
        domains.extend(o.extra_domains.iter().map(|d| hash(d.trim())));
        let mut urls = HashSet::new();
        for path in &o.url_lists {
            read_list(path, check_url, |u| {
                urls.insert(hash(u));
            })?;
        }
        urls.extend(o.extra_urls.iter().map(|u| hash(u.trim())));
        let words = |files: &[PathBuf], inline: &[String]| -> Result<HashSet<String>> {
            let mut set = HashSet::new();
            for path in files {
                read_list(path, check_word, |w| {
                    set.insert(normalize(w));
                })?;
            }
            set.extend(
                inline
                    .iter()
                    .map(|w| normalize(w))
                    .filter(|w| !w.is_empty()),
            );
            Ok(set)
        };
        let banned = words(&o.banned_word_lists, &o.banned_words)?;
        let soft = words(&o.soft_banned_word_lists, &o.soft_banned_words)?;
        let mut subwords: Vec<String> = words(&o.banned_subword_lists, &o.banned_subwords)?
            .into_iter()
            .collect();
        subwords.sort();
        let subwords = if subwords.is_empty() {
            None
        } else {
            Some(AhoCorasick::new(&subwords).context("building the banned-subword automaton")?)
        };
        Ok(Lists {
            domains,
            urls,
            banned,
            soft,
            subwords,
        })
    }

    /// Loaded once per process for each set of options.
    fn shared(o: &UrlFilterOptions) -> Result<Arc<Lists>> {
        static CACHE: OnceLock<Mutex<HashMap<String, Arc<Lists>>>> = OnceLock::new();
        let key = serde_json::to_string(o)?;
        let cache = CACHE.get_or_init(Default::default);
        if let Some(l) = cache.lock().unwrap().get(&key) {
            return Ok(l.clone());
        }
        let lists = Arc::new(Lists::load(o)?);
        cache.lock().unwrap().insert(key, lists.clone());
        Ok(lists)
    }
}

/// The host of a URL as tldextract reads it: after the scheme (when there is one), before
/// any path, query or fragment, without user info, port and trailing dots; case kept.
pub fn host_of(url: &str) -> &str {
    let rest = match url.find("//") {
        Some(0) => &url[2..],
        Some(i)
            if i >= 2
                && url.as_bytes()[i - 1] == b':'
                && url[..i - 1]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            &url[i + 2..]
        }
        _ => url,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let after_user = authority.rsplit('@').next().unwrap_or("");
    if after_user.starts_with('[') {
        if let Some(end) = after_user.find(']') {
            return &after_user[..=end];
        }
    }
    let host = after_user.split(':').next().unwrap_or("");
    let host = host.trim_matches(crate::text::spacy_en::classes::py_space);
    host.trim_end_matches(['.', '\u{3002}', '\u{FF0E}', '\u{FF61}'])
}

/// tldextract's `registered_domain` and `fqdn` (private suffixes off): the label before the
/// ICANN public suffix with the suffix, and the whole host; both empty when the host has no
/// known suffix (IP addresses, `localhost`).
pub fn registered_domain(host: &str) -> (&str, &str) {
    let lower = host.to_lowercase();
    if lower.len() != host.len() || host.is_empty() {
        return ("", ""); // case mapping changed byte offsets: not a plain host name
    }
    let labels: Vec<&str> = lower.split('.').collect();
    // The longest ICANN rule: a private match is retried on the suffix without its first label.
    let mut name = lower.as_str();
    let suffix_labels = loop {
        match psl::suffix(name.as_bytes()) {
            Some(s) if s.typ() == Some(psl::Type::Icann) => {
                break s.as_bytes().split(|&b| b == b'.').count();
            }
            Some(s) if s.typ() == Some(psl::Type::Private) => {
                let s = std::str::from_utf8(s.as_bytes()).unwrap_or("");
                match s.split_once('.') {
                    Some((_, parent)) => name = &lower[lower.len() - parent.len()..],
                    None => return ("", ""),
                }
            }
            _ => return ("", ""),
        }
    };
    if suffix_labels >= labels.len() {
        return ("", "");
    }
    // Byte offset where the registered domain starts in `host`.
    let keep = suffix_labels + 1;
    let start: usize = labels[..labels.len() - keep]
        .iter()
        .map(|l| l.len() + 1)
        .sum();
    (&host[start..], host)
}

pub struct UrlFilterStage {
    o: UrlFilterOptions,
    lists: Arc<Lists>,
}

impl UrlFilterStage {
    pub fn new(o: UrlFilterOptions) -> Result<Self> {
        let lists = Lists::shared(&o)?;
        Ok(UrlFilterStage { o, lists })
    }

    pub fn from_table(table: &toml::Table) -> Result<Box<dyn Stage>> {
        let o = crate::pipeline::spec::stage_options("url-filter", table)?;
        Ok(Box::new(UrlFilterStage::new(o)?))
    }

    /// The check `url` fails, if any.
    pub fn verdict(&self, url: &str) -> Option<&'static str> {
        let l = &self.lists;
        let (domain, fqdn) = registered_domain(host_of(url));
        if !domain.is_empty() && l.domains.contains(&hash(domain)) {
            return Some("domain");
        }
        if !fqdn.is_empty() && l.domains.contains(&hash(fqdn)) {
            return Some("subdomain");
        }
        if l.urls.contains(&hash(url)) {
            return Some("url");
        }
        let words: HashSet<&str> = url.split(|c: char| !c.is_ascii_alphanumeric()).collect();
        if l.banned.iter().any(|w| words.contains(w.as_str())) {
            return Some("hard_blacklisted");
        }
        let soft = l.soft.iter().filter(|w| words.contains(w.as_str())).count();
        if soft >= self.o.soft_word_threshold {
            return Some("soft_blacklisted");
        }
        if let Some(ac) = &l.subwords {
            if ac.is_match(&normalize(url)) {
                return Some("blacklisted_subword");
            }
        }
        None
    }
}

impl Stage for UrlFilterStage {
    fn name(&self) -> &'static str {
        "url-filter"
    }

    fn process(&mut self, doc: Document, out: &mut Emit) -> Result<()> {
        let verdict = match doc.url.as_deref() {
            Some(url) if !url.is_empty() => self.verdict(url),
            _ => {
                out.tally("url_filter", "no_url");
                None
            }
        };
        match verdict {
            Some(reason) => out.drop(doc, reason),
            None => out.keep(doc),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(o: UrlFilterOptions) -> UrlFilterStage {
        UrlFilterStage::new(o).unwrap()
    }

    #[test]
    fn reference_examples() {
        let s = stage(UrlFilterOptions {
            extra_domains: vec!["blocked-site.com".into()],
            banned_words: vec!["Casino".into()],
            soft_banned_words: vec!["poker".into(), "slots".into()],
            banned_subwords: vec!["free money".into()],
            soft_word_threshold: 2,
            ..Default::default()
        });
        let cases = [
            ("https://user:pw@blocked-site.com:8080/a", Some("domain")),
            ("blocked-site.com/x", Some("domain")),
            ("https://blocked-site.com./x", Some("domain")),
            ("https://News.Blocked-Site.COM/a", None),
            ("https://example.com/casino", Some("hard_blacklisted")),
            ("https://example.com/Casino", None),
            ("https://example.com/poker-slots", Some("soft_blacklisted")),
            (
                "https://example.com/café-poker_slots",
                Some("soft_blacklisted"),
            ),
            ("https://example.com/poker/poker", None),
            ("https://example.com/pokerslots", None),
            (
                "https://example.com/FREE-money",
                Some("blacklisted_subword"),
            ),
            (
                "https://example.com/carefreemoneyclip",
                Some("blacklisted_subword"),
            ),
        ];
        for (url, want) in cases {
            assert_eq!(s.verdict(url), want, "{url}");
        }
    }

    #[test]
    fn domains_follow_the_icann_suffixes() {
        assert_eq!(
            registered_domain("a.b.github.io"),
            ("github.io", "a.b.github.io")
        );
        assert_eq!(registered_domain("www.bbc.co.uk").0, "bbc.co.uk");
        assert_eq!(registered_domain("News.Example.COM").0, "Example.COM");
        assert_eq!(registered_domain("localhost"), ("", ""));
        assert_eq!(registered_domain("1.2.3.4"), ("", ""));
        assert_eq!(
            host_of("https://u:p@Host.example.org.:80/x?y#z"),
            "Host.example.org"
        );
    }

    #[test]
    fn malformed_lists_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("domains");
        std::fs::write(&path, "# adult\nok.example\n\nbad example.com\n").unwrap();
        let err = UrlFilterStage::new(UrlFilterOptions {
            domain_lists: vec![path.clone()],
            ..Default::default()
        })
        .err()
        .unwrap();
        let msg = format!("{err:#}");
        assert!(
            msg.contains(&path.display().to_string()) && msg.contains("line 4"),
            "{msg}"
        );
    }
}
