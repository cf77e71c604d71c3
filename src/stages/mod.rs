//! Streaming stages, one module each.

pub mod blend;
pub mod clean;
pub mod decontam;
pub mod dedup;
pub mod extract;
pub mod fasttext_infer;
pub mod fasttext_model;
pub mod fasttext_tree;
pub mod filters;
pub mod langid;
pub mod paragraph_dedup;
pub mod quality;
pub mod registry;
pub mod tokenize;
