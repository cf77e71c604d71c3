//! `s3://` inputs and publishing against a real local S3 (moto's server, started by the test,
//! `tests/python/s3_server.py`) that answers every 7th request with `503 SlowDown` and cuts
//! the first GET of each object half-way: listings with an s3 base URL, globs and prefixes
//! read anonymously give the same documents as the local files; a run published with
//! credentials arrives whole (multipart for large files), markers and manifests after the
//! data, `published.json` last, within the per-host request cap; a second publish sends
//! nothing.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::util::{assert_same_outputs, python_with, repo, run_ok, sample_web, sieve};

struct S3Server {
    child: Child,
    port: u16,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3Server {
    fn start() -> Option<S3Server> {
        let python = python_with(&["moto.server", "werkzeug"])?;
        let mut child = Command::new(python)
            .arg(repo().join("tests/python/s3_server.py"))
            .args(["--slowdown-every", "7", "--cut-gets-over", "50000"])
            .args(["--buckets", "crawl,out"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the S3 server did not start: {line:?}"));
        Some(S3Server { child, port })
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An unsigned request, retried through the injected 503s.
    fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        for _ in 0..20 {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            write!(
                s,
                "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .unwrap();
            s.write_all(body).unwrap();
            let mut response = Vec::new();
            let _ = s.read_to_end(&mut response); // a cut GET ends early: asked again below
            let head_end = response
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(response.len(), |i| i + 4);
            let head = String::from_utf8_lossy(&response[..head_end]).into_owned();
            let status: u16 = head
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let body = response[head_end..].to_vec();
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse::<usize>().ok());
            if status == 503 || length.is_some_and(|n| n != body.len()) {
                continue;
            }
            return (status, body);
        }
        panic!("{method} {path}: no answer through the faults");
    }

    fn put(&self, key: &str, body: &[u8]) {
        let (status, _) = self.request("PUT", key, body);
        assert_eq!(status, 200, "PUT {key}");
    }

    fn get(&self, key: &str) -> Vec<u8> {
        let (status, body) = self.request("GET", key, b"");
        assert_eq!(status, 200, "GET {key}");
        body
    }

    fn faults(&self, reset: bool) -> serde_json::Value {
        let path = if reset {
            "/__faults/reset"
        } else {
            "/__faults"
        };
        serde_json::from_slice(&self.request("GET", path, b"").1).unwrap()
    }
}

/// sieve with the server as its S3 endpoint and no credentials (anonymous requests).
fn sieve_s3(server: &S3Server) -> Command {
    let mut c = sieve();
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") {
            c.env_remove(k);
        }
    }
    c.env("AWS_ENDPOINT_URL", server.endpoint());
    c
}

fn ok(mut c: Command) -> String {
    let o = c.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "sieve failed:\n{err}");
    err
}

fn gz(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

#[test]
fn s3_inputs_and_publishing_survive_throttling_and_cut_connections() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let segment = "crawl-data/CC-TEST/segments/0/warc";
    let mut listing = String::new();
    for f in ["sample-web-00000.warc.gz", "sample-web-00001.warc.gz"] {
        let bytes = std::fs::read(sample_web().join(f)).unwrap();
        server.put(&format!("/crawl/{segment}/{f}"), &bytes);
        listing.push_str(&format!("{segment}/{f}\n"));
    }
    server.put("/crawl/crawl-data/CC-TEST/warc.paths.gz", &gz(&listing));
    server.faults(true);

    let reference = d.path().join("reference");
    run_ok(&[
        "warc",
        "-q",
        "--dataset",
        "web",
        "-o",
        reference.to_str().unwrap(),
        sample_web().to_str().unwrap(),
    ]);

    // A Common Crawl listing whose entries resolve against an s3:// base.
    let listed = d.path().join("listed");
    let mut c = sieve_s3(&server);
    c.args([
        "warc",
        "-q",
        "--dataset",
        "web",
        "--base-url",
        "s3://crawl/",
        "-o",
    ])
    .arg(&listed)
    .arg("s3://crawl/crawl-data/CC-TEST/warc.paths.gz");
    ok(c);
    assert_same_outputs(&reference, &listed);

    // A Parquet shard from S3 (read through a local copy: Parquet wants random access).
    let shard = std::fs::read(listed.join("sample-web-00000.parquet")).unwrap();
    server.put("/crawl/shards/sample-web-00000.parquet", &shard);
    let (local_x, remote_x) = (d.path().join("local-x"), d.path().join("remote-x"));
    run_ok(&[
        "extract",
        "-q",
        "-o",
        local_x.to_str().unwrap(),
        listed.join("sample-web-00000.parquet").to_str().unwrap(),
    ]);
    let mut c = sieve_s3(&server);
    c.args(["extract", "-q", "-o"])
        .arg(&remote_x)
        .arg("s3://crawl/shards/sample-web-00000.parquet");
    ok(c);
    assert_same_outputs(&local_x, &remote_x);

    // A glob and a prefix: other keys (so other shard names), the same documents.
    for (name, arg) in [
        (
            "glob",
            "s3://crawl/crawl-data/CC-TEST/segments/*/warc/*.warc.gz",
        ),
        ("prefix", "s3://crawl/crawl-data/CC-TEST/segments/"),
    ] {
        let out = d.path().join(name);
        let mut c = sieve_s3(&server);
        c.args(["warc", "-q", "--dataset", "web", "-o"])
            .arg(&out)
            .arg(arg);
        ok(c);
        assert_eq!(
            std::fs::read(out.join("stats.json")).unwrap(),
            std::fs::read(reference.join("stats.json")).unwrap(),
            "{name}"
        );
    }
    let f = server.faults(false);
    assert!(f["cuts"].as_u64().unwrap() >= 2, "no GET was cut: {f}");
    assert!(
        f["slowdowns"].as_u64().unwrap() >= 1,
        "no request was throttled: {f}"
    );

    // A missing object: a clear error naming it.
    let mut c = sieve_s3(&server);
    c.args(["warc", "-q", "--dataset", "web", "-o"])
        .arg(d.path().join("missing"))
        .arg("s3://crawl/nope/none.warc.gz");
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("s3://crawl/nope/none.warc.gz"), "{err}");

    // Publishing, signed, two requests at a time at most. A 20 MiB file goes multipart.
    let big: Vec<u8> = (0..20u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(listed.join("big.bin"), &big).unwrap();
    server.faults(true);
    let publish = |quiet: bool| {
        let mut c = sieve_s3(&server);
        c.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("SIEVE_S3_MAX_CONCURRENCY", "2")
            .arg("publish")
            .arg(&listed)
            .arg("s3://out/runs/one");
        if quiet {
            c.arg("-q");
        }
        ok(c)
    };
    publish(true);
    let f = server.faults(false);
    assert!(
        f["max_in_flight"].as_u64().unwrap() <= 2,
        "the cap was exceeded: {f}"
    );
    assert!(f["slowdowns"].as_u64().unwrap() >= 1, "{f}");
    // The order of the completed writes: data, then markers and stats, published.json last.
    let writes: Vec<(String, String, String)> = f["writes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            let s = |k: &str| w[k].as_str().unwrap().to_string();
            (s("method"), s("path"), s("query"))
        })
        .collect();
    let committed: Vec<&str> = writes
        .iter()
        .filter(|(m, _, q)| m == "PUT" && q.is_empty() || m == "POST" && q.starts_with("uploadId="))
        .map(|(_, p, _)| p.trim_start_matches("/out/runs/one/"))
        .collect();
    let commit_file = |p: &str| p.starts_with("done/") || p == "stats.json";
    let first_commit = committed.iter().position(|p| commit_file(p)).unwrap();
    assert!(
        committed[first_commit..]
            .iter()
            .all(|p| commit_file(p) || *p == "published.json"),
        "a data file after a marker: {committed:?}"
    );
    assert_eq!(committed.last(), Some(&"published.json"));
    assert!(
        writes
            .iter()
            .filter(|(_, p, q)| p.ends_with("big.bin") && q.starts_with("partNumber="))
            .count()
            == 3,
        "big.bin was not sent as three parts: {writes:?}"
    );
    // Every object is the local file, byte for byte, and listed with its sha256.
    let published: serde_json::Value =
        serde_json::from_slice(&server.get("/out/runs/one/published.json")).unwrap();
    let objects = published["objects"].as_object().unwrap();
    let local = crate::util::tree(&listed);
    assert_eq!(objects.len(), local.len());
    for (rel, bytes) in &local {
        assert!(objects.contains_key(rel), "{rel} not published");
        assert!(
            &server.get(&format!("/out/runs/one/{rel}")) == bytes,
            "{rel} differs"
        );
    }
    // Published again: nothing is sent.
    let err = publish(false);
    assert!(err.contains("0 sent"), "{err}");
}
