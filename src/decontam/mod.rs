//! Downstream-task decontamination: Megatron-LM's n-gram algorithm (`filter_ngrams.py`), as
//! used for MT-NLG, exactly (`--compat megatron`) or with its quirks fixed (the default).
//!
//! 1. Task texts → an index of task n-grams ([`ngrams`]).
//! 2. Counting (map over shards): which task n-grams each document contains ([`cut::count`]);
//!    summed over all documents into document frequencies; n-grams found in 10 or more
//!    documents are common phrases, not contamination, and leave the index.
//! 3. Stripping (map over shards): each remaining n-gram found is cut out with 200 characters
//!    on each side ([`cut::strip`]).

pub mod cut;
pub mod ngrams;
pub mod options;
pub mod passes;
pub mod summary;
pub mod tasks;
pub mod words;

#[cfg(test)]
mod golden_tests;
