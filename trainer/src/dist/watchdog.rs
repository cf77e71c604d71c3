//! Waiting for a device without hanging on a collective that will never finish. A NCCL
//! collective that one rank did not issue (or issued with another size) blocks the others'
//! kernels forever, and a blocking stream synchronize with them. So the CUDA backend waits by
//! polling: is the work done, has a communicator reported an asynchronous error
//! (`ncclCommGetAsyncError`), has the wait lasted longer than `--comm-timeout`? On an error or
//! the timeout it aborts every communicator (`ncclCommAbort`, which makes the stuck kernels
//! return) and fails with the group and the last collective issued on it, as the TCP
//! communicator does. The loop is here, apart from CUDA, so that it is tested on the CPU.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

/// What a wait asks of a device and its communicators.
pub trait Progress {
    /// Whether the awaited work has finished (`cuStreamQuery`); an error is the device's.
    fn done(&mut self) -> Result<bool>;
    /// The first communicator that reports an asynchronous error: its group and the error.
    fn comm_error(&mut self) -> Option<(String, String)>;
    /// Aborts every communicator, so that kernels waiting on a peer return.
    fn abort(&mut self);
}

/// The last collective issued on each group: what a failure names.
#[derive(Debug, Default, Clone)]
pub struct LastIssued {
    groups: Vec<(String, String)>,
}

impl LastIssued {
    /// Records `collective` as the last one issued on `group`.
    pub fn issued(&mut self, group: &str, collective: String) {
        match self.groups.iter_mut().find(|(g, _)| g == group) {
            Some((_, c)) => *c = collective,
            None => self.groups.push((group.to_string(), collective)),
        }
    }

    fn on(&self, group: &str) -> &str {
        self.groups
            .iter()
            .find(|(g, _)| g == group)
            .map_or("none issued", |(_, c)| c.as_str())
    }

    fn all(&self) -> String {
        if self.groups.is_empty() {
            return "no collective issued".into();
        }
        self.groups
            .iter()
            .map(|(g, c)| format!("{g} group: {c}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Waits for `p`'s work for at most `timeout`, polling ever less often (from 10 µs to 1 ms, so
/// that short waits cost little and long ones no CPU). `what` names the wait in the error.
pub fn wait(p: &mut dyn Progress, what: &str, timeout: Duration, last: &LastIssued) -> Result<()> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(10);
    loop {
        if p.done()? {
            return Ok(());
        }
        if let Some((group, err)) = p.comm_error() {
            p.abort();
            bail!(
                "{what}: NCCL reported {err} on the {group} group (its last collective: {}); \
                 every communicator was aborted",
                last.on(&group)
            );
        }
        if start.elapsed() >= timeout {
            p.abort();
            bail!(
                "{what}: no progress in {} s (--comm-timeout); a rank did not issue a \
                 collective the others did, or issued another. Last issued: {}. Every \
                 communicator was aborted",
                timeout.as_secs_f64(),
                last.all()
            );
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device that finishes after `polls` queries, or reports `error` on `group` then.
    struct Fake {
        polls: usize,
        asked: usize,
        error: Option<(String, String)>,
        device_error: bool,
        aborted: bool,
    }

    impl Fake {
        fn new(polls: usize) -> Fake {
            Fake {
                polls,
                asked: 0,
                error: None,
                device_error: false,
                aborted: false,
            }
        }
    }

    impl Progress for Fake {
        fn done(&mut self) -> Result<bool> {
            self.asked += 1;
            if self.device_error && self.asked == self.polls {
                bail!("an illegal address was encountered");
            }
            Ok(self.error.is_none() && !self.device_error && self.asked > self.polls)
        }
        fn comm_error(&mut self) -> Option<(String, String)> {
            match self.asked >= self.polls {
                true => self.error.clone(),
                false => None,
            }
        }
        fn abort(&mut self) {
            self.aborted = true;
        }
    }

    fn last() -> LastIssued {
        let mut l = LastIssued::default();
        l.issued("tensor-parallel", "ncclAllReduce of 4096 elements".into());
        l.issued("data-parallel", "ncclAllReduce of 10 elements".into());
        l.issued("data-parallel", "ncclAllReduce of 1 element".into());
        l
    }

    #[test]
    fn work_that_finishes_is_waited_for_and_nothing_is_aborted() {
        let mut f = Fake::new(50);
        wait(&mut f, "synchronize", Duration::from_secs(10), &last()).unwrap();
        assert_eq!(f.asked, 51);
        assert!(!f.aborted);
    }

    #[test]
    fn an_asynchronous_nccl_error_aborts_and_names_the_group_and_its_last_collective() {
        let mut f = Fake::new(3);
        f.error = Some(("data-parallel".into(), "ncclRemoteError".into()));
        let e = wait(&mut f, "synchronize", Duration::from_secs(10), &last())
            .unwrap_err()
            .to_string();
        assert!(f.aborted);
        assert!(
            e.contains("ncclRemoteError on the data-parallel group"),
            "{e}"
        );
        assert!(
            e.contains("its last collective: ncclAllReduce of 1 element"),
            "{e}"
        );
    }

    #[test]
    fn a_wait_past_the_timeout_aborts_and_names_every_groups_last_collective() {
        let mut f = Fake::new(usize::MAX);
        let started = Instant::now();
        let e = wait(&mut f, "download", Duration::from_millis(30), &last())
            .unwrap_err()
            .to_string();
        assert!(started.elapsed() >= Duration::from_millis(30));
        assert!(f.aborted);
        assert!(e.starts_with("download: no progress in 0.03 s"), "{e}");
        assert!(
            e.contains(
                "tensor-parallel group: ncclAllReduce of 4096 elements; \
                 data-parallel group: ncclAllReduce of 1 element"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_device_error_is_returned_as_it_is() {
        let mut f = Fake::new(2);
        f.device_error = true;
        let e = wait(&mut f, "synchronize", Duration::from_secs(10), &last())
            .unwrap_err()
            .to_string();
        assert_eq!(e, "an illegal address was encountered");
        assert!(!f.aborted);
    }
}
