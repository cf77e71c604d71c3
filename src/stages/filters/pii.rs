//! The `pii` stage: e-mail addresses and public IPv4 addresses replaced by fixed stand-ins, as
//! datatrove 0.10.1's `PIIFormatter` does (FineWeb's last step). It never drops a document.
//!
//! - **E-mail**: the RFC 5322 "general" form without quoted strings: a dot-atom local part of
//!   ASCII letters, digits and ``!#$%&'*+/=?^_`{|}~-``, then `@` and either a host of at least
//!   two labels or a bracketed IPv4 literal. The match must start at a word boundary (Python's
//!   `\b`, with Python's word characters).
//! - **IPv4**: four dotted octets 0–255 anywhere (no boundaries: `v1.2.3.4` matches), kept
//!   unless Python's `ipaddress` accepts the string (no leading zeros) and, with
//!   `only_remove_public_ips`, calls it global (CPython 3.11.7's table: private, loopback,
//!   link-local, shared 100.64/10, documentation, benchmarking and reserved ranges are kept;
//!   multicast is replaced).
//!
//! E-mails are replaced first, then IPs, each cycling through its replacement list; the
//! position in each cycle carries from one document to the next within a shard, as datatrove's
//! carries within a task. Replacements are counted in the stage's `pii_replaced` histogram.

use anyhow::{bail, Result};
use clap::ArgAction;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::doc::Document;
use crate::pipeline::stage::{Emit, Stage};
use crate::text::spacy_en::classes::py_word;

/// The PII formatter's settings (datatrove 0.10.1's defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct PiiOptions {
    /// Replace e-mail addresses; `--keep-emails` leaves them.
    #[arg(long = "keep-emails", action = ArgAction::SetFalse,
          default_value_t = PiiOptions::default().remove_emails)]
    pub remove_emails: bool,
    /// Replace IPv4 addresses; `--keep-ips` leaves them.
    #[arg(long = "keep-ips", action = ArgAction::SetFalse,
          default_value_t = PiiOptions::default().remove_ips)]
    pub remove_ips: bool,
    /// Replace only globally routable addresses; `--all-ips` replaces private ones too.
    #[arg(long = "all-ips", action = ArgAction::SetFalse,
          default_value_t = PiiOptions::default().only_remove_public_ips)]
    pub only_remove_public_ips: bool,
    /// Stand-ins for e-mail addresses, used in turn.
    #[arg(long, value_delimiter = ',', default_values_t = PiiOptions::default().email_replacement)]
    pub email_replacement: Vec<String>,
    /// Stand-ins for IP addresses, used in turn.
    #[arg(long, value_delimiter = ',', default_values_t = PiiOptions::default().ip_replacement)]
    pub ip_replacement: Vec<String>,
}

impl Default for PiiOptions {
    fn default() -> Self {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
        PiiOptions {
            remove_emails: true,
            remove_ips: true,
            only_remove_public_ips: true,
            // example.com and example.org are reserved for examples.
            email_replacement: s(&["email@example.com", "firstname.lastname@example.org"]),
            // datatrove's randomly chosen addresses.
            ip_replacement: s(&[
                "22.214.171.124",
                "126.96.36.199",
                "188.8.131.52",
                "184.108.40.206",
                "220.127.116.11",
                "18.104.22.168",
            ]),
        }
    }
}

const OCTET: &str = "(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)";

fn email_pattern() -> String {
    let atom = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
    let label = "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?";
    let literal = format!(r"\[(?:{OCTET}\.){{3}}(?:{OCTET}|[A-Za-z0-9-]*[A-Za-z0-9]:)\]");
    format!(r"{atom}(?:\.{atom})*@(?:(?:{label}\.)+{label}|{literal})")
}

/// Python's `ipaddress.ip_address` on a dotted quad: no octet with a leading zero.
fn valid_ipv4(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for o in &mut out {
        let p = parts.next()?;
        if p.is_empty() || (p.len() > 1 && p.starts_with('0')) {
            return None;
        }
        *o = p.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// CPython 3.11.7's `IPv4Address.is_global`.
fn is_global(ip: [u8; 4]) -> bool {
    let v = u32::from_be_bytes(ip);
    let not_global: &[(u32, u32)] = &[
        (0x0000_0000, 8),  // 0.0.0.0/8
        (0x0A00_0000, 8),  // 10/8
        (0x6440_0000, 10), // 100.64/10 (shared address space)
        (0x7F00_0000, 8),  // 127/8
        (0xA9FE_0000, 16), // 169.254/16
        (0xAC10_0000, 12), // 172.16/12
        (0xC000_0000, 29), // 192.0.0.0/29
        (0xC000_00AA, 31), // 192.0.0.170/31
        (0xC000_0200, 24), // 192.0.2/24
        (0xC0A8_0000, 16), // 192.168/16
        (0xC612_0000, 15), // 198.18/15
        (0xC633_6400, 24), // 198.51.100/24
        (0xCB00_7100, 24), // 203.0.113/24
        (0xF000_0000, 4),  // 240/4
        (0xFFFF_FFFF, 32), // broadcast
    ];
    !not_global
        .iter()
        .any(|&(net, bits)| v >> (32 - bits) == net >> (32 - bits))
}

pub struct PiiStage {
    o: PiiOptions,
    email: Regex,
    ip: Regex,
    next_email: usize,
    next_ip: usize,
}

impl PiiStage {
    pub fn new(o: PiiOptions) -> Result<Self> {
        if o.email_replacement.is_empty() || o.ip_replacement.is_empty() {
            bail!("pii: the replacement lists need at least one entry each");
        }
        Ok(PiiStage {
            o,
            email: Regex::new(&email_pattern()).expect("valid"),
            ip: Regex::new(&format!(r"(?:{OCTET}\.){{3}}{OCTET}")).expect("valid"),
            next_email: 0,
            next_ip: 0,
        })
    }

    pub fn from_table(table: &toml::Table) -> Result<Box<dyn Stage>> {
        let o = crate::pipeline::spec::stage_options("pii", table)?;
        Ok(Box::new(PiiStage::new(o)?))
    }

    /// Whether Python's `\b` holds before byte `at` for a match starting with `first`.
    fn word_boundary(text: &str, at: usize) -> bool {
        let before = text[..at].chars().next_back().is_some_and(py_word);
        let after = text[at..].chars().next().is_some_and(py_word);
        before != after
    }

    /// The text with e-mails and IPs replaced, and how many of each.
    pub fn redact(&mut self, text: &str) -> (String, usize, usize) {
        let mut emails = 0;
        let mut out = text.to_string();
        if self.o.remove_emails && text.contains('@') {
            let mut s = String::with_capacity(text.len());
            let (mut last, mut from) = (0, 0);
            while let Some(m) = self.email.find_at(text, from) {
                if !Self::word_boundary(text, m.start()) {
                    // Python would try the next start: search again one character on.
                    from = m.start() + text[m.start()..].chars().next().map_or(1, char::len_utf8);
                    continue;
                }
                s.push_str(&text[last..m.start()]);
                s.push_str(&self.o.email_replacement[self.next_email]);
                self.next_email = (self.next_email + 1) % self.o.email_replacement.len();
                emails += 1;
                last = m.end();
                from = m.end().max(m.start() + 1);
            }
            s.push_str(&text[last..]);
            out = s;
        }
        let mut ips = 0;
        if self.o.remove_ips {
            let mut s = String::with_capacity(out.len());
            let mut last = 0;
            for m in self.ip.find_iter(&out) {
                let replace = valid_ipv4(m.as_str())
                    .is_some_and(|ip| !self.o.only_remove_public_ips || is_global(ip));
                if replace {
                    s.push_str(&out[last..m.start()]);
                    s.push_str(&self.o.ip_replacement[self.next_ip]);
                    self.next_ip = (self.next_ip + 1) % self.o.ip_replacement.len();
                    ips += 1;
                    last = m.end();
                }
            }
            s.push_str(&out[last..]);
            out = s;
        }
        (out, emails, ips)
    }
}

impl Stage for PiiStage {
    fn name(&self) -> &'static str {
        "pii"
    }

    fn process(&mut self, mut doc: Document, out: &mut Emit) -> Result<()> {
        let (text, emails, ips) = self.redact(&doc.text);
        for _ in 0..emails {
            out.tally("pii_replaced", "email");
        }
        for _ in 0..ips {
            out.tally("pii_replaced", "ip");
        }
        doc.text = text;
        out.keep(doc);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_example_three_documents_in_order() {
        let mut p = PiiStage::new(PiiOptions::default()).unwrap();
        let docs = [
            (
                "Mail john.doe+x@mail.example.com or JANE@Example.ORG.",
                "Mail email@example.com or firstname.lastname@example.org.",
            ),
            (
                "Lit: admin@[192.168.0.1] and x@localhost and a@b.c",
                "Lit: email@example.com and x@localhost and firstname.lastname@example.org",
            ),
            (
                "Hosts 8.8.8.8, 10.0.0.1, 1.2.3.4.5, 192.168.1.256, v1.2.3.4, 1234.5.6.78, 010.1.1.1, 224.0.0.1",
                "Hosts 22.214.171.124, 10.0.0.1, 126.96.36.199.5, 192.168.1.256, v188.8.131.52, 1184.108.40.206, 010.1.1.1, 220.127.116.11",
            ),
        ];
        for (input, want) in docs {
            assert_eq!(p.redact(input).0, want);
        }
    }

    #[test]
    fn email_needs_a_python_word_boundary() {
        let mut p = PiiStage::new(PiiOptions::default()).unwrap();
        // No boundary between "é" and "j", nor inside the word: Python finds no address.
        assert_eq!(p.redact("éjohn@example.com").0, "éjohn@example.com");
        assert_eq!(p.redact("é john@example.com").0, "é email@example.com");
    }
}
