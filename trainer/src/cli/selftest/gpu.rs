//! The selftest on a GPU: the single-GPU parts on `Cuda`, then, with more than one GPU visible,
//! the multi-GPU part (collectives on every GPU, a 2-stage pipeline step) over NCCL.

#[cfg(not(feature = "cuda"))]
use anyhow::bail;
use anyhow::Result;

#[cfg(feature = "cuda")]
use super::{render::render_multi, report, MultiGpu};
use super::{Report, SelftestArgs};
#[cfg(feature = "cuda")]
use crate::selftest::{self, multi};

#[cfg(feature = "cuda")]
pub(super) fn cuda(args: &SelftestArgs, part: &mut dyn FnMut(&str)) -> Result<Report> {
    use crate::backend::cuda::Cuda;
    let probe = Cuda::new(args.gpu)?;
    let name = format!(
        "cuda:{} ({}, compute capability {}.{})",
        args.gpu, probe.device_name, probe.compute_capability.0, probe.compute_capability.1
    );
    let peak = args
        .peak_flops
        .or_else(|| selftest::bf16_peak_flops(&probe.device_name));
    let free = probe.free_memory();
    drop(probe);
    let gpu = args.gpu;
    let mut r = report(
        name,
        move || Cuda::new(gpu).expect("the GPU opened a moment ago"),
        args,
        (peak, free),
        part,
    )?;
    let gpus = cudarc::driver::CudaContext::device_count()
        .unwrap_or(1)
        .max(1) as usize;
    if gpus < 2 {
        part("\none GPU visible: the multi-GPU part is skipped\n");
        return Ok(r);
    }
    let m = multi_gpu(gpus.min(8))?;
    part(&render_multi(&m));
    r.passed &= m.passed();
    r.multi_gpu = Some(m);
    Ok(r)
}

/// What one GPU's thread of the multi-GPU part does with its backend, group and rank.
#[cfg(feature = "cuda")]
type OnGpu<'a> = dyn Fn(
        crate::backend::cuda::Cuda,
        &crate::backend::cuda::NcclGroup,
        usize,
    ) -> Result<Vec<multi::RankCheck>>
    + Sync
    + 'a;

/// Runs `f` on GPUs 0..n, one thread and NCCL rank of group `name` each; their checks.
#[cfg(feature = "cuda")]
fn on_each_gpu(n: usize, name: &'static str, f: &OnGpu<'_>) -> Result<Vec<multi::RankCheck>> {
    use crate::backend::cuda::{Cuda, NcclGroup};
    let id = crate::dist::nccl_id::nccl_unique_id()?;
    let per_rank: Vec<Result<Vec<multi::RankCheck>>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..n)
            .map(|r| {
                s.spawn(move || {
                    let cuda = Cuda::new(r)?;
                    let group = NcclGroup::join(&cuda, name, &id, r, n)?;
                    f(cuda, &group, r)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a GPU's thread panicked")))
            })
            .collect()
    });
    Ok(per_rank.into_iter().collect::<Result<Vec<_>>>()?.concat())
}

/// The collectives on `gpus` GPUs, then a 2-stage pipeline step on the first two, against
/// the CPU.
#[cfg(feature = "cuda")]
fn multi_gpu(gpus: usize) -> Result<MultiGpu> {
    let collectives = on_each_gpu(gpus, "selftest", &|cuda, group, _| {
        multi::collectives(&cuda, group)
    })?;
    let stages = std::sync::Mutex::new(Vec::new());
    on_each_gpu(2, "pipeline-parallel", &|cuda, group, stage| {
        let s = multi::pipeline_stage(cuda, group, stage)?;
        stages.lock().unwrap_or_else(|e| e.into_inner()).push(s);
        Ok(Vec::new())
    })?;
    let mut pipeline = stages.into_inner().unwrap_or_else(|e| e.into_inner());
    pipeline.sort_by_key(|s| s.stage);
    Ok(MultiGpu {
        gpus,
        collectives,
        pipeline,
    })
}

#[cfg(not(feature = "cuda"))]
pub(super) fn cuda(_args: &SelftestArgs, _part: &mut dyn FnMut(&str)) -> Result<Report> {
    bail!("--device cuda: this sieve-train was built without CUDA; rebuild with `cargo build --release -p sieve-trainer --features cuda`")
}
