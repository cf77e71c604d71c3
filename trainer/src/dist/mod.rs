//! Communication: the collective trait and its implementations.

pub mod comm;

pub use comm::{Comm, ReduceOp, Solo};
