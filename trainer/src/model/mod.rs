//! The GPT model: its shape, the layout of its parameters on each rank, initialisation, and
//! the explicit forward and backward.

pub mod config;
pub mod gpt;
pub mod init;
pub mod layout;

pub use config::GptConfig;
pub use gpt::{Activations, Gpt, GradsReady, Precision, Recompute};
pub use layout::{Layout, ModelShard, Split, TensorSpec};
