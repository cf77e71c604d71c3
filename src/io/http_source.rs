//! An HTTP(S) body as a `Read` that survives dropped connections.
//!
//! Downloading a 1 GB WARC from a busy server fails part-way often enough that a pipeline must
//! not restart the file: on a dropped connection, a short body or a retryable status (429, 5xx)
//! the reader waits (exponential backoff with jitter) and asks for the rest with a `Range`
//! request. A server that ignores `Range` is handled by skipping the bytes already delivered.

use std::io::{self, Read};
use std::time::Duration;

/// How often and how patiently to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts without progress before giving up.
    pub max_retries: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 8,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Delay before retry number `attempt` (1-based): base × 2^(attempt-1), capped, times a
    /// jitter factor in [0.5, 1.5) so that many tasks hitting one server spread out.
    pub fn delay(&self, attempt: u32, jitter_seed: u64) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << (attempt.saturating_sub(1)).min(20));
        let capped = exp.min(self.max_delay);
        let unit = (splitmix64(jitter_seed) >> 11) as f64 / (1u64 << 53) as f64;
        capped.mul_f64(0.5 + unit)
    }
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d049bb133111eb);
    x ^ (x >> 31)
}

/// A resumable HTTP GET.
pub struct HttpReader {
    agent: ureq::Agent,
    url: String,
    policy: RetryPolicy,
    /// Bytes delivered to the caller so far.
    pos: u64,
    /// Total length when the server told us.
    total: Option<u64>,
    body: Option<Box<dyn Read + Send>>,
    /// Failed attempts since the last byte was delivered.
    failures: u32,
    /// Number of reconnections over the whole download (for stats and tests).
    pub resumptions: u32,
}

enum Connect {
    Body(Box<dyn Read + Send>),
    /// The requested range starts at the end of the file.
    AtEnd,
}

impl HttpReader {
    pub fn open(url: &str, policy: RetryPolicy) -> io::Result<HttpReader> {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_recv_body(None)
            .http_status_as_error(false)
            .user_agent(concat!("sieve/", env!("CARGO_PKG_VERSION")))
            .build();
        let mut reader = HttpReader {
            agent: config.into(),
            url: url.to_string(),
            policy,
            pos: 0,
            total: None,
            body: None,
            failures: 0,
            resumptions: 0,
        };
        // Connect eagerly so that a missing file is reported when the input is opened.
        reader.reconnect()?;
        Ok(reader)
    }

    fn connect_once(&mut self) -> Result<Connect, (bool, io::Error)> {
        let mut request = self.agent.get(&self.url);
        if self.pos > 0 {
            request = request.header("Range", &format!("bytes={}-", self.pos));
        }
        let response = request
            .call()
            .map_err(|e| (true, io::Error::other(format!("{}: {e}", self.url))))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        match status {
            200 => {
                if let Some(len) = header("content-length").and_then(|v| v.parse().ok()) {
                    self.total = Some(len);
                }
                let mut body: Box<dyn Read + Send> = Box::new(response.into_body().into_reader());
                if self.pos > 0 {
                    // The server ignored Range: skip what the caller already has.
                    let skipped = io::copy(&mut (&mut body).take(self.pos), &mut io::sink())
                        .map_err(|e| (true, e))?;
                    if skipped < self.pos {
                        return Err((true, io::Error::other("connection dropped while skipping")));
                    }
                }
                Ok(Connect::Body(body))
            }
            206 => {
                // Content-Range: bytes START-END/TOTAL
                let range = header("content-range").unwrap_or_default();
                let start = range
                    .trim_start_matches("bytes ")
                    .split('-')
                    .next()
                    .and_then(|s| s.trim().parse::<u64>().ok());
                if start != Some(self.pos) {
                    return Err((
                        false,
                        io::Error::other(format!(
                            "{}: asked for bytes from {}, server answered `{range}`",
                            self.url, self.pos
                        )),
                    ));
                }
                if let Some(total) = range.rsplit('/').next().and_then(|t| t.parse().ok()) {
                    self.total = Some(total);
                }
                Ok(Connect::Body(Box::new(response.into_body().into_reader())))
            }
            416 if self.total == Some(self.pos) => Ok(Connect::AtEnd),
            429 | 500..=599 => Err((
                true,
                io::Error::other(format!("{}: HTTP {status}", self.url)),
            )),
            404 | 410 => Err((
                false,
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{}: HTTP {status}", self.url),
                ),
            )),
            _ => Err((
                false,
                io::Error::other(format!("{}: HTTP {status}", self.url)),
            )),
        }
    }

    /// Connects (again), retrying with backoff. Leaves `body` set, or `None` at end of file.
    fn reconnect(&mut self) -> io::Result<()> {
        loop {
            match self.connect_once() {
                Ok(Connect::Body(body)) => {
                    self.body = Some(body);
                    return Ok(());
                }
                Ok(Connect::AtEnd) => {
                    self.body = None;
                    return Ok(());
                }
                Err((retryable, e)) => self.back_off(retryable, e)?,
            }
        }
    }

    fn back_off(&mut self, retryable: bool, e: io::Error) -> io::Result<()> {
        self.failures += 1;
        if !retryable || self.failures > self.policy.max_retries {
            return Err(io::Error::new(
                e.kind(),
                format!("{e} (after {} attempts)", self.failures),
            ));
        }
        let seed = self.pos ^ (u64::from(self.failures) << 48) ^ std::process::id() as u64;
        std::thread::sleep(self.policy.delay(self.failures, seed));
        Ok(())
    }

    fn finished(&self) -> bool {
        self.total.is_some_and(|t| self.pos >= t)
    }
}

impl Read for HttpReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let Some(body) = self.body.as_mut() else {
                if self.finished() || self.pos == 0 && self.total.is_none() {
                    return Ok(0);
                }
                self.resumptions += 1;
                self.reconnect()?;
                if self.body.is_none() {
                    return Ok(0);
                }
                continue;
            };
            match body.read(buf) {
                Ok(0) if self.total.is_none() || self.finished() => return Ok(0),
                Ok(0) => {
                    // Short body: the connection dropped before Content-Length was reached.
                    self.body = None;
                    let e = io::Error::new(io::ErrorKind::UnexpectedEof, "body ended early");
                    self.back_off(true, e)?;
                }
                Ok(n) => {
                    self.pos += n as u64;
                    self.failures = 0;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.body = None;
                    self.back_off(true, e)?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_within_jitter_bounds() {
        let p = RetryPolicy {
            max_retries: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        };
        for seed in 0..50 {
            let d1 = p.delay(1, seed).as_secs_f64();
            let d3 = p.delay(3, seed).as_secs_f64();
            let d9 = p.delay(9, seed).as_secs_f64();
            assert!((0.05..0.15).contains(&d1), "{d1}");
            assert!((0.2..0.6).contains(&d3), "{d3}");
            assert!((1.0..3.0).contains(&d9), "{d9}");
        }
        assert_ne!(p.delay(2, 1), p.delay(2, 2));
    }

    /// A server that answers every request with 503: the reader tries once, retries
    /// `max_retries` times, then gives up with an error that says how often it tried.
    #[test]
    fn gives_up_after_the_maximum_retries() {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { break };
                let mut line = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                seen.fetch_add(1, Ordering::SeqCst);
                let _ = stream.write_all(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        let policy = RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        };
        let url = format!("http://127.0.0.1:{port}/f.warc.gz");
        let err = match HttpReader::open(&url, policy) {
            Ok(mut r) => r.read_to_end(&mut Vec::new()).unwrap_err(),
            Err(e) => e,
        };
        assert!(err.to_string().contains("after 4 attempts"), "{err}");
        assert_eq!(requests.load(Ordering::SeqCst), 4);
    }
}
