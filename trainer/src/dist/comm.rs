//! The collectives the trainer needs, over one process group (a tensor-, pipeline- or
//! data-parallel group). Implementations: [`Solo`] for a group of one, the in-process
//! [`super::thread_comm::ThreadComm`] (ranks as threads, for tests) and the TCP communicator
//! for multi-process CPU runs; NCCL on GPUs.
//!
//! Every implementation must give every rank bitwise the same result of a reduction: sums run
//! in rank order, never in arrival order.

use anyhow::Result;

use crate::backend::Float;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceOp {
    Sum,
    Max,
}

pub trait Comm<F: Float>: Send + Sync {
    fn rank(&self) -> usize;
    fn size(&self) -> usize;
    /// Every rank ends with the element-wise reduction of every rank's `buf`.
    fn all_reduce(&self, buf: &mut [F], op: ReduceOp) -> Result<()>;
    /// `input` is `size` equal chunks; rank r receives the sum of every rank's chunk r.
    fn reduce_scatter(&self, input: &[F], out: &mut [F]) -> Result<()>;
    /// `out` is `size` chunks of `local.len()`; chunk r is rank r's `local`.
    fn all_gather(&self, local: &[F], out: &mut [F]) -> Result<()>;
    /// Point-to-point, matched in order per (sender, receiver) pair.
    fn send(&self, to: usize, buf: &[F]) -> Result<()>;
    fn recv(&self, from: usize, buf: &mut [F]) -> Result<()>;
    fn barrier(&self) -> Result<()>;
}

/// A group of one rank: every collective is the identity.
pub struct Solo;

impl<F: Float> Comm<F> for Solo {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn all_reduce(&self, _buf: &mut [F], _op: ReduceOp) -> Result<()> {
        Ok(())
    }
    fn reduce_scatter(&self, input: &[F], out: &mut [F]) -> Result<()> {
        out.copy_from_slice(input);
        Ok(())
    }
    fn all_gather(&self, local: &[F], out: &mut [F]) -> Result<()> {
        out.copy_from_slice(local);
        Ok(())
    }
    fn send(&self, _to: usize, _buf: &[F]) -> Result<()> {
        anyhow::bail!("send in a group of one")
    }
    fn recv(&self, _from: usize, _buf: &mut [F]) -> Result<()> {
        anyhow::bail!("recv in a group of one")
    }
    fn barrier(&self) -> Result<()> {
        Ok(())
    }
}

/// `out[i]` = the reduction of `parts[r][i]` over ranks r = 0, 1, … in that order: the one
/// reduction every communicator uses, so that every rank (and every implementation) gets
/// bitwise the same result.
pub fn reduce_in_rank_order<F: Float>(parts: &[&[F]], op: ReduceOp, out: &mut [F]) -> Result<()> {
    if parts.iter().any(|p| p.len() != out.len()) {
        anyhow::bail!("ranks posted buffers of different sizes");
    }
    for (i, o) in out.iter_mut().enumerate() {
        let mut acc = parts[0][i];
        for p in &parts[1..] {
            acc = match op {
                ReduceOp::Sum => acc + p[i],
                ReduceOp::Max => acc.max(p[i]),
            };
        }
        *o = acc;
    }
    Ok(())
}
