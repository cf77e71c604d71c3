//! Communication: the collective trait and its implementations.

pub mod comm;
pub mod env;
pub mod grid;
pub mod nccl_id;
pub mod tcp;
pub mod thread_comm;
pub mod watchdog;

pub use comm::{Comm, ReduceOp, Solo};
pub use thread_comm::{ThreadComm, ThreadGroup};
