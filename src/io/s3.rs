//! `s3://bucket/key` inputs and outputs through the `object_store` crate.
//!
//! - Endpoint, region and credentials come from the usual AWS variables (`AWS_ENDPOINT_URL`,
//!   `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, web
//!   identity, ...). With no credentials in the environment, requests are anonymous (public
//!   buckets); `SIEVE_S3_INSTANCE_ROLE=1` asks the instance metadata service instead.
//! - Every request retries throttling (`SlowDown`, 503), server errors and failed connections
//!   with exponential backoff and jitter (object_store's retry); a body cut mid-object is asked
//!   for again from where it stopped (here), so a dropped connection costs one chunk.
//! - Requests to one host run at most `SIEVE_S3_MAX_CONCURRENCY` (default 16) at a time per
//!   process, whatever the number of threads, so that thousands of Slurm tasks do not
//!   multiply their retries into a throttling storm.
//! - Uploads of large files are multipart; an object appears only when its upload completes,
//!   and each carries its sha256 so that a repeated upload of the same bytes is skipped.

use std::collections::HashMap;
use std::io::{self, Read};
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, Attributes, BackoffConfig, GetOptions, GetRange, ObjectStore, PutOptions,
    PutPayload, RetryConfig,
};
use tokio::sync::Semaphore;

use super::http_source::RetryPolicy;

/// Bytes fetched per ranged GET when reading (and the part size of multipart uploads).
pub const CHUNK: u64 = 8 << 20;

/// Metadata key holding an uploaded object's sha256.
const SHA256_KEY: &str = "sha256";

pub fn is_s3(s: &str) -> bool {
    s.starts_with("s3://")
}

/// `s3://bucket/key` split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub key: String,
}

impl S3Url {
    pub fn parse(url: &str) -> Result<S3Url> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| anyhow!("{url}: not an s3:// URL"))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            bail!("{url}: no bucket name");
        }
        Ok(S3Url {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// `key` joined under this URL as under a directory.
    pub fn join(&self, rel: &str) -> S3Url {
        let base = self.key.trim_end_matches('/');
        let rel = rel.trim_start_matches('/');
        S3Url {
            bucket: self.bucket.clone(),
            key: if base.is_empty() {
                rel.to_string()
            } else {
                format!("{base}/{rel}")
            },
        }
    }

    fn path(&self) -> ObjectPath {
        ObjectPath::from(self.key.as_str())
    }
}

/// The runtime the blocking readers and writers drive object_store's futures on.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sieve-s3")
            .enable_all()
            .build()
            .expect("cannot start the I/O runtime")
    })
}

/// A bucket's store and the request cap of its host.
struct Bucket {
    store: Arc<dyn ObjectStore>,
    limit: Arc<Semaphore>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn has_credentials() -> bool {
    [
        "AWS_ACCESS_KEY_ID",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ]
    .iter()
    .any(|v| env(v).is_some())
        || env("SIEVE_S3_INSTANCE_ROLE").is_some_and(|v| v != "0")
}

/// The host requests for `bucket` go to: the endpoint's, or the bucket's virtual host.
fn host_of(bucket: &str) -> String {
    match endpoint() {
        Some(e) => e
            .split("://")
            .nth(1)
            .unwrap_or(&e)
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string(),
        None => format!("{bucket}.s3.amazonaws.com"),
    }
}

fn endpoint() -> Option<String> {
    env("AWS_ENDPOINT_URL_S3")
        .or_else(|| env("AWS_ENDPOINT_URL"))
        .or_else(|| env("AWS_ENDPOINT"))
}

/// The store of `bucket`, built once per process.
fn bucket(name: &str) -> Result<Arc<Bucket>> {
    static BUCKETS: OnceLock<Mutex<HashMap<String, Arc<Bucket>>>> = OnceLock::new();
    static HOSTS: OnceLock<Mutex<HashMap<String, Arc<Semaphore>>>> = OnceLock::new();
    let mut buckets = BUCKETS.get_or_init(Default::default).lock().unwrap();
    if let Some(b) = buckets.get(name) {
        return Ok(b.clone());
    }
    // object_store's TLS goes through rustls; sieve's rustls has the ring provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(name)
        .with_retry(RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(20),
                base: 2.0,
            },
            max_retries: 10,
            retry_timeout: Duration::from_secs(300),
        });
    if env("AWS_REGION").is_none() && env("AWS_DEFAULT_REGION").is_none() {
        // Common Crawl's bucket, and the region AWS assumes for unnamed ones.
        builder = builder.with_region("us-east-1");
    } else if let Some(region) = env("AWS_REGION") {
        builder = builder.with_region(region);
    }
    if let Some(e) = endpoint() {
        builder = builder
            .with_allow_http(e.starts_with("http://"))
            .with_endpoint(e);
    }
    if !has_credentials() {
        builder = builder.with_skip_signature(true);
    }
    let store = builder
        .build()
        .with_context(|| format!("cannot configure S3 for bucket {name}"))?;
    let cap = env("SIEVE_S3_MAX_CONCURRENCY")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(16);
    let limit = HOSTS
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(host_of(name))
        .or_insert_with(|| Arc::new(Semaphore::new(cap)))
        .clone();
    let b = Arc::new(Bucket {
        store: Arc::new(store),
        limit,
    });
    buckets.insert(name.to_string(), b.clone());
    Ok(b)
}

/// Whether an object exists at exactly this key: a one-byte GET (public buckets allow
/// anonymous GETs, not always HEADs), else, for an empty object, its parent's listing.
pub fn exists(url: &S3Url) -> Result<bool> {
    let b = bucket(&url.bucket)?;
    match runtime().block_on(fetch(b, url.path(), 0..1)) {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(_) => Ok(listed_size(url)?.is_some()),
    }
}

/// An object's size as its parent "directory" lists it (None: not there).
fn listed_size(url: &S3Url) -> Result<Option<u64>> {
    let parent = url.key.rfind('/').map_or("", |i| &url.key[..i]);
    let dir = S3Url {
        bucket: url.bucket.clone(),
        key: parent.to_string(),
    };
    Ok(list(&dir)?
        .into_iter()
        .find(|(o, _)| o.key == url.key)
        .map(|(_, size)| size))
}

fn is_not_found(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<object_store::Error>(),
            Some(object_store::Error::NotFound { .. })
        )
    })
}

/// Every object under `prefix` (a "directory" key or any key prefix): (URL, size), sorted.
pub fn list(prefix: &S3Url) -> Result<Vec<(S3Url, u64)>> {
    let b = bucket(&prefix.bucket)?;
    let key = prefix.key.trim_end_matches('/');
    let path = (!key.is_empty()).then(|| ObjectPath::from(key));
    let mut found = runtime()
        .block_on(async {
            let _permit = b.limit.acquire().await?;
            let mut stream = b.store.list(path.as_ref());
            let mut found = Vec::new();
            while let Some(meta) = stream.next().await {
                let meta = meta?;
                found.push((
                    S3Url {
                        bucket: prefix.bucket.clone(),
                        key: meta.location.to_string(),
                    },
                    meta.size,
                ));
            }
            anyhow::Ok(found)
        })
        .with_context(|| format!("cannot list {}", prefix.url()))?;
    found.sort_by(|a, b| a.0.key.cmp(&b.0.key));
    Ok(found)
}

/// Fetches `range` of an object (clipped to its end) and the object's size; a body cut off
/// part-way is an error (the caller asks again).
async fn fetch(b: Arc<Bucket>, path: ObjectPath, range: Range<u64>) -> Result<(bytes::Bytes, u64)> {
    let _permit = b.limit.acquire().await?;
    let options = GetOptions {
        range: Some(GetRange::Bounded(range.clone())),
        ..Default::default()
    };
    let result = b.store.get_opts(&path, options).await?;
    let size = result.meta.size;
    let got = result.bytes().await?;
    let want = range.end.min(size).saturating_sub(range.start);
    if got.len() as u64 != want {
        bail!("short body: {} of {want} bytes", got.len());
    }
    Ok((got, size))
}

/// An object as a `Read`: ranged GETs of [`CHUNK`] bytes, the next one fetched while the
/// current one is consumed, each retried on a dropped connection.
pub struct S3Reader {
    url: S3Url,
    bucket: Arc<Bucket>,
    size: u64,
    /// Start of `current` in the object.
    offset: u64,
    current: bytes::Bytes,
    pos_in_current: usize,
    next: Option<tokio::task::JoinHandle<Result<(bytes::Bytes, u64)>>>,
    policy: RetryPolicy,
    /// Chunks fetched again after a failure (for tests and logs).
    pub refetches: u32,
}

impl S3Reader {
    /// Opens an object, fetching its first chunk (which also tells its size), so that a
    /// missing object is reported here.
    pub fn open(url: &S3Url) -> Result<S3Reader> {
        let mut r = S3Reader {
            url: url.clone(),
            bucket: bucket(&url.bucket)?,
            size: CHUNK,
            offset: 0,
            current: bytes::Bytes::new(),
            pos_in_current: 0,
            next: None,
            policy: RetryPolicy::default(),
            refetches: 0,
        };
        r.advance()?;
        Ok(r)
    }

    fn chunk_range(&self, start: u64) -> Option<Range<u64>> {
        (start < self.size).then(|| start..(start + CHUNK).min(self.size))
    }

    fn prefetch(&mut self, start: u64) {
        self.next = self
            .chunk_range(start)
            .map(|range| runtime().spawn(fetch(self.bucket.clone(), self.url.path(), range)));
    }

    /// Moves to the chunk after `current`; false at the end of the object.
    fn advance(&mut self) -> io::Result<bool> {
        let start = self.offset + self.current.len() as u64;
        let Some(range) = self.chunk_range(start) else {
            return Ok(false);
        };
        let mut attempt = 0u32;
        let mut pending = self.next.take();
        let chunk = loop {
            let result = match pending.take() {
                Some(handle) => runtime()
                    .block_on(handle)
                    .unwrap_or_else(|e| Err(anyhow!("fetch task failed: {e}"))),
                None => {
                    runtime().block_on(fetch(self.bucket.clone(), self.url.path(), range.clone()))
                }
            };
            match result {
                Ok((bytes, size)) => {
                    self.size = size;
                    break bytes;
                }
                Err(e) => {
                    attempt += 1;
                    if attempt > self.policy.max_retries {
                        return Err(io::Error::other(format!(
                            "{}: bytes {}..{}: {e:#} (after {attempt} attempts)",
                            self.url.url(),
                            range.start,
                            range.end
                        )));
                    }
                    if is_not_found(&e) {
                        return Err(io::Error::new(
                            io::ErrorKind::NotFound,
                            format!("{}: no such object", self.url.url()),
                        ));
                    }
                    // An empty object has no byte range to ask for: tell it by its listing.
                    if start == 0
                        && attempt == 1
                        && listed_size(&self.url).ok().flatten() == Some(0)
                    {
                        self.size = 0;
                        return Ok(false);
                    }
                    self.refetches += 1;
                    let seed = range.start ^ u64::from(attempt) << 48 ^ std::process::id() as u64;
                    std::thread::sleep(self.policy.delay(attempt, seed));
                }
            }
        };
        self.offset = start;
        self.current = chunk;
        if self.current.is_empty() {
            return Ok(false);
        }
        self.pos_in_current = 0;
        self.prefetch(range.end);
        Ok(true)
    }
}

impl Read for S3Reader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.pos_in_current == self.current.len() {
            if !self.advance()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.current.len() - self.pos_in_current);
        buf[..n].copy_from_slice(&self.current[self.pos_in_current..self.pos_in_current + n]);
        self.pos_in_current += n;
        Ok(n)
    }
}

/// Sends a file as the parts of a multipart upload, [`CHUNK`] bytes each, at most four in
/// flight, each request holding a permit of the host's cap.
async fn upload_parts(
    b: &Bucket,
    upload: &mut dyn object_store::MultipartUpload,
    local: &Path,
) -> Result<()> {
    let mut file = std::fs::File::open(local)?;
    let mut in_flight = std::collections::VecDeque::new();
    loop {
        let mut part = Vec::with_capacity(CHUNK as usize);
        (&mut file).take(CHUNK).read_to_end(&mut part)?;
        if part.is_empty() {
            break;
        }
        let send = upload.put_part(PutPayload::from(part));
        let limit = b.limit.clone();
        in_flight.push_back(runtime().spawn(async move {
            let _permit = limit.acquire_owned().await?;
            send.await.map_err(anyhow::Error::from)
        }));
        if in_flight.len() >= 4 {
            in_flight.pop_front().unwrap().await??;
        }
    }
    for sent in in_flight {
        sent.await??;
    }
    Ok(())
}

/// The sha256 an object was uploaded with, if it has one (a HEAD request).
async fn stored_sha256(b: &Bucket, path: &ObjectPath) -> Result<Option<(u64, String)>> {
    let _permit = b.limit.acquire().await?;
    let options = GetOptions {
        head: true,
        ..Default::default()
    };
    match b.store.get_opts(path, options).await {
        Ok(r) => Ok(r
            .attributes
            .get(&Attribute::Metadata(SHA256_KEY.into()))
            .map(|v| (r.meta.size, v.to_string()))),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Uploads a local file to `dest` unless an object with the same size and sha256 is there.
/// Returns whether it uploaded, and the file's size and sha256. The object appears only once complete (a single PUT, or a
/// multipart upload's completion).
pub fn upload_file(local: &Path, dest: &S3Url) -> Result<(bool, super::digest::FileDigest)> {
    let digest = super::digest::digest_file(local)?;
    let (size, sha) = (digest.bytes, digest.sha256.clone());
    let b = bucket(&dest.bucket)?;
    let path = dest.path();
    runtime()
        .block_on(async {
            if stored_sha256(&b, &path).await? == Some((size, sha.clone())) {
                return anyhow::Ok(false);
            }
            let mut attributes = Attributes::new();
            attributes.insert(Attribute::Metadata(SHA256_KEY.into()), sha.into());
            if size <= CHUNK {
                let options = PutOptions {
                    attributes,
                    ..Default::default()
                };
                let bytes = std::fs::read(local)?;
                let _permit = b.limit.acquire().await?;
                b.store
                    .put_opts(&path, PutPayload::from(bytes), options)
                    .await?;
                return Ok(true);
            }
            let mut upload = {
                let _permit = b.limit.acquire().await?;
                b.store.put_multipart_opts(&path, attributes.into()).await?
            };
            match upload_parts(&b, upload.as_mut(), local).await {
                Ok(()) => {
                    let _permit = b.limit.acquire().await?;
                    upload.complete().await?;
                }
                Err(e) => {
                    // Parts of an abandoned upload cost storage until aborted.
                    let _ = upload.abort().await;
                    return Err(e);
                }
            }
            Ok(true)
        })
        .with_context(|| format!("cannot upload {} to {}", local.display(), dest.url()))
        .map(|uploaded| (uploaded, digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_bucket_and_key() {
        let u = S3Url::parse("s3://commoncrawl/crawl-data/CC-MAIN-2024-10/warc.paths.gz").unwrap();
        assert_eq!(u.bucket, "commoncrawl");
        assert_eq!(u.key, "crawl-data/CC-MAIN-2024-10/warc.paths.gz");
        assert_eq!(
            S3Url::parse("s3://commoncrawl/")
                .unwrap()
                .join("/crawl-data/x.warc.gz")
                .url(),
            "s3://commoncrawl/crawl-data/x.warc.gz"
        );
        assert_eq!(
            S3Url::parse("s3://b").unwrap().join("a/b").url(),
            "s3://b/a/b"
        );
        assert!(S3Url::parse("s3:///key").is_err());
        assert!(S3Url::parse("https://x/y").is_err());
    }
}
