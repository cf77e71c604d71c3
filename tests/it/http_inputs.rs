//! http(s) inputs against a local server started by the test: plain downloads, a server that
//! drops the connection mid-file (resumed with Range), transient 503s, a server that ignores
//! Range, and a Common Crawl style `warc.paths` listing with a base URL.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::util::{assert_same_outputs, run_ok, sample_web, tree};

#[derive(Clone, Copy)]
enum Misbehaviour {
    None,
    /// The first response for each file stops after this many body bytes.
    DropAfter(usize),
    /// The first N requests get 503.
    Unavailable(usize),
    /// Range is ignored (always 200 with the whole file), and the first response drops.
    IgnoreRangeAndDrop(usize),
}

struct Server {
    port: u16,
    requests: Arc<AtomicUsize>,
}

/// Serves files from `root` until the test ends.
fn serve(root: std::path::PathBuf, how: Misbehaviour) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let root = root.clone();
            std::thread::spawn(move || handle(stream, &root, how, n));
        }
    });
    Server { port, requests }
}

fn handle(mut stream: TcpStream, root: &std::path::Path, how: Misbehaviour, n: usize) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let mut range_start = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("range: bytes=") {
            range_start = v.trim().trim_end_matches('-').parse::<usize>().ok();
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .trim_start_matches('/');
    if let Misbehaviour::Unavailable(k) = how {
        if n < k {
            let _ = stream.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return;
        }
    }
    let Ok(mut body) = std::fs::read(root.join(path)) else {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    let total = body.len();
    let ignore_range = matches!(how, Misbehaviour::IgnoreRangeAndDrop(_));
    let head = match range_start {
        Some(s) if !ignore_range => {
            body = body[s.min(total)..].to_vec();
            format!("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {s}-{}/{total}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", total - 1, body.len())
        }
        _ => format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n"),
    };
    let _ = stream.write_all(head.as_bytes());
    let drop_after = match how {
        Misbehaviour::DropAfter(k) | Misbehaviour::IgnoreRangeAndDrop(k)
            if range_start.is_none() =>
        {
            Some(k)
        }
        _ => None,
    };
    match drop_after {
        Some(k) => {
            let _ = stream.write_all(&body[..k.min(body.len())]);
            let _ = stream.flush();
            // Close without sending the rest: the client sees a short body.
        }
        None => {
            let _ = stream.write_all(&body);
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let mut sink = Vec::new();
    let _ = reader.read_to_end(&mut sink);
}

fn local_reference(dir: &std::path::Path) -> std::path::PathBuf {
    let out = dir.join("local");
    crate::util::warc_sample_into(&out);
    out
}

fn url(s: &Server, file: &str) -> String {
    format!("http://127.0.0.1:{}/{file}", s.port)
}

#[test]
fn downloads_equal_local_reads_even_when_the_connection_drops() {
    let d = tempfile::tempdir().unwrap();
    let reference = local_reference(d.path());
    for (name, how) in [
        ("plain", Misbehaviour::None),
        ("dropped", Misbehaviour::DropAfter(100_000)),
        ("unavailable", Misbehaviour::Unavailable(2)),
        ("no-range", Misbehaviour::IgnoreRangeAndDrop(150_000)),
    ] {
        let server = serve(sample_web(), how);
        let out = d.path().join(name);
        run_ok(&[
            "warc",
            "-q",
            "--output",
            out.to_str().unwrap(),
            &url(&server, "sample-web-00000.warc.gz"),
            &url(&server, "sample-web-00001.warc.gz"),
        ]);
        assert_same_outputs(&reference, &out);
        let requests = server.requests.load(Ordering::SeqCst);
        match how {
            Misbehaviour::None => assert_eq!(requests, 2, "{name}"),
            _ => assert!(
                requests > 2,
                "{name}: the misbehaviour was not exercised ({requests} requests)"
            ),
        }
    }
}

#[test]
fn a_paths_listing_expands_against_the_base_url() {
    let d = tempfile::tempdir().unwrap();
    let reference = local_reference(d.path());
    let served = d.path().join("served/crawl-data/SAMPLE/warc");
    std::fs::create_dir_all(&served).unwrap();
    for f in ["sample-web-00000.warc.gz", "sample-web-00001.warc.gz"] {
        std::fs::copy(sample_web().join(f), served.join(f)).unwrap();
    }
    let listing = "crawl-data/SAMPLE/warc/sample-web-00000.warc.gz\ncrawl-data/SAMPLE/warc/sample-web-00001.warc.gz\n";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(listing.as_bytes()).unwrap();
    std::fs::write(d.path().join("served/warc.paths.gz"), gz.finish().unwrap()).unwrap();
    let server = serve(d.path().join("served"), Misbehaviour::None);
    let base = format!("http://127.0.0.1:{}/", server.port);

    // The listing itself from a local file and from the server.
    for (name, listing_arg) in [
        (
            "from-file",
            d.path()
                .join("served/warc.paths.gz")
                .to_string_lossy()
                .into_owned(),
        ),
        ("from-url", url(&server, "warc.paths.gz")),
    ] {
        let out = d.path().join(name);
        run_ok(&[
            "warc",
            "-q",
            "--base-url",
            &base,
            "--output",
            out.to_str().unwrap(),
            &listing_arg,
        ]);
        assert_same_outputs(&reference, &out);
    }
    assert!(!tree(&reference).is_empty());
}

#[test]
fn a_missing_url_fails_that_input_only() {
    let d = tempfile::tempdir().unwrap();
    let server = serve(sample_web(), Misbehaviour::None);
    let out = d.path().join("o");
    let o = crate::util::run_expect(
        &[
            "warc",
            "-q",
            "--output",
            out.to_str().unwrap(),
            &url(&server, "missing.warc.gz"),
            &url(&server, "sample-web-00000.warc.gz"),
        ],
        2,
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("missing.warc.gz") && stderr.contains("404"),
        "{stderr}"
    );
    assert!(out.join("done/sample-web-00000").exists());
    assert!(!out.join("done/missing").exists());
}
