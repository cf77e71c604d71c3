//! Integration tests: one binary, one module per area. See `util` for the harness.

mod cli_runs;
mod crash_resume;
mod decontam;
mod dedup;
mod dedup_index;
mod docs_claims;
mod extract_outputs;
mod filters;
mod fuzz_cases;
mod http_inputs;
mod malformed_inputs;
mod malformed_warcs;
mod options;
mod paragraph_dedup;
mod parquet_pyarrow;
mod recipe;
mod report;
mod s3;
mod settings;
mod shared_warcs;
mod slurm;
mod status;
mod svg_chart;
mod text_stages;
mod tokenize_blend;
mod util;
