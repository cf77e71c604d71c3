//! The GPU side of [`crate::dist::watchdog`]: the rank's NCCL communicators with their group
//! names, the last collective issued on each group, and a stream wait that polls
//! `cuStreamQuery` and `ncclCommGetAsyncError` instead of blocking in `cuStreamSynchronize`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{bail, Result};
use cudarc::driver::sys as cusys;
use cudarc::nccl::sys as ncclsys;

use super::context::Cuda;
use crate::dist::watchdog::{self, LastIssued, Progress};

/// What the watchdog knows of the rank's communicators.
pub(super) struct Watch {
    /// Each live communicator (as an address: the handle is a raw pointer) and its group.
    comms: Vec<(&'static str, usize)>,
    /// Set once the communicators were aborted: they must not be destroyed as well.
    pub(super) aborted: bool,
    last: LastIssued,
    timeout: Duration,
}

pub(super) type SharedWatch = Arc<Mutex<Watch>>;

/// `--comm-timeout`'s default, as for the TCP communicator.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

pub(super) fn new_watch() -> SharedWatch {
    Arc::new(Mutex::new(Watch {
        comms: Vec::new(),
        aborted: false,
        last: LastIssued::default(),
        timeout: DEFAULT_TIMEOUT,
    }))
}

pub(super) fn lock(w: &SharedWatch) -> MutexGuard<'_, Watch> {
    w.lock().unwrap_or_else(|e| e.into_inner())
}

impl Watch {
    pub(super) fn register(&mut self, group: &'static str, comm: ncclsys::ncclComm_t) {
        self.comms.push((group, comm as usize));
    }

    pub(super) fn unregister(&mut self, comm: ncclsys::ncclComm_t) {
        self.comms.retain(|&(_, c)| c != comm as usize);
    }
}

/// One stream's work and the communicators it may wait on.
struct StreamProgress<'a> {
    stream: cusys::CUstream,
    watch: &'a mut Watch,
}

impl Progress for StreamProgress<'_> {
    fn done(&mut self) -> Result<bool> {
        // SAFETY: a live stream of this context.
        match unsafe { cusys::cuStreamQuery(self.stream) } {
            cusys::CUresult::CUDA_SUCCESS => Ok(true),
            cusys::CUresult::CUDA_ERROR_NOT_READY => Ok(false),
            e => bail!("cuStreamQuery: {e:?}"),
        }
    }

    fn comm_error(&mut self) -> Option<(String, String)> {
        for &(group, comm) in &self.watch.comms {
            let mut state = ncclsys::ncclResult_t::ncclSuccess;
            // SAFETY: a live communicator (unregistered before it is destroyed).
            let r =
                unsafe { ncclsys::ncclCommGetAsyncError(comm as ncclsys::ncclComm_t, &mut state) };
            if r != ncclsys::ncclResult_t::ncclSuccess {
                return Some((group.to_string(), format!("{r:?} asking for its state")));
            }
            if !matches!(
                state,
                ncclsys::ncclResult_t::ncclSuccess | ncclsys::ncclResult_t::ncclInProgress
            ) {
                return Some((group.to_string(), format!("{state:?}")));
            }
        }
        None
    }

    fn abort(&mut self) {
        for &(_, comm) in &self.watch.comms {
            // SAFETY: a live communicator; marked aborted below, so never destroyed after.
            unsafe { ncclsys::ncclCommAbort(comm as ncclsys::ncclComm_t) };
        }
        self.watch.comms.clear();
        self.watch.aborted = true;
    }
}

impl Cuda {
    /// How long a wait on the device may last before the communicators are aborted.
    pub fn set_comm_timeout(&self, timeout: Duration) {
        lock(&self.watch).timeout = timeout;
    }

    /// Records `collective` as the last one issued on `group` (named in a timeout's error).
    pub(super) fn issued(&self, group: &'static str, collective: impl FnOnce() -> String) {
        lock(&self.watch).last.issued(group, collective());
    }

    /// Waits for everything issued on the compute stream (which waits for the communication
    /// stream's buckets), failing instead of hanging on a collective that cannot finish.
    pub(super) fn wait_stream(&self, what: &str) -> Result<()> {
        let mut w = lock(&self.watch);
        let (timeout, last) = (w.timeout, w.last.clone());
        let mut p = StreamProgress {
            stream: self.stream.cu_stream(),
            watch: &mut w,
        };
        watchdog::wait(&mut p, what, timeout, &last)
    }
}
