//! Evaluations against labelled data in `../shared/data/`.

pub mod dedup;
pub mod extraction;
pub mod extraction_rules;
pub mod langid;
