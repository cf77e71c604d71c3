//! The TOML files users write: pipeline specs, blend specs and task sets.

use crate::blend::spec::BlendSpec;
use crate::decontam::tasks::load_task_file;
use crate::pipeline::spec::PipelineSpec;

/// Arbitrary bytes as a pipeline spec, a blend spec and a task file: each loads or is refused
/// with an error that names the file, never a panic. (Planning a pipeline's jobs resolves
/// its inputs, which may list directories or buckets: I/O, not parsing, so not fuzzed.)
pub fn toml_specs(data: &[u8]) {
    let path = super::scratch_file("spec.toml", data);
    let named = |e: &anyhow::Error| {
        let m = format!("{e:#}");
        assert!(
            m.contains("spec.toml"),
            "an error that does not name the file: {m}"
        );
    };
    match PipelineSpec::load(&path) {
        Ok(spec) => {
            let _ = spec.output_dir();
        }
        Err(e) => named(&e),
    }
    if let Err(e) = BlendSpec::load(&path) {
        named(&e);
    }
    if let Err(e) = load_task_file(&path) {
        named(&e);
    }
}
