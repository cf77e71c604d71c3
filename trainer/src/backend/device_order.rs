//! The CPU kernels with a GPU's ordering of communication, so that CPU tests catch what only a
//! GPU run would otherwise show. [`Cpu`] copies a send's data and finishes every collective
//! before it returns; NCCL does neither:
//!
//! - Inside `ncclGroupStart`/`ncclGroupEnd`, sends and receives only take effect at the group's
//!   end. A send reads its buffer then, and a buffer freed before then is likely handed to the
//!   next allocation of its size (a zeroed receive buffer, in a pipeline). Here a grouped send
//!   reads its buffer at group end; one released before then sends NaN (poison). A grouped
//!   receive fills its buffer with NaN until group end, so an early read shows.
//! - An overlapped all-reduce (the data-parallel gradient buckets) runs on another stream:
//!   its buffer must not be written after it is issued, and must not be read until
//!   [`Backend::wait_overlapped`]. Here the buffer holds NaN while the reduction is in flight,
//!   and the reduction happens at the wait; a buffer written or released meanwhile, or another
//!   collective issued on the group meanwhile, is an error.
//!
//! A buffer written between a grouped send and the group's end is an error too (NCCL would send
//! either version). Results are otherwise bitwise those of [`Cpu`]: the same kernels, the same
//! reductions, only later.

use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{bail, Result};

use super::delegate::{delegate_host_copies, delegate_kernels};
use super::{Backend, Cpu, Float, Role};
use crate::dist::{Comm, ReduceOp};

/// A transfer issued but not yet carried out: the address range it reads or writes.
struct Transfer<F> {
    what: Kind,
    /// The process group's address: a group's transfers must end on that group.
    group: usize,
    addr: usize,
    len: usize,
    /// What the buffer held when the transfer was issued (sends and reductions).
    issued: Vec<F>,
    /// The buffer was dropped before the transfer was carried out.
    released: bool,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Send(usize),
    Recv(usize),
    AllReduce(ReduceOp),
}

struct Pending<F> {
    /// Nesting depth of p2p groups (NCCL's group calls nest).
    depth: usize,
    grouped: Vec<Transfer<F>>,
    overlapped: Vec<Transfer<F>>,
    /// Grouped sends that went out as poison because their buffer had been released.
    poisoned: usize,
}

type Shared<F> = Arc<Mutex<Pending<F>>>;

fn lock<F>(p: &Shared<F>) -> MutexGuard<'_, Pending<F>> {
    // A panicking test thread must not turn every later drop into a second panic.
    p.lock().unwrap_or_else(|e| e.into_inner())
}

/// A buffer that tells its backend when it is released, so transfers still pending on it are
/// marked (the stream-ordered allocator's reuse, made visible).
pub struct DevBuf<F> {
    data: Vec<F>,
    pending: Option<Shared<F>>,
}

impl<F> Default for DevBuf<F> {
    fn default() -> Self {
        DevBuf {
            data: Vec::new(),
            pending: None,
        }
    }
}

impl<F> Drop for DevBuf<F> {
    fn drop(&mut self) {
        let Some(p) = &self.pending else { return };
        let lo = self.data.as_ptr() as usize;
        let hi = lo + std::mem::size_of_val(self.data.as_slice());
        let mut p = lock(p);
        let Pending {
            grouped,
            overlapped,
            ..
        } = &mut *p;
        for t in grouped.iter_mut().chain(overlapped.iter_mut()) {
            if t.len > 0 && (lo..hi).contains(&t.addr) {
                t.released = true;
            }
        }
    }
}

/// See the module's documentation.
pub struct DeviceOrder<F: Float> {
    cpu: Cpu<F>,
    pending: Shared<F>,
}

impl<F: Float> DeviceOrder<F> {
    /// # Safety
    ///
    /// As with NCCL and device memory: a buffer given to a grouped receive or an overlapped
    /// all-reduce must not be borrowed when its group ends or its wait is made (the backend
    /// writes it then). The trainer's schedules keep to this. Released buffers are detected,
    /// never read.
    pub unsafe fn new() -> Self {
        DeviceOrder {
            cpu: Cpu::new(),
            pending: Arc::new(Mutex::new(Pending {
                depth: 0,
                grouped: Vec::new(),
                overlapped: Vec::new(),
                poisoned: 0,
            })),
        }
    }

    /// Grouped sends so far whose buffer had been released before their group ended.
    pub fn poisoned_sends(&self) -> usize {
        lock(&self.pending).poisoned
    }

    fn transfer(group: &dyn Comm<F>, what: Kind, buf: &[F], issued: Vec<F>) -> Transfer<F> {
        Transfer {
            what,
            group: group_addr(group),
            addr: buf.as_ptr() as usize,
            len: buf.len(),
            issued,
            released: false,
        }
    }
}

fn group_addr<F: Float>(group: &dyn Comm<F>) -> usize {
    group as *const dyn Comm<F> as *const () as usize
}

fn poison<F: Float>() -> F {
    F::from_f64(f64::NAN)
}

fn same_bits<F: Float>(a: &[F], b: &[F]) -> bool {
    a.iter()
        .zip(b)
        .all(|(x, y)| x.to_f64().to_bits() == y.to_f64().to_bits())
}

/// The still-live buffer of a pending transfer.
///
/// SAFETY: the transfer is not released, so its buffer is alive; `DeviceOrder::new`'s contract
/// says nothing borrows it now.
unsafe fn buffer<'a, F>(t: &Transfer<F>) -> &'a mut [F] {
    std::slice::from_raw_parts_mut(t.addr as *mut F, t.len)
}

impl<F: Float> Backend for DeviceOrder<F> {
    type F = F;
    type Buf = DevBuf<F>;
    type Ref<'a> = &'a [F];
    type Mut<'a> = &'a mut [F];
    type Group = dyn Comm<F>;

    fn zeros(&self, n: usize, _role: Role) -> DevBuf<F> {
        DevBuf {
            data: vec![F::ZERO; n],
            pending: Some(Arc::clone(&self.pending)),
        }
    }
    fn buf_len(&self, buf: &DevBuf<F>) -> usize {
        buf.data.len()
    }
    fn view<'a>(&self, buf: &'a DevBuf<F>, range: Range<usize>) -> &'a [F] {
        &buf.data[range]
    }
    fn view_mut<'a>(&self, buf: &'a mut DevBuf<F>, range: Range<usize>) -> &'a mut [F] {
        &mut buf.data[range]
    }
    fn view_mut2<'a>(
        &self,
        buf: &'a mut DevBuf<F>,
        a: Range<usize>,
        b: Range<usize>,
    ) -> (&'a mut [F], &'a mut [F]) {
        assert!(a.end <= b.start, "ranges out of order");
        let (lo, hi) = buf.data.split_at_mut(b.start);
        (&mut lo[a], &mut hi[..b.end - b.start])
    }
    delegate_host_copies!(cpu);
    fn synchronize(&self) -> Result<()> {
        Ok(())
    }

    fn single_group(&self) -> Box<dyn Comm<F>> {
        self.cpu.single_group()
    }
    fn group_rank(&self, group: &dyn Comm<F>) -> usize {
        group.rank()
    }
    fn group_size(&self, group: &dyn Comm<F>) -> usize {
        group.size()
    }
    fn all_reduce(&self, group: &dyn Comm<F>, buf: &mut [F], op: ReduceOp) -> Result<()> {
        self.not_in_flight(group, "all_reduce")?;
        group.all_reduce(buf, op)
    }
    fn all_reduce_overlapped(
        &self,
        group: &dyn Comm<F>,
        buf: &mut [F],
        op: ReduceOp,
    ) -> Result<()> {
        let issued = buf.to_vec();
        buf.fill(poison());
        let t = Self::transfer(group, Kind::AllReduce(op), buf, issued);
        lock(&self.pending).overlapped.push(t);
        Ok(())
    }
    fn wait_overlapped(&self, group: &dyn Comm<F>) -> Result<()> {
        let flight = std::mem::take(&mut lock(&self.pending).overlapped);
        for (i, mut t) in flight.into_iter().enumerate() {
            let Kind::AllReduce(op) = t.what else {
                unreachable!("only reductions overlap")
            };
            if t.group != group_addr(group) {
                bail!("overlapped all-reduce {i} was issued on another group than it is waited on");
            }
            if t.released {
                bail!(
                    "the buffer of overlapped all-reduce {i} ({} elements) was released while \
                     the reduction was in flight",
                    t.len
                );
            }
            // SAFETY: not released; see `buffer`.
            let buf = unsafe { buffer(&t) };
            if !buf.iter().all(|x| x.to_f64().is_nan()) {
                bail!(
                    "the buffer of overlapped all-reduce {i} ({} elements) was written while \
                     the reduction was in flight",
                    t.len
                );
            }
            group.all_reduce(&mut t.issued, op)?;
            buf.copy_from_slice(&t.issued);
        }
        Ok(())
    }
    fn reduce_scatter(&self, group: &dyn Comm<F>, input: &[F], out: &mut [F]) -> Result<()> {
        self.not_in_flight(group, "reduce_scatter")?;
        group.reduce_scatter(input, out)
    }
    fn all_gather(&self, group: &dyn Comm<F>, local: &[F], out: &mut [F]) -> Result<()> {
        self.not_in_flight(group, "all_gather")?;
        group.all_gather(local, out)
    }
    fn send(&self, group: &dyn Comm<F>, to: usize, buf: &[F]) -> Result<()> {
        let mut p = lock(&self.pending);
        if p.depth == 0 {
            drop(p);
            return group.send(to, buf);
        }
        p.grouped
            .push(Self::transfer(group, Kind::Send(to), buf, buf.to_vec()));
        Ok(())
    }
    fn p2p_group_start(&self, _group: &dyn Comm<F>) {
        lock(&self.pending).depth += 1;
    }
    fn p2p_group_end(&self, group: &dyn Comm<F>) -> Result<()> {
        let grouped = {
            let mut p = lock(&self.pending);
            if p.depth == 0 {
                bail!("p2p_group_end without p2p_group_start");
            }
            p.depth -= 1;
            if p.depth > 0 {
                return Ok(());
            }
            std::mem::take(&mut p.grouped)
        };
        if grouped.iter().any(|t| t.group != group_addr(group)) {
            bail!("a grouped transfer was issued on another group than the one ending");
        }
        // Sends first: each side's receives then find the other's messages posted, whatever
        // order the group listed them in (NCCL matches a group's transfers as a whole).
        for t in grouped.iter().filter(|t| matches!(t.what, Kind::Send(_))) {
            let Kind::Send(to) = t.what else {
                unreachable!()
            };
            if t.released {
                lock(&self.pending).poisoned += 1;
                group.send(to, &vec![poison::<F>(); t.len])?;
                continue;
            }
            // SAFETY: not released; see `buffer`.
            let buf = unsafe { buffer(t) };
            if !same_bits(buf, &t.issued) {
                bail!(
                    "the buffer of a grouped send to rank {to} ({} elements) was written \
                     before the group ended",
                    t.len
                );
            }
            group.send(to, buf)?;
        }
        for t in grouped.iter().filter(|t| matches!(t.what, Kind::Recv(_))) {
            let Kind::Recv(from) = t.what else {
                unreachable!()
            };
            let mut got = vec![F::ZERO; t.len];
            group.recv(from, &mut got)?;
            if t.released {
                bail!(
                    "the buffer of a grouped receive from rank {from} ({} elements) was \
                     released before the group ended",
                    t.len
                );
            }
            // SAFETY: not released; see `buffer`.
            unsafe { buffer(t) }.copy_from_slice(&got);
        }
        Ok(())
    }
    fn recv(&self, group: &dyn Comm<F>, from: usize, buf: &mut [F]) -> Result<()> {
        let mut p = lock(&self.pending);
        if p.depth == 0 {
            drop(p);
            return group.recv(from, buf);
        }
        buf.fill(poison());
        p.grouped
            .push(Self::transfer(group, Kind::Recv(from), buf, Vec::new()));
        Ok(())
    }

    delegate_kernels!(cpu, kernel);
}

impl<F: Float> DeviceOrder<F> {
    /// Kernels run as the CPU runs them: only communication is reordered.
    fn kernel(&self, _name: &'static str) -> bool {
        true
    }

    /// NCCL runs a communicator's collectives in issue order on its stream; one issued on the
    /// compute stream while overlapped reductions are in flight on the same group would race
    /// them (the loss all-reduce among the gradient buckets).
    fn not_in_flight(&self, group: &dyn Comm<F>, what: &str) -> Result<()> {
        let p = lock(&self.pending);
        let n = p
            .overlapped
            .iter()
            .filter(|t| t.group == group_addr(group))
            .count();
        if n > 0 {
            bail!("{what} issued on a group with {n} overlapped all-reduces in flight");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::BackendExt;
    use crate::dist::ThreadGroup;

    fn device() -> DeviceOrder<f64> {
        // SAFETY: the tests hold no view across a group's end or a wait.
        unsafe { DeviceOrder::new() }
    }

    /// Runs `f(rank, backend, comm)` on two ranks as threads; returns each rank's result.
    fn two_ranks<T: Send>(
        f: impl Fn(usize, &DeviceOrder<f64>, &(dyn Comm<f64> + 'static)) -> T + Sync,
    ) -> Vec<T> {
        let group = ThreadGroup::new(2);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|r| {
                    let (comm, f) = (group.comm(r), &f);
                    s.spawn(move || f(r, &device(), &comm))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    #[test]
    fn a_grouped_send_of_a_released_buffer_delivers_poison_and_a_kept_one_its_data() {
        let got = two_ranks(|rank, be, comm| {
            if rank == 0 {
                be.p2p_group_start(comm);
                let released = be.uploaded(&[1.0, 2.0], Role::Activation);
                be.send(comm, 1, be.whole(&released)).unwrap();
                drop(released);
                let kept = be.uploaded(&[3.0, 4.0], Role::Activation);
                be.send(comm, 1, be.whole(&kept)).unwrap();
                be.p2p_group_end(comm).unwrap();
                assert_eq!(be.poisoned_sends(), 1);
                vec![]
            } else {
                let mut a = be.zeros(2, Role::Activation);
                let mut b = be.zeros(2, Role::Activation);
                be.recv(comm, 0, be.whole_mut(&mut a)).unwrap();
                be.recv(comm, 0, be.whole_mut(&mut b)).unwrap();
                [be.to_host(be.whole(&a), 2), be.to_host(be.whole(&b), 2)].concat()
            }
        });
        assert!(got[1][0].is_nan() && got[1][1].is_nan(), "{:?}", got[1]);
        assert_eq!(&got[1][2..], &[3.0, 4.0]);
    }

    #[test]
    fn a_grouped_receive_holds_poison_until_the_group_ends() {
        let got = two_ranks(|rank, be, comm| {
            let mut buf = be.uploaded(&[5.0, 6.0], Role::Activation);
            be.p2p_group_start(comm);
            let other = 1 - rank;
            be.send(comm, other, be.whole(&buf)).unwrap();
            let mut into = be.zeros(2, Role::Activation);
            be.recv(comm, other, be.whole_mut(&mut into)).unwrap();
            let early = be.to_host(be.whole(&into), 2);
            be.p2p_group_end(comm).unwrap();
            be.fill_zero(be.whole_mut(&mut buf));
            (early, be.to_host(be.whole(&into), 2))
        });
        for (early, late) in got {
            assert!(early.iter().all(|x| x.is_nan()), "{early:?}");
            assert_eq!(late, [5.0, 6.0]);
        }
    }

    #[test]
    fn a_send_buffer_written_before_its_group_ends_is_an_error() {
        let errors = two_ranks(|rank, be, comm| {
            if rank == 1 {
                // Nothing is sent: the sender fails at its group's end.
                comm.barrier().unwrap();
                return String::new();
            }
            let mut buf = be.uploaded(&[1.0], Role::Activation);
            be.p2p_group_start(comm);
            be.send(comm, 1, be.whole(&buf)).unwrap();
            be.fill_zero(be.whole_mut(&mut buf));
            let e = be.p2p_group_end(comm).unwrap_err().to_string();
            comm.barrier().unwrap();
            e
        });
        assert!(
            errors[0].contains("written before the group ended"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn an_overlapped_all_reduce_is_poison_until_its_wait_then_the_sum() {
        let got = two_ranks(|rank, be, comm| {
            let mut g = be.uploaded(&[rank as f64 + 1.0, 10.0], Role::Grad);
            be.all_reduce_overlapped(comm, be.whole_mut(&mut g), ReduceOp::Sum)
                .unwrap();
            let in_flight = be.to_host(be.whole(&g), 2);
            be.wait_overlapped(comm).unwrap();
            (in_flight, be.to_host(be.whole(&g), 2))
        });
        for (in_flight, done) in got {
            assert!(in_flight.iter().all(|x| x.is_nan()), "{in_flight:?}");
            assert_eq!(done, [3.0, 20.0]);
        }
    }

    #[test]
    fn writing_releasing_or_reducing_again_during_an_overlapped_all_reduce_is_an_error() {
        type Misstep =
            fn(&DeviceOrder<f64>, &(dyn Comm<f64> + 'static), &mut DevBuf<f64>) -> Result<()>;
        let cases: [(&str, Misstep); 3] = [
            (
                "written while the reduction was in flight",
                |be, comm, g| {
                    be.fill_zero(be.whole_mut(g));
                    be.wait_overlapped(comm)
                },
            ),
            (
                "released while the reduction was in flight",
                |be, comm, g| {
                    drop(std::mem::take(g));
                    be.wait_overlapped(comm)
                },
            ),
            (
                "all_reduce issued on a group with 1 overlapped",
                |be, comm, _| {
                    let mut loss = be.uploaded(&[1.0], Role::Stat);
                    be.all_reduce(comm, be.whole_mut(&mut loss), ReduceOp::Sum)
                },
            ),
        ];
        for (want, misstep) in cases {
            let got = two_ranks(|_, be, comm| {
                let mut g = be.uploaded(&[1.0, 2.0], Role::Grad);
                be.all_reduce_overlapped(comm, be.whole_mut(&mut g), ReduceOp::Sum)
                    .unwrap();
                misstep(be, comm, &mut g).unwrap_err().to_string()
            });
            for e in got {
                assert!(e.contains(want), "{want}: {e}");
            }
        }
    }
}
