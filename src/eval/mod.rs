//! Evaluations against labelled data in `../shared/data/`.

pub mod extraction;
pub mod langid;
