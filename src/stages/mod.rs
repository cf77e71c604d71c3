//! Streaming stages, one module each.

pub mod clean;
pub mod extract;
pub mod langid;
