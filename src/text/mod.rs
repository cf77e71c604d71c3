//! Text utilities shared by stages: charset decisions, ...

pub mod charset;
pub mod repair;
pub mod spacy_en;
pub mod word_bytes;
