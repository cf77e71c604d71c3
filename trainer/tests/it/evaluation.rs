//! Evaluation walks the validation set as Megatron's validation iterator does: each
//! evaluation takes the next `eval_iters` global batches, the step-0 baseline takes the first
//! without consuming them, and a walk past the end starts again from the beginning. A
//! pipeline's forward-only evaluation holds no more activations than its training does.

use crate::common;

use sieve_trainer::backend::Cpu;
use sieve_trainer::data::{BlendDir, SampleSource, Split};
use sieve_trainer::dist::{Comm, ThreadGroup};
use sieve_trainer::model::{GptConfig, ModelShard};
use sieve_trainer::optim::{BatchSchedule, LrSchedule};
use sieve_trainer::train::{Groups, TrainConfig, Trainer};

fn config(eval_iters: u64) -> TrainConfig {
    let model = GptConfig {
        layers: 2,
        hidden: 32,
        heads: 4,
        max_seq: 32,
        vocab_size: 50257,
    };
    let lr = LrSchedule {
        max_lr: 1e-3,
        min_lr: 1e-4,
        warmup_iters: 1,
        decay_iters: 2,
    };
    TrainConfig {
        eval_interval: 1,
        eval_iters,
        ..common::train_config(model, 2, BatchSchedule::new(4, None, 2).unwrap(), lr, 2)
    }
}

#[test]
fn each_evaluation_takes_the_next_validation_batches() {
    let one = config(1);
    // (2 / 1 + 1) evaluations of one global batch of 4: 12 validation samples.
    assert_eq!(one.valid_samples(), 12);
    let blend = BlendDir::open(&common::sample_blend(), false).unwrap();
    let valid = SampleSource::blended(&blend, Split::Valid, 12, one.seq, 1234).unwrap();
    // Megatron's blend rounds each dataset's share up: a sample or two more than asked.
    assert!((12..16).contains(&valid.len()), "{}", valid.len());

    let mut walker = Trainer::new(one, ModelShard::SINGLE, Groups::<Cpu<f32>>::single()).unwrap();
    let baseline = walker.evaluate(&valid, false).unwrap();
    assert_eq!(walker.consumed_valid, 0, "the baseline consumes nothing");
    let l1 = walker.evaluate(&valid, true).unwrap();
    assert_eq!(baseline, l1, "the baseline saw the first batch");
    let l2 = walker.evaluate(&valid, true).unwrap();
    let l3 = walker.evaluate(&valid, true).unwrap();
    assert_eq!(walker.consumed_valid, 12);
    assert!(l1 != l2 && l2 != l3 && l1 != l3, "{l1} {l2} {l3}");
    // Past the end: from the beginning again.
    assert_eq!(walker.evaluate(&valid, true).unwrap(), l1);
    assert_eq!(walker.consumed_valid, 4);

    // One evaluation of three batches, the same weights: the mean of the three walked ones.
    let mut whole =
        Trainer::new(config(3), ModelShard::SINGLE, Groups::<Cpu<f32>>::single()).unwrap();
    let all = whole.evaluate(&valid, true).unwrap();
    let mean = (l1 + l2 + l3) / 3.0;
    assert!((all - mean).abs() <= 1e-12 * mean.abs(), "{all} vs {mean}");
}

/// The activation buffers each stage of a 4-stage pipeline makes over one global batch of 8
/// micro-batches, in a training step (1F1B) or an evaluation (forward only), ranks as threads.
fn buffers_per_stage(train: bool) -> Vec<usize> {
    let stages = 4;
    let mut cfg = config(1);
    cfg.model.layers = 4;
    cfg.pp = stages;
    cfg.micro_batch = 1;
    cfg.batch = BatchSchedule::new(8, None, 1).unwrap();
    let blend = BlendDir::open(&common::sample_blend(), false).unwrap();
    let split = if train { Split::Train } else { Split::Valid };
    let data = SampleSource::blended(&blend, split, 8, cfg.seq, 1234).unwrap();
    let pp = ThreadGroup::new(stages);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..stages)
            .map(|stage| {
                let groups = Groups::<Cpu<f32>> {
                    tp: Box::new(sieve_trainer::dist::Solo) as Box<dyn Comm<f32>>,
                    pp: Box::new(pp.comm(stage)) as Box<dyn Comm<f32>>,
                    dp: Box::new(sieve_trainer::dist::Solo) as Box<dyn Comm<f32>>,
                };
                let shard = ModelShard {
                    tp: 1,
                    tp_rank: 0,
                    pp: stages,
                    pp_rank: stage,
                    chunks: 1,
                };
                let (cfg, data) = (cfg.clone(), &data);
                s.spawn(move || {
                    let mut t = Trainer::new(cfg, shard, groups).unwrap();
                    match train {
                        true => drop(t.train_step(data).unwrap()),
                        false => drop(t.evaluate(data, true).unwrap()),
                    }
                    t.activation_buffers()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn a_forward_only_pipeline_holds_one_micro_batch_of_activations_per_stage() {
    // 1F1B: stage s holds the activations of min(stages − s, micro-batches) micro-batches.
    assert_eq!(buffers_per_stage(true), [4, 3, 2, 1]);
    // Forward only: each stage passes a micro-batch on and frees it before the next.
    assert_eq!(buffers_per_stage(false), [1, 1, 1, 1]);
}
