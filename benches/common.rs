//! Helpers shared by the benchmarks (included with `#[path]`, as bench targets are separate
//! crates).

use std::time::Duration;

/// CPU time of the calling thread: benchmarks compare work done, not wall time on a shared box.
pub fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
