//! fastText models, loaded once per process and shared by every shard's stage (a model can be
//! hundreds of megabytes; stages are built once per input shard).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{anyhow, Result};

use super::fasttext_infer::SupervisedModel;

type Cache<T> = OnceLock<Mutex<HashMap<PathBuf, Arc<T>>>>;

/// Returns the model cached for `path`, loading it with `load` the first time.
fn cached<T>(
    cache: &'static Cache<T>,
    path: &Path,
    load: impl FnOnce() -> Result<T>,
) -> Result<Arc<T>> {
    let mut cache = cache
        .get_or_init(Default::default)
        .lock()
        .expect("model cache lock");
    if let Some(m) = cache.get(path) {
        return Ok(m.clone());
    }
    let model = Arc::new(load()?);
    cache.insert(path.to_path_buf(), model.clone());
    Ok(model)
}

/// Loads `path` with the C++ library, or returns the copy already loaded.
pub fn load_shared(path: &Path) -> Result<Arc<fasttext::FastText>> {
    static CACHE: Cache<fasttext::FastText> = OnceLock::new();
    cached(&CACHE, path, || {
        if !path.is_file() {
            return Err(anyhow!("fastText model {} does not exist", path.display()));
        }
        let mut model = fasttext::FastText::new();
        model
            .load_model(&path.to_string_lossy())
            .map_err(|e| anyhow!("cannot load fastText model {}: {e}", path.display()))?;
        Ok(model)
    })
}

/// Loads `path` with the Rust reader ([`SupervisedModel`]), or returns the copy already loaded.
pub fn load_supervised_shared(path: &Path) -> Result<Arc<SupervisedModel>> {
    static CACHE: Cache<SupervisedModel> = OnceLock::new();
    cached(&CACHE, path, || SupervisedModel::load(path))
}

/// A document as one fastText input line: fastText reads line by line, so line breaks (and
/// NULs, which end C strings) become spaces.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == '\n' || c == '\r' || c == '\0' {
                ' '
            } else {
                c
            }
        })
        .collect()
}
