//! Blending: tokenized datasets mixed by weight into Megatron shards, with Megatron's split
//! and greedy blending rule reproduced exactly (see `indices`).

pub mod build;
pub use sieve_shards::indices;
pub mod manifest;
pub mod options;
pub mod source;
pub mod spec;
