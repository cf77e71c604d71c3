//! The safetensors format (an 8-byte little-endian header length, a JSON header naming each
//! tensor's dtype, shape and byte range, then the raw little-endian data), written and read
//! by hand: checkpoint shards and Hugging Face exports use it, and every reader of it checks
//! the header against the file before trusting a byte.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};

pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Writes f32 tensors (in the given order) with optional string metadata, atomically.
pub fn write(path: &Path, tensors: &[Tensor], metadata: &BTreeMap<String, String>) -> Result<()> {
    let mut header = serde_json::Map::new();
    if !metadata.is_empty() {
        header.insert("__metadata__".into(), serde_json::to_value(metadata)?);
    }
    let mut offset = 0usize;
    for t in tensors {
        let n: usize = t.shape.iter().product();
        if n != t.data.len() {
            bail!(
                "tensor {}: shape {:?} holds {n} values, not {}",
                t.name,
                t.shape,
                t.data.len()
            );
        }
        header.insert(
            t.name.clone(),
            serde_json::json!({"dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * n]}),
        );
        offset += 4 * n;
    }
    let mut head = serde_json::to_vec(&header)?;
    // Pad the header with spaces so the data starts 8-byte aligned.
    while (8 + head.len()) % 8 != 0 {
        head.push(b' ');
    }
    let mut bytes = Vec::with_capacity(8 + head.len() + offset);
    bytes.extend_from_slice(&(head.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&head);
    for t in tensors {
        for v in &t.data {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    sieve_shards::atomic::AtomicFile::write_all(path, &bytes)
}

/// Reads every F32 tensor of a file, with the metadata.
pub fn read(path: &Path) -> Result<(Vec<Tensor>, BTreeMap<String, String>)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let bad =
        |what: String| anyhow::anyhow!("{}: not a valid safetensors file: {what}", path.display());
    if bytes.len() < 8 {
        return Err(bad(format!("{} bytes", bytes.len())));
    }
    let hlen = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    if hlen > bytes.len() - 8 {
        return Err(bad(format!(
            "header of {hlen} bytes in a file of {}",
            bytes.len()
        )));
    }
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..8 + hlen]).map_err(|e| bad(format!("header: {e}")))?;
    let data = &bytes[8 + hlen..];
    let mut metadata = BTreeMap::new();
    let mut tensors = Vec::new();
    for (name, v) in header {
        if name == "__metadata__" {
            metadata = serde_json::from_value(v).map_err(|e| bad(format!("metadata: {e}")))?;
            continue;
        }
        let dtype = v["dtype"].as_str().unwrap_or("");
        if dtype != "F32" {
            return Err(bad(format!(
                "tensor {name} has dtype {dtype:?}, expected F32"
            )));
        }
        let shape: Vec<usize> = serde_json::from_value(v["shape"].clone())
            .map_err(|e| bad(format!("tensor {name} shape: {e}")))?;
        let offs: [usize; 2] = serde_json::from_value(v["data_offsets"].clone())
            .map_err(|e| bad(format!("tensor {name} offsets: {e}")))?;
        let n: usize = shape.iter().product();
        if offs[0] > offs[1] || offs[1] > data.len() || offs[1] - offs[0] != 4 * n {
            return Err(bad(format!(
                "tensor {name}: byte range {offs:?} does not hold shape {shape:?}"
            )));
        }
        let values = data[offs[0]..offs[1]]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        tensors.push(Tensor {
            name,
            shape,
            data: values,
        });
    }
    Ok((tensors, metadata))
}
