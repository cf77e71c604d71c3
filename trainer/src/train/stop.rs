//! A graceful stop on SIGTERM: what Slurm sends before a job's time limit (with
//! `--signal=TERM@SECONDS`, or at the limit itself) and what `scancel` sends. The handler only
//! sets a flag; the training loop reads it after each step, every rank agrees on it through
//! one all-reduce (ranks may hear the signal a step apart), and together they save and leave.

use std::sync::atomic::{AtomicBool, Ordering};

static TERMINATE: AtomicBool = AtomicBool::new(false);

extern "C" fn on_terminate(_: libc::c_int) {
    // Only an atomic store: all a signal handler may safely do.
    TERMINATE.store(true, Ordering::SeqCst);
}

/// Routes SIGTERM to the flag instead of ending the process.
pub fn install() {
    // SAFETY: the handler is async-signal-safe (one atomic store) and lives for the program.
    unsafe {
        libc::signal(
            libc::SIGTERM,
            on_terminate as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
}

/// Whether SIGTERM has arrived since `install`.
pub fn requested() -> bool {
    TERMINATE.load(Ordering::SeqCst)
}

/// Sends SIGTERM to a child process (the launcher passes it on to its ranks).
pub fn forward(pid: u32) {
    // SAFETY: kill(2) with a child's pid; an exited child only makes it fail.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
}
