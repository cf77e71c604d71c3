//! `sieve-train train`: train a GPT on a sieve blend.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::backend::device_order::DeviceOrder;
use crate::backend::{Backend, Cpu};
use crate::data::{BlendDir, SampleSource, Split};
use crate::dist::grid::RankGrid;
use crate::dist::tcp::{Mesh, TcpComm};
use crate::dist::{Comm, Solo};
use crate::metrics::measure_cpu_gemm_peak;
use crate::model::{GptConfig, ModelShard, Precision, Recompute};
use crate::optim::{AdamConfig, BatchSchedule, LrSchedule};
use crate::train::run::{cuda, train_loop, LoopOptions, Run, Summary};
use crate::train::{Groups, TrainConfig, Trainer};

#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// A `sieve blend` output directory: samples are served as Megatron-LM's BlendedDataset
    /// over GPTDatasets would serve them for its blend.txt.
    #[arg(long)]
    pub data: PathBuf,
    /// Read the blend's pre-blended stream instead (sample k = window k).
    #[arg(long)]
    pub stream: bool,
    /// Check every data file's sha256 against the manifest before training.
    #[arg(long)]
    pub verify_data: bool,
    /// Model preset: tiny, small, gpt2-124m, gpt2-350m, gpt-1.3b, mtnlg-530b.
    #[arg(long, default_value = "small")]
    pub model: String,
    #[arg(long)]
    pub layers: Option<usize>,
    #[arg(long)]
    pub hidden: Option<usize>,
    #[arg(long)]
    pub heads: Option<usize>,
    /// Sequence length (default: the model's positions, at most the blend's).
    #[arg(long)]
    pub seq_len: Option<usize>,
    #[arg(long, default_value_t = 4)]
    pub micro_batch: usize,
    #[arg(long, default_value_t = 8)]
    pub global_batch: u64,
    /// Megatron's batch ramp-up: START,INCREMENT,SAMPLES.
    #[arg(long)]
    pub rampup_batch_size: Option<String>,
    #[arg(long, default_value_t = 200)]
    pub train_iters: u64,
    #[arg(long, default_value_t = 6e-4)]
    pub lr: f64,
    #[arg(long, default_value_t = 6e-5)]
    pub min_lr: f64,
    #[arg(long, default_value_t = 20)]
    pub warmup_iters: u64,
    /// Iterations of cosine decay (default: train-iters).
    #[arg(long)]
    pub lr_decay_iters: Option<u64>,
    #[arg(long, default_value_t = 0.9)]
    pub adam_beta1: f64,
    /// MT-NLG lowered β2 to 0.95 for stability.
    #[arg(long, default_value_t = 0.95)]
    pub adam_beta2: f64,
    #[arg(long, default_value_t = 1e-8)]
    pub adam_eps: f64,
    #[arg(long, default_value_t = 0.1)]
    pub weight_decay: f64,
    #[arg(long, default_value_t = 1.0)]
    pub clip_grad: f64,
    #[arg(long, default_value_t = 0.02)]
    pub init_std: f64,
    /// Seeds the weights and Megatron's dataset shuffles (Megatron's default: 1234).
    #[arg(long, default_value_t = 1234)]
    pub seed: u64,
    #[arg(long, default_value_t = 50)]
    pub eval_interval: u64,
    #[arg(long, default_value_t = 2)]
    pub eval_iters: u64,
    /// fp32, or bf16 (emulated on CPU: bf16 weights and activations, fp32 master weights).
    #[arg(long, default_value = "fp32")]
    pub precision: String,
    /// Where checkpoints go: at the end of the run, on SIGTERM, and every --save-interval
    /// steps (the directory is named in the summary).
    #[arg(long, default_value = "checkpoints")]
    pub save: PathBuf,
    /// Save nothing, not even at the end.
    #[arg(long)]
    pub no_save: bool,
    /// Also save every this many steps (0: only at the end and on SIGTERM).
    #[arg(long, default_value_t = 0)]
    pub save_interval: u64,
    /// Resume from this checkpoint (an iteration directory, or a save directory's latest).
    #[arg(long)]
    pub load: Option<PathBuf>,
    /// Per-step metrics, JSONL (or CSV when the name ends in .csv); the run's training card
    /// is written beside it at the end (train.jsonl → train-card/).
    #[arg(long)]
    pub metrics: Option<PathBuf>,
    /// Peak FLOP/s for MFU (default: this CPU's measured GEMM rate).
    #[arg(long)]
    pub peak_flops: Option<f64>,
    /// Tensor-parallel size (divides the heads); ranks come from torchrun, Slurm or OpenMPI
    /// variables, or from `sieve-train launch`.
    #[arg(long, default_value_t = 1)]
    pub tp: usize,
    /// Pipeline-parallel size (divides the layers); the rest of the world is data parallel.
    #[arg(long, default_value_t = 1)]
    pub pp: usize,
    /// Recompute activations in backward instead of keeping them (Megatron's flag):
    /// selective (the attention probabilities) or full (each layer from its input). Saves
    /// activation memory; the results are bitwise the same.
    #[arg(long, value_enum)]
    pub recompute_granularity: Option<Recompute>,
    /// Megatron's shorthand for --recompute-granularity selective.
    #[arg(long, conflicts_with = "recompute_granularity")]
    pub recompute_activations: bool,
    /// Sequence parallelism (Megatron's --sequence-parallel): the LayerNorms, biases and
    /// residual adds run on 1/tp of the tokens on each tensor-parallel rank, with all-gather
    /// and reduce-scatter in place of the all-reduces. Needs --seq-len divisible by --tp; with
    /// --tp 1 it changes nothing.
    #[arg(long)]
    pub sequence_parallel: bool,
    /// Interleaved 1F1B (Megatron's flag): each pipeline stage holds layers/(pp·N) model
    /// chunks of N layers, run as virtual stages round the ring of stages. Needs the
    /// micro-batches of a step to be a multiple of --pp.
    #[arg(long, value_name = "N")]
    pub num_layers_per_virtual_pipeline_stage: Option<usize>,
    /// ZeRO-1: shard the optimizer state and update over the data-parallel group.
    #[arg(long)]
    pub zero1: bool,
    /// Seconds a rank waits for another before giving up with an error (over TCP; on GPUs,
    /// for a NCCL collective, whose communicators are then aborted).
    #[arg(long, default_value_t = 300)]
    pub comm_timeout: u64,
    /// Stop after this many steps of this process (the schedule still spans train-iters).
    #[arg(long)]
    pub exit_after: Option<u64>,
    #[arg(short = 'j', long)]
    pub threads: Option<usize>,
    /// cpu, or cuda (one GPU per rank, the rank's local rank picks it; needs the `cuda`
    /// build, `--precision bf16`, and NCCL when there is more than one rank). For tests,
    /// cpu-nccl-order: the CPU kernels with NCCL's ordering of sends, receives and overlapped
    /// reductions, which fails where a GPU run would.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    #[arg(short, long)]
    pub quiet: bool,
}

impl TrainArgs {
    /// What the training loop takes from the command line besides the configuration.
    pub fn loop_options(&self) -> LoopOptions {
        LoopOptions {
            load: self.load.clone(),
            save: (!self.no_save).then(|| self.save.clone()),
            save_interval: self.save_interval,
            metrics: self.metrics.clone(),
            exit_after: self.exit_after,
            quiet: self.quiet,
        }
    }

    pub fn config(&self, blend: &BlendDir, world: usize) -> Result<TrainConfig> {
        if self.tp == 0 || self.pp == 0 || !world.is_multiple_of(self.tp * self.pp) {
            bail!(
                "world size {world} is not a multiple of --tp {} × --pp {}",
                self.tp,
                self.pp
            );
        }
        let dp = world / (self.tp * self.pp);
        let vocab = blend.manifest.tokenizer.vocab_size as usize;
        let mut model = GptConfig::preset(&self.model, vocab)?;
        if let Some(l) = self.layers {
            model.layers = l;
        }
        if let Some(h) = self.hidden {
            model.hidden = h;
        }
        if let Some(h) = self.heads {
            model.heads = h;
        }
        model.validate()?;
        let seq = self
            .seq_len
            .unwrap_or(model.max_seq.min(blend.manifest.seq_length as usize));
        let rampup = match &self.rampup_batch_size {
            None => None,
            Some(s) => {
                let v: Vec<u64> = s
                    .split(',')
                    .map(|x| x.trim().parse())
                    .collect::<Result<_, _>>()
                    .with_context(|| {
                        format!("--rampup-batch-size {s:?}: expected START,INCREMENT,SAMPLES")
                    })?;
                if v.len() != 3 {
                    bail!("--rampup-batch-size {s:?}: expected START,INCREMENT,SAMPLES");
                }
                Some((v[0], v[1], v[2]))
            }
        };
        let precision = match self.precision.as_str() {
            "fp32" => Precision::Full,
            "bf16" => Precision::Bf16,
            p => bail!("--precision {p:?}: fp32 or bf16"),
        };
        let virtual_stages = match self.num_layers_per_virtual_pipeline_stage {
            None => 1,
            Some(n) if n > 0 && model.layers.is_multiple_of(n * self.pp) => {
                model.layers / (n * self.pp)
            }
            Some(n) => bail!(
                "--num-layers-per-virtual-pipeline-stage {n}: the {} layers are not --pp {} \
                 stages of whole chunks of {n}",
                model.layers,
                self.pp
            ),
        };
        Ok(TrainConfig {
            model,
            seq,
            micro_batch: self.micro_batch,
            batch: BatchSchedule::new(self.global_batch, rampup, (self.micro_batch * dp) as u64)?,
            lr: LrSchedule {
                max_lr: self.lr,
                min_lr: self.min_lr,
                warmup_iters: self.warmup_iters,
                decay_iters: self.lr_decay_iters.unwrap_or(self.train_iters),
            },
            adam: AdamConfig {
                beta1: self.adam_beta1,
                beta2: self.adam_beta2,
                eps: self.adam_eps,
                weight_decay: self.weight_decay,
            },
            clip_grad: self.clip_grad,
            init_std: self.init_std,
            seed: self.seed,
            train_iters: self.train_iters,
            eval_interval: self.eval_interval,
            eval_iters: self.eval_iters,
            precision,
            tp: self.tp,
            pp: self.pp,
            dp,
            zero1: self.zero1,
            bucket_elements: None,
            recompute: match (self.recompute_granularity, self.recompute_activations) {
                (Some(r), _) => r,
                (None, true) => Recompute::Selective,
                (None, false) => Recompute::None,
            },
            sequence_parallel: self.sequence_parallel,
            virtual_stages,
        })
    }
}

pub fn run(args: &TrainArgs) -> Result<Summary> {
    if let Some(n) = args.threads {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    let env = crate::dist::env::from_env()?;
    let world = env.as_ref().map_or(1, |e| e.world);
    let blend = BlendDir::open(&args.data, args.verify_data)?;
    let cfg = args.config(&blend, world)?;
    let seed32 =
        u32::try_from(cfg.seed).context("--seed must be below 2^32 (numpy's RandomState)")?;
    let (train, valid) = if args.stream {
        (
            SampleSource::stream(&blend, Split::Train, cfg.seq)?,
            SampleSource::stream(&blend, Split::Valid, cfg.seq).ok(),
        )
    } else {
        let valid = match cfg.valid_samples() {
            0 => None,
            n => Some(SampleSource::blended(
                &blend,
                Split::Valid,
                n,
                cfg.seq,
                seed32,
            )?),
        };
        (
            SampleSource::blended(&blend, Split::Train, cfg.train_samples(), cfg.seq, seed32)?,
            valid,
        )
    };
    if train.len() < cfg.train_samples() {
        bail!(
            "{}: the train split serves {} samples, the run needs {}",
            args.data.display(),
            train.len(),
            cfg.train_samples()
        );
    }
    let data_sha = Some(blend.manifest.config_sha256.clone());
    let tokenizer = Some(blend.manifest.tokenizer.clone());
    // The host communicators: the run's groups on the CPU, and on GPUs the channel that
    // hands out each NCCL group's unique id.
    let (shard, host, world_comm): (ModelShard, HostGroups, Box<dyn Comm<f32>>) = match &env {
        Some(e) if e.world > 1 => {
            let mut hasher_input = serde_json::to_vec(&cfg)?;
            hasher_input.extend_from_slice(blend.manifest.config_sha256.as_bytes());
            let hash = xxhash_rust::xxh3::xxh3_64(&hasher_input);
            let mesh = std::sync::Arc::new(Mesh::connect(
                e.rank,
                e.world,
                &e.master_addr,
                e.master_port,
                hash,
                std::time::Duration::from_secs(args.comm_timeout),
            )?);
            let grid = RankGrid::new(e.rank, cfg.tp, cfg.pp, e.world);
            let comm =
                |kind: u32, name: &str, members: Vec<usize>, index: usize| -> Result<TcpComm> {
                    TcpComm::new(mesh.clone(), (kind << 24) | index as u32, name, members)
                };
            let groups = [
                comm(1, "tp", grid.tp_members(), grid.tp_group())?,
                comm(2, "pp", grid.pp_members(), grid.pp_group())?,
                comm(3, "dp", grid.dp_members(), grid.dp_group())?,
            ];
            (
                grid.shard,
                Some(groups),
                Box::new(comm(4, "world", (0..e.world).collect(), 0)?),
            )
        }
        _ => {
            if cfg.tp * cfg.pp > 1 {
                bail!(
                    "--tp {} --pp {} needs {} ranks: start with `sieve-train launch --nproc-per-node N -- train …`, torchrun, srun or mpirun",
                    cfg.tp,
                    cfg.pp,
                    cfg.tp * cfg.pp
                );
            }
            (ModelShard::SINGLE, None, Box::new(Solo))
        }
    };
    let run = Run {
        options: args.loop_options(),
        cfg,
        train,
        valid,
        data_sha,
        tokenizer,
        world_comm,
    };
    match args.device.as_str() {
        "cpu" => {
            let trainer = Trainer::<Cpu<f32>>::new(run.cfg.clone(), shard, host_groups(host))?;
            let peak = args.peak_flops.unwrap_or_else(measure_cpu_gemm_peak);
            train_loop(trainer, run, peak)
        }
        // The CPU kernels with NCCL's ordering of communication (a test device: see
        // backend::device_order); bitwise the cpu device's results when the schedules are right.
        "cpu-nccl-order" => {
            // SAFETY: the trainer holds no view of a buffer across a group's end or a wait.
            let backend = unsafe { DeviceOrder::new() };
            let trainer = Trainer::on(backend, run.cfg.clone(), shard, host_groups(host))?;
            let peak = args.peak_flops.unwrap_or_else(measure_cpu_gemm_peak);
            train_loop(trainer, run, peak)
        }
        "cuda" => cuda::run(
            run,
            shard,
            host,
            env.as_ref().map_or(0, |e| e.local_rank),
            args.peak_flops,
            std::time::Duration::from_secs(args.comm_timeout),
        ),
        other => bail!("--device {other:?}: expected cpu, cuda or cpu-nccl-order"),
    }
}

/// A rank's tensor-, pipeline- and data-parallel communicators over TCP (None: one rank).
type HostGroups = Option<[TcpComm; 3]>;

/// The host communicators as a CPU backend's process groups (a rank alone without them).
fn host_groups<B: Backend<F = f32, Group = dyn Comm<f32>>>(host: HostGroups) -> Groups<B> {
    let boxed = |c: TcpComm| Box::new(c) as Box<dyn Comm<f32>>;
    match host {
        Some([tp, pp, dp]) => Groups {
            tp: boxed(tp),
            pp: boxed(pp),
            dp: boxed(dp),
        },
        None => Groups {
            tp: Box::new(Solo),
            pp: Box::new(Solo),
            dp: Box::new(Solo),
        },
    }
}
