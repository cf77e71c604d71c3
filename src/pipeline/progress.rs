//! Progress: an indicatif bar on a terminal, periodic log lines otherwise (Slurm logs, CI),
//! so that a long run always says how far it is and how fast it goes.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Default)]
struct Counters {
    files_done: AtomicU64,
    docs: AtomicU64,
    bytes: AtomicU64,
}

/// Shared by the workers of one run.
pub struct Progress {
    total_files: u64,
    counters: Arc<Counters>,
    bar: Option<ProgressBar>,
    stop: Arc<AtomicBool>,
    logger: Mutex<Option<JoinHandle<()>>>,
    started: Instant,
    quiet: bool,
}

/// How often the log-line mode reports (override with `SIEVE_PROGRESS_SECS`).
fn log_interval() -> Duration {
    std::env::var("SIEVE_PROGRESS_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(30))
}

fn line(label: &str, done: u64, total: u64, docs: u64, bytes: u64, elapsed: f64) -> String {
    let rate = docs as f64 / elapsed.max(1e-9);
    let mbps = bytes as f64 / 1e6 / elapsed.max(1e-9);
    let eta = if done > 0 && done < total {
        format!(
            ", ETA {:.0}s",
            elapsed / done as f64 * (total - done) as f64
        )
    } else {
        String::new()
    };
    format!("{label}: {done}/{total} files, {docs} docs, {rate:.0} docs/s, {mbps:.1} MB/s{eta}")
}

impl Progress {
    pub fn new(label: &str, total_files: u64, quiet: bool) -> Progress {
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let mut bar = None;
        let mut logger = None;
        if !quiet && std::io::stderr().is_terminal() {
            let b = ProgressBar::with_draw_target(Some(total_files), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} files {msg} (ETA {eta})",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            b.set_prefix(label.to_string());
            b.enable_steady_tick(Duration::from_millis(200));
            bar = Some(b);
        } else if !quiet {
            let (c, s, label) = (counters.clone(), stop.clone(), label.to_string());
            let interval = log_interval();
            logger = Some(std::thread::spawn(move || {
                let mut next = Instant::now() + interval;
                while !s.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                    if Instant::now() >= next {
                        next += interval;
                        eprintln!(
                            "{}",
                            line(
                                &label,
                                c.files_done.load(Ordering::Relaxed),
                                total_files,
                                c.docs.load(Ordering::Relaxed),
                                c.bytes.load(Ordering::Relaxed),
                                started.elapsed().as_secs_f64()
                            )
                        );
                    }
                }
            }));
        }
        Progress {
            total_files,
            counters,
            bar,
            stop,
            logger: Mutex::new(logger),
            started,
            quiet,
        }
    }

    pub fn add_docs(&self, docs: u64, bytes: u64) {
        self.counters.docs.fetch_add(docs, Ordering::Relaxed);
        let bytes = self.counters.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if let Some(b) = &self.bar {
            let docs = self.counters.docs.load(Ordering::Relaxed);
            let secs = self.started.elapsed().as_secs_f64().max(1e-9);
            b.set_message(format!(
                "{docs} docs, {:.0} docs/s, {:.1} MB/s",
                docs as f64 / secs,
                bytes as f64 / 1e6 / secs
            ));
        }
    }

    pub fn file_done(&self) {
        self.counters.files_done.fetch_add(1, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }

    /// Prints a message without tearing the bar.
    pub fn println(&self, msg: &str) {
        match &self.bar {
            Some(b) => b.suspend(|| eprintln!("{msg}")),
            None => eprintln!("{msg}"),
        }
    }

    /// Stops the bar or the logger and prints a final line.
    pub fn finish(&self, label: &str) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.logger.lock().expect("logger lock").take() {
            let _ = h.join();
        }
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        if !self.quiet {
            eprintln!(
                "{}",
                line(
                    label,
                    self.counters.files_done.load(Ordering::Relaxed),
                    self.total_files,
                    self.counters.docs.load(Ordering::Relaxed),
                    self.counters.bytes.load(Ordering::Relaxed),
                    self.started.elapsed().as_secs_f64()
                )
            );
        }
    }
}
