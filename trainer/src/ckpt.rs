//! Checkpoints: one directory per saved iteration, written like every sieve output (under a
//! temporary name, renamed when complete, `latest` updated last), holding
//!
//! * `config.json`: the training configuration and the data it was trained on;
//! * `model_tp{t}_pp{p}.safetensors`: each tensor/pipeline shard's parameters;
//! * `optim_tp{t}_pp{p}_dp{d}.safetensors`: each data-parallel rank's AdamW moments;
//! * `state.json`: step, data cursor and the sha256 of every file above.
//!
//! Loading refuses a checkpoint whose files are missing, altered or truncated, or whose
//! configuration disagrees with the run's, and says which file and which field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sieve_shards::digest::digest_file;
use sieve_shards::tokenizer::TokenizerInfo;

use crate::backend::{Backend, BackendExt};
use crate::dist::Comm;
use crate::model::{GptConfig, Layout, ModelShard, Split};
use crate::safetensors::{self, Tensor};
use crate::train::{TrainConfig, Trainer};
use sieve_shards::atomic::AtomicFile;

pub const FORMAT: &str = "sieve-train-checkpoint-1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointConfig {
    pub format: String,
    pub train: TrainConfig,
    /// The blend's `config_sha256`, so a resume on other data is refused.
    pub data_sha256: Option<String>,
    pub tokenizer: Option<TokenizerInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    pub step: u64,
    pub consumed: u64,
    /// Validation samples evaluated so far (Megatron's `consumed_valid_samples`); absent in
    /// checkpoints written before evaluations walked the validation set.
    #[serde(default)]
    pub consumed_valid: u64,
    pub files: BTreeMap<String, String>,
}

pub fn iteration_dir(save: &Path, step: u64) -> PathBuf {
    save.join(format!("iter_{step:07}"))
}

fn model_file(s: ModelShard) -> String {
    format!("model_tp{}_pp{}.safetensors", s.tp_rank, s.pp_rank)
}

fn optim_file(s: ModelShard, dp_rank: usize) -> String {
    format!(
        "optim_tp{}_pp{}_dp{dp_rank}.safetensors",
        s.tp_rank, s.pp_rank
    )
}

fn tensors_of(layout: &Layout, buf: &[f32], prefix: &str) -> Vec<Tensor> {
    layout
        .tensors
        .iter()
        .map(|t| Tensor {
            name: format!("{prefix}{}", t.name),
            shape: t.local.to_vec(),
            data: buf[t.range()].to_vec(),
        })
        .collect()
}

/// Saves the run at its current step. Every rank of the run calls it (`world` is the group of
/// all ranks; a single process passes [`Solo`]): rank 0 prepares the directory, each rank
/// writes its own shards (the parameters once per tensor/pipeline shard, the optimiser state
/// per data-parallel rank), and rank 0 records the checksums and commits.
pub fn save<B: Backend<F = f32>>(
    trainer: &Trainer<B>,
    save_dir: &Path,
    data_sha256: Option<String>,
    tokenizer: Option<TokenizerInfo>,
    world: &dyn Comm<f32>,
) -> Result<PathBuf> {
    let final_dir = iteration_dir(save_dir, trainer.step);
    let tmp = final_dir.with_extension("tmp");
    let leader = world.rank() == 0;
    if leader {
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
    }
    world.barrier()?;
    let shard = trainer.model.shard;
    let layout = &trainer.model.layout;
    let be = &trainer.model.backend;
    let dp_rank = be.group_rank(&trainer.groups.dp);
    let host = |buf: &B::Buf| be.to_host(be.whole(buf), be.buf_len(buf));
    let meta = BTreeMap::from([("format".to_string(), FORMAT.to_string())]);
    if dp_rank == 0 {
        let mf = model_file(shard);
        safetensors::write(
            &tmp.join(&mf),
            &tensors_of(layout, &host(&trainer.model.params), ""),
            &meta,
        )?;
    }
    let of = optim_file(shard, dp_rank);
    let (m, v) = (host(&trainer.adam.m), host(&trainer.adam.v));
    let opt = if trainer.cfg.zero1 {
        // This rank's ZeRO shard of the moments, flat.
        let n = m.len();
        vec![
            Tensor {
                name: "m".into(),
                shape: vec![n],
                data: m,
            },
            Tensor {
                name: "v".into(),
                shape: vec![n],
                data: v,
            },
        ]
    } else {
        let mut opt = tensors_of(layout, &m, "m.");
        opt.extend(tensors_of(layout, &v, "v."));
        opt
    };
    safetensors::write(&tmp.join(&of), &opt, &meta)?;
    if leader {
        let config = CheckpointConfig {
            format: FORMAT.into(),
            train: trainer.cfg.clone(),
            data_sha256,
            tokenizer,
        };
        AtomicFile::write_all(
            &tmp.join("config.json"),
            &serde_json::to_vec_pretty(&config)?,
        )?;
    }
    world.barrier()?;
    if leader {
        let mut files = BTreeMap::new();
        for e in std::fs::read_dir(&tmp)? {
            let name = e?.file_name().to_string_lossy().into_owned();
            files.insert(name.clone(), digest_file(&tmp.join(&name))?.sha256);
        }
        let state = CheckpointState {
            step: trainer.step,
            consumed: trainer.consumed,
            consumed_valid: trainer.consumed_valid,
            files,
        };
        AtomicFile::write_all(&tmp.join("state.json"), &serde_json::to_vec_pretty(&state)?)?;
        if final_dir.exists() {
            std::fs::remove_dir_all(&final_dir)?;
        }
        std::fs::rename(&tmp, &final_dir).with_context(|| {
            format!("cannot rename {} to {}", tmp.display(), final_dir.display())
        })?;
        AtomicFile::write_all(
            &save_dir.join("latest"),
            final_dir.file_name().unwrap().to_string_lossy().as_bytes(),
        )?;
    }
    world.barrier()?;
    Ok(final_dir)
}

/// The directory `latest` names in `save_dir`, or `save_dir` itself when it is one iteration.
pub fn resolve(path: &Path) -> Result<PathBuf> {
    if path.join("state.json").exists() {
        return Ok(path.to_path_buf());
    }
    let latest = path.join("latest");
    let name = std::fs::read_to_string(&latest).with_context(|| {
        format!(
            "{}: no checkpoint here (no state.json, no latest)",
            path.display()
        )
    })?;
    Ok(path.join(name.trim()))
}

/// Reads and checks a checkpoint's configuration and state (every listed file present with
/// its recorded sha256).
pub fn open(path: &Path) -> Result<(PathBuf, CheckpointConfig, CheckpointState)> {
    let dir = resolve(path)?;
    let state_path = dir.join("state.json");
    let state: CheckpointState = serde_json::from_slice(
        &std::fs::read(&state_path)
            .with_context(|| format!("cannot read {}", state_path.display()))?,
    )
    .with_context(|| format!("{}: not a checkpoint state", state_path.display()))?;
    for (name, sha) in &state.files {
        let p = dir.join(name);
        let got =
            digest_file(&p).with_context(|| format!("{}: checkpoint file missing", p.display()))?;
        if &got.sha256 != sha {
            bail!(
                "{}: corrupt checkpoint file (sha256 {} but state.json records {})",
                p.display(),
                got.sha256,
                sha
            );
        }
    }
    let cfg_path = dir.join("config.json");
    let config: CheckpointConfig = serde_json::from_slice(&std::fs::read(&cfg_path)?)
        .with_context(|| format!("{}: not a checkpoint configuration", cfg_path.display()))?;
    if config.format != FORMAT {
        bail!(
            "{}: format {:?}, expected {FORMAT:?}",
            cfg_path.display(),
            config.format
        );
    }
    Ok((dir, config, state))
}

fn load_into(path: &Path, layout: &Layout, buf: &mut [f32], prefix: &str) -> Result<()> {
    let (tensors, _) = safetensors::read(path)?;
    let by_name: BTreeMap<&str, &Tensor> = tensors.iter().map(|t| (t.name.as_str(), t)).collect();
    for spec in &layout.tensors {
        let name = format!("{prefix}{}", spec.name);
        let Some(t) = by_name.get(name.as_str()) else {
            bail!("{}: tensor {name} missing", path.display());
        };
        if t.shape != spec.local.to_vec() {
            bail!(
                "{}: tensor {name} has shape {:?}, this run expects {:?}",
                path.display(),
                t.shape,
                spec.local
            );
        }
        buf[spec.range()].copy_from_slice(&t.data);
    }
    Ok(())
}

/// Restores parameters, optimiser state, step and data cursor into a trainer built with the
/// same configuration. Fields that change the numbers must match.
pub fn resume<B: Backend<F = f32>>(
    trainer: &mut Trainer<B>,
    path: &Path,
    data_sha256: Option<&str>,
) -> Result<()> {
    let (dir, config, state) = open(path)?;
    let cfg_path = dir.join("config.json");
    let (a, b) = (&config.train, &trainer.cfg);
    let checks: [(&str, bool); 12] = [
        ("model", a.model == b.model),
        ("seq", a.seq == b.seq),
        ("micro_batch", a.micro_batch == b.micro_batch),
        (
            "batch",
            a.batch.global == b.batch.global && a.batch.rampup == b.batch.rampup,
        ),
        ("lr", a.lr == b.lr),
        ("adam", a.adam == b.adam),
        ("seed", a.seed == b.seed),
        ("precision", a.precision == b.precision),
        ("tp", a.tp == b.tp),
        ("pp", a.pp == b.pp),
        ("dp", a.dp == b.dp),
        ("zero1", a.zero1 == b.zero1),
    ];
    for (field, ok) in checks {
        if !ok {
            bail!(
                "{}: checkpoint {field} differs from this run's (checkpoint {:?}, run {:?})",
                cfg_path.display(),
                field_value(a, field),
                field_value(b, field)
            );
        }
    }
    if let (Some(want), Some(got)) = (&config.data_sha256, data_sha256) {
        if want != got {
            bail!(
                "{}: trained on blend {want}, this run reads blend {got}",
                cfg_path.display()
            );
        }
    }
    let shard = trainer.model.shard;
    let layout = trainer.model.layout.clone();
    let be = &trainer.model.backend;
    let mut params = vec![0f32; layout.len];
    load_into(&dir.join(model_file(shard)), &layout, &mut params, "")?;
    let state_len = be.buf_len(&trainer.adam.m);
    let (mut m, mut v) = (vec![0f32; state_len], vec![0f32; state_len]);
    let of = dir.join(optim_file(shard, be.group_rank(&trainer.groups.dp)));
    if trainer.cfg.zero1 {
        let (tensors, _) = safetensors::read(&of)?;
        for t in tensors {
            let dst = match t.name.as_str() {
                "m" => &mut m,
                "v" => &mut v,
                _ => continue,
            };
            if t.data.len() != dst.len() {
                bail!(
                    "{}: ZeRO shard {} has {} values, this rank owns {}",
                    of.display(),
                    t.name,
                    t.data.len(),
                    dst.len()
                );
            }
            dst.copy_from_slice(&t.data);
        }
    } else {
        load_into(&of, &layout, &mut m, "m.")?;
        load_into(&of, &layout, &mut v, "v.")?;
    }
    be.upload(be.whole_mut(&mut trainer.model.params), &params);
    be.upload(be.whole_mut(&mut trainer.adam.m), &m);
    be.upload(be.whole_mut(&mut trainer.adam.v), &v);
    trainer.model.params_changed();
    trainer.step = state.step;
    trainer.consumed = state.consumed;
    trainer.consumed_valid = state.consumed_valid;
    Ok(())
}

fn field_value(c: &TrainConfig, field: &str) -> String {
    let v = serde_json::to_value(c).unwrap_or_default();
    v.get(field).map(|x| x.to_string()).unwrap_or_default()
}

/// The full tensors of a checkpoint, gathered from every tensor- and pipeline-parallel shard
/// (each tensor taken from the first stage that holds it), in layout order.
pub fn consolidate(path: &Path) -> Result<(CheckpointConfig, Vec<Tensor>)> {
    let (dir, config, _) = open(path)?;
    let t = &config.train;
    let mut out: Vec<Tensor> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for pp_rank in 0..t.pp {
        let mut full: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
        for tp_rank in 0..t.tp {
            let shard = ModelShard {
                tp: t.tp,
                tp_rank,
                pp: t.pp,
                pp_rank,
                chunks: t.virtual_stages,
            };
            let layout = Layout::new(&t.model, shard)?;
            let mut buf = vec![0.0f32; layout.len];
            load_into(&dir.join(model_file(shard)), &layout, &mut buf, "")?;
            if tp_rank == 0 {
                full = layout
                    .tensors
                    .iter()
                    .map(|s| {
                        (
                            s.name.clone(),
                            s.full.to_vec(),
                            vec![0.0; s.full[0] * s.full[1]],
                        )
                    })
                    .collect();
            }
            for (spec, (_, _, dst)) in layout.tensors.iter().zip(full.iter_mut()) {
                if spec.split == Split::Replicated && tp_rank != 0 {
                    continue;
                }
                let cols = spec.local[1];
                for (k, &v) in buf[spec.range()].iter().enumerate() {
                    dst[spec.full_index(k / cols, k % cols, tp_rank, t.tp)] = v;
                }
            }
        }
        for (name, shape, data) in full {
            if seen.insert(name.clone()) {
                out.push(Tensor { name, shape, data });
            }
        }
    }
    Ok((config, out))
}

/// Writes the consolidated model as one safetensors file (sieve-train's own names and
/// `[out, in]` shapes).
pub fn write_consolidated(path: &Path, out: &Path) -> Result<()> {
    let (config, tensors) = consolidate(path)?;
    let meta = BTreeMap::from([
        ("format".to_string(), "sieve-train-consolidated".to_string()),
        ("config".to_string(), serde_json::to_string(&config)?),
    ]);
    safetensors::write(out, &tensors, &meta)
}

/// The model shape of a checkpoint, for tools that only read.
pub fn model_config(path: &Path) -> Result<GptConfig> {
    Ok(open(path)?.1.train.model)
}
