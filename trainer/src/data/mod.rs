//! Reading sieve's blends: Megatron's GPTDataset and BlendedDataset indices (numpy's
//! RandomState reproduced), the samples they select, and the resumable cursor.

pub mod blend_dir;
pub mod gpt_dataset;
pub mod samples;

pub use blend_dir::BlendDir;
pub use samples::{SampleSource, Split};
