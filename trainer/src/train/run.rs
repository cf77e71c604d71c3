//! One rank's run: the training loop on any backend (steps, evaluation, metrics,
//! checkpoints) and, with the `cuda` feature, the setup of a GPU rank. `sieve-train train`
//! (cli/train.rs) reads the arguments, the blend and the process groups, then calls this.

use std::path::PathBuf;

use anyhow::Result;

use super::{TrainConfig, Trainer};
use crate::backend::Backend;
use crate::ckpt;
use crate::data::SampleSource;
use crate::dist::Comm;
use crate::metrics::{MetricsFile, Progress, Record};
use sieve_shards::tokenizer::TokenizerInfo;

/// What the loop takes from the command line besides the configuration.
#[derive(Debug, Clone, Default)]
pub struct LoopOptions {
    /// A checkpoint to resume from.
    pub load: Option<PathBuf>,
    /// Where checkpoints go: every `save_interval` steps (0: only at the end).
    pub save: Option<PathBuf>,
    pub save_interval: u64,
    /// The metrics JSON-lines file (written by rank 0).
    pub metrics: Option<PathBuf>,
    /// Stop after this many steps of this process (a simulated interruption).
    pub exit_after: Option<u64>,
    pub quiet: bool,
}

/// The final numbers of a run (printed as JSON on stdout).
#[derive(Debug, serde::Serialize)]
pub struct Summary {
    pub steps: u64,
    pub first_loss: Option<f64>,
    pub last_loss: Option<f64>,
    pub first_val_loss: Option<f64>,
    pub last_val_loss: Option<f64>,
    pub tokens_per_s: f64,
    pub checkpoint: Option<PathBuf>,
    /// The training card's directory (with `--metrics`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<PathBuf>,
    /// Set when SIGTERM stopped the run before `train_iters`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<String>,
    /// This process's rank (only rank 0 prints the summary).
    #[serde(skip)]
    pub rank: usize,
}

/// What the training loop needs besides the trainer.
pub struct Run {
    pub options: LoopOptions,
    pub cfg: TrainConfig,
    pub train: SampleSource,
    pub valid: Option<SampleSource>,
    /// The blend's configuration digest, recorded in checkpoints and checked on resume.
    pub data_sha: Option<String>,
    pub tokenizer: Option<TokenizerInfo>,
    pub world_comm: Box<dyn Comm<f32>>,
}

#[cfg(feature = "cuda")]
pub mod cuda {
    use anyhow::{bail, Result};

    use super::{train_loop, Run, Summary};
    use crate::backend::cuda::{Cuda, NcclGroup};
    use crate::dist::nccl_id::{nccl_unique_id, share_unique_id};
    use crate::dist::tcp::TcpComm;
    use crate::dist::Comm;
    use crate::model::{ModelShard, Precision};
    use crate::train::{Groups, Trainer};

    /// Trains on GPU `gpu` (the rank's local rank), with one NCCL communicator per group whose
    /// unique id travels over the group's TCP channel.
    pub fn run(
        run: Run,
        shard: ModelShard,
        host: Option<[TcpComm; 3]>,
        gpu: usize,
        peak_flops: Option<f64>,
        comm_timeout: std::time::Duration,
    ) -> Result<Summary> {
        if run.cfg.precision != Precision::Bf16 {
            bail!("--device cuda trains in mixed precision: add --precision bf16");
        }
        let backend = Cuda::new(gpu)?;
        backend.set_comm_timeout(comm_timeout);
        let join = |name: &'static str, tcp: &TcpComm| -> Result<Box<NcclGroup>> {
            let id = share_unique_id(tcp, nccl_unique_id)?;
            let (rank, size) = (Comm::<f32>::rank(tcp), Comm::<f32>::size(tcp));
            Ok(Box::new(NcclGroup::join(&backend, name, &id, rank, size)?))
        };
        let groups = match &host {
            Some([tp, pp, dp]) => Groups {
                tp: join("tensor-parallel", tp)?,
                pp: join("pipeline-parallel", pp)?,
                dp: join("data-parallel", dp)?,
            },
            None => Groups {
                tp: Box::new(NcclGroup::solo()),
                pp: Box::new(NcclGroup::solo()),
                dp: Box::new(NcclGroup::solo()),
            },
        };
        let peak = peak_flops
            .or_else(|| crate::selftest::bf16_peak_flops(&backend.device_name))
            .unwrap_or(f64::NAN);
        let trainer = Trainer::on(backend, run.cfg.clone(), shard, groups)?;
        train_loop(trainer, run, peak)
    }
}

#[cfg(not(feature = "cuda"))]
pub mod cuda {
    use anyhow::{bail, Result};

    use super::{Run, Summary};
    use crate::dist::tcp::TcpComm;
    use crate::model::ModelShard;

    pub fn run(
        _run: Run,
        _shard: ModelShard,
        _host: Option<[TcpComm; 3]>,
        _gpu: usize,
        _peak_flops: Option<f64>,
        _comm_timeout: std::time::Duration,
    ) -> Result<Summary> {
        bail!("--device cuda: this sieve-train was built without CUDA; rebuild with `cargo build --release -p sieve-trainer --features cuda`")
    }
}

/// The training loop of one rank on any backend: steps, evaluation, metrics, checkpoints.
/// Where the training card of metrics file `m` goes: `dir/train.jsonl` → `dir/train-card/`.
pub fn card_dir(m: &std::path::Path) -> PathBuf {
    let stem = m
        .file_stem()
        .map_or("metrics".into(), |s| s.to_string_lossy());
    m.with_file_name(format!("{stem}-card"))
}

pub fn train_loop<B: Backend<F = f32>>(
    mut trainer: Trainer<B>,
    run: Run,
    peak: f64,
) -> Result<Summary> {
    let Run {
        options: args,
        cfg,
        train,
        valid,
        data_sha,
        tokenizer,
        world_comm,
    } = run;
    let leader = world_comm.rank() == 0;
    if let Some(load) = &args.load {
        ckpt::resume(&mut trainer, load, data_sha.as_deref())?;
    }
    let flops_per_token = cfg.model.flops_per_token(cfg.seq);
    let world = cfg.tp * cfg.pp * cfg.dp;
    let mut metrics = match leader {
        true => args.metrics.as_deref().map(MetricsFile::open).transpose()?,
        false => None,
    };
    let progress = Progress::new(cfg.train_iters, trainer.step, args.quiet || !leader);
    progress.println(&format!(
        "model {} layers × {} hidden × {} heads, {:.2}M parameters; seq {}, global batch {}; {} train samples; tp {} pp {} dp {}{}; MFU against {} × {:.1} GFLOP/s",
        cfg.model.layers,
        cfg.model.hidden,
        cfg.model.heads,
        cfg.model.parameters() as f64 / 1e6,
        cfg.seq,
        cfg.batch.global,
        train.len(),
        cfg.tp,
        cfg.pp,
        cfg.dp,
        if cfg.zero1 { " (ZeRO-1)" } else { "" },
        world,
        peak / 1e9
    ));
    let mut summary = Summary {
        steps: 0,
        first_loss: None,
        last_loss: None,
        first_val_loss: None,
        last_val_loss: None,
        tokens_per_s: 0.0,
        checkpoint: None,
        card: None,
        stopped_by: None,
        rank: 0,
    };
    super::stop::install();
    // The starting point of the validation curve, on a fresh run.
    if let (0, Some(v), true) = (trainer.step, &valid, cfg.eval_interval > 0) {
        let vl = trainer.evaluate(v, false)?;
        summary.first_val_loss = Some(vl);
        progress.println(&format!(
            "step 0 validation loss {vl:.4} perplexity {:.1}",
            vl.exp()
        ));
    }
    let (mut tokens, mut seconds) = (0u64, 0.0f64);
    let mut done_here = 0;
    while trainer.step < cfg.train_iters {
        if args.exit_after.is_some_and(|n| done_here >= n) {
            break;
        }
        let s = trainer.train_step(&train)?;
        done_here += 1;
        tokens += s.tokens;
        seconds += s.seconds;
        let tps = s.tokens as f64 / s.seconds.max(1e-9);
        let mut rec = Record {
            step: s.step,
            loss: s.loss,
            lr: s.lr,
            grad_norm: s.grad_norm,
            batch: s.batch,
            tokens_per_s: tps,
            // Every rank's device counts: the peak of the whole world.
            mfu: tps * flops_per_token / (world as f64 * peak),
            val_loss: None,
            val_ppl: None,
        };
        let eval_now =
            cfg.eval_interval > 0 && (s.step % cfg.eval_interval == 0 || s.step == cfg.train_iters);
        if let (true, Some(v)) = (eval_now, &valid) {
            let vl = trainer.evaluate(v, true)?;
            rec.val_loss = Some(vl);
            rec.val_ppl = Some(vl.exp());
            summary.first_val_loss.get_or_insert(vl);
            summary.last_val_loss = Some(vl);
            progress.println(&format!(
                "step {} validation loss {vl:.4} perplexity {:.1}",
                s.step,
                vl.exp()
            ));
        }
        summary.first_loss.get_or_insert(s.loss);
        summary.last_loss = Some(s.loss);
        summary.steps += 1;
        progress.step(&rec);
        if let Some(m) = &mut metrics {
            m.write(&rec)?;
        }
        // Every rank stops after the same step: a SIGTERM heard by any of them counts.
        let mut heard = [if super::stop::requested() {
            1.0f32
        } else {
            0.0
        }];
        world_comm.all_reduce(&mut heard, crate::dist::ReduceOp::Max)?;
        if heard[0] > 0.0 {
            summary.stopped_by = Some("SIGTERM".into());
            break;
        }
        if let Some(save) = &args.save {
            if args.save_interval > 0 && s.step % args.save_interval == 0 {
                summary.checkpoint = Some(ckpt::save(
                    &trainer,
                    save,
                    data_sha.clone(),
                    tokenizer.clone(),
                    world_comm.as_ref(),
                )?);
            }
        }
    }
    progress.finish();
    if let Some(save) = &args.save {
        let last = ckpt::iteration_dir(save, trainer.step);
        if summary.checkpoint.as_deref() != Some(last.as_path()) {
            summary.checkpoint = Some(ckpt::save(
                &trainer,
                save,
                data_sha,
                tokenizer,
                world_comm.as_ref(),
            )?);
        }
    }
    if summary.stopped_by.is_some() {
        let saved = match &summary.checkpoint {
            Some(dir) => format!(
                "saved {}; resume with --load {}",
                dir.display(),
                args.save.as_deref().map_or(dir.as_path(), |s| s).display()
            ),
            None => "nothing saved (--no-save)".into(),
        };
        // Said even under -q: the run ended early on purpose.
        if leader {
            eprintln!(
                "sieve-train: SIGTERM: stopped after step {} of {}; {saved}",
                trainer.step, cfg.train_iters
            );
        }
    }
    // The training card beside the metrics file: train.jsonl → train-card/.
    if let (true, Some(m)) = (leader, &args.metrics) {
        drop(metrics.take());
        let card = card_dir(m);
        crate::card::write_card(m, &card)?;
        summary.card = Some(card);
    }
    // Nobody leaves while another rank may still need it.
    world_comm.barrier()?;
    summary.tokens_per_s = tokens as f64 / seconds.max(1e-9);
    summary.rank = world_comm.rank();
    Ok(summary)
}
