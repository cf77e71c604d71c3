//! Streaming stages, one module each.

pub mod extract;
