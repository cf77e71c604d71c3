//! The formats and algorithms that sieve writes and its trainer reads, in a crate of their own
//! so that the trainer builds without the pipeline (Parquet, Arrow, S3, cld2, fastText):
//!
//! - [`indexed`]: Megatron's MMIDIDX `.bin/.idx` datasets, writer and reader;
//! - [`manifest`] and [`indices`]: the blend manifest, Megatron's split and blending rules;
//! - [`mt19937`]: numpy's `RandomState`, for Megatron's shuffles;
//! - [`digest`], [`atomic`], [`npy`]: sha256 of files, atomic writes, `.npy` arrays;
//! - [`tokenizer`]: GPT-2 (sieve's own encoder), cl100k, o200k and `tokenizer.json` files;
//! - [`rng`]: the seeded generators both sides use; [`testing`]: how tests skip.

pub mod atomic;
pub mod digest;
pub mod indexed;
pub mod indices;
pub mod manifest;
pub mod mt19937;
pub mod npy;
pub mod rng;
pub mod testing;
pub mod tokenizer;
