//! Pipeline parallelism: the schedule as data, and the executor that runs one stage's part.

pub mod p2p_groups;
pub mod pipeline;
pub mod schedule;
