//! Reading and writing: compressed streams, WARC records, HTTP payloads, document shards,
//! and input locations (local paths, globs, Common Crawl listings, HTTP URLs).

pub mod compression;
pub use sieve_shards::digest;
pub mod http_payload;
pub mod http_source;
pub use sieve_shards::indexed;
pub mod inflate;
pub use sieve_shards::npy;
pub mod s3;
pub mod shards;
pub mod source;
pub mod warc;
