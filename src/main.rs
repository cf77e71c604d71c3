use std::process::ExitCode;

use clap::Parser;
use sieve::cli::{self, Cli, Outcome};

fn main() -> ExitCode {
    // Output piped into `head` ends the process quietly, as it does other Unix tools: Rust
    // ignores SIGPIPE, so `println!` would panic on the closed pipe instead.
    // SAFETY: restoring a signal's default disposition before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    match cli::run(Cli::parse()) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Partial) => ExitCode::from(2),
        Err(e) => {
            // Output piped into `head` is not an error.
            let broken_pipe = e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                return ExitCode::SUCCESS;
            }
            eprintln!("sieve: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
