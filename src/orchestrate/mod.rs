//! Orchestration: a pipeline spec as ordered steps of independent tasks, run on one machine
//! (with a ledger `sieve status` reads) or submitted to Slurm. It sits above everything it
//! runs: the streaming stages (`pipeline`, `stages`), the global stages (`dedup`, `decontam`),
//! the token steps (`tokenize`, `blend`) and the data card (`report`); nothing below imports it.

pub mod ledger;
pub mod plan;
pub mod slurm;
