//! sieve-train: the companion GPT trainer of sieve. It reads the Megatron shards and blends
//! that `sieve blend` writes and trains a GPT-2-style decoder the way Megatron-LM does
//! (tensor, pipeline and data parallelism), with explicit forward and backward passes over
//! flat buffers behind a [`backend::Backend`] trait.

pub mod backend;
pub mod card;
pub mod ckpt;
pub mod cli;
pub mod data;
pub mod dist;
pub mod export;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod parallel;
pub mod safetensors;
pub mod selftest;
pub mod train;
