//! The trainer's integration tests, one binary (one link, one process per `cargo test`):
//! gradients against finite differences, the data against Megatron's indices, every parallel
//! layout against one rank, processes against threads, the end-to-end runs, the CUDA kernels'
//! compile check and the selftest.

mod common;
mod cuda_kernels;
mod dependencies;
mod evaluation;
mod gradcheck;
mod megatron_data;
mod multiprocess;
mod parallel;
mod selftest;
mod step_reference;
mod train_e2e;
mod training_card;
