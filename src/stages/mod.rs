//! Streaming stages, one module each.

pub mod extract;
pub mod langid;
