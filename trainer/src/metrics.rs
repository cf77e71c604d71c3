//! What a run reports: a JSONL or CSV file of per-step metrics (by the file's extension), a
//! progress bar on a terminal or log lines otherwise, and model-FLOPs utilisation against a
//! peak (given, or this CPU's measured GEMM rate).

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::{Context, Result};
use rayon::prelude::*;

use crate::backend::Float;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub step: u64,
    pub loss: f64,
    pub lr: f64,
    pub grad_norm: f64,
    pub batch: u64,
    pub tokens_per_s: f64,
    pub mfu: f64,
    pub val_loss: Option<f64>,
    pub val_ppl: Option<f64>,
}

const CSV_HEADER: &str = "step,loss,lr,grad_norm,batch,tokens_per_s,mfu,val_loss,val_ppl";

pub struct MetricsFile {
    out: std::io::BufWriter<std::fs::File>,
    csv: bool,
}

impl MetricsFile {
    /// Appends to `path` (a resumed run continues its file).
    pub fn open(path: &Path) -> Result<MetricsFile> {
        let csv = path.extension().is_some_and(|e| e == "csv");
        let fresh = !path.exists();
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let mut m = MetricsFile {
            out: std::io::BufWriter::new(f),
            csv,
        };
        if csv && fresh {
            writeln!(m.out, "{CSV_HEADER}")?;
        }
        Ok(m)
    }

    pub fn write(&mut self, r: &Record) -> Result<()> {
        if self.csv {
            let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
            writeln!(
                self.out,
                "{},{},{},{},{},{},{},{},{}",
                r.step,
                r.loss,
                r.lr,
                r.grad_norm,
                r.batch,
                r.tokens_per_s,
                r.mfu,
                opt(r.val_loss),
                opt(r.val_ppl)
            )?;
        } else {
            serde_json::to_writer(&mut self.out, r)?;
            writeln!(self.out)?;
        }
        self.out.flush()?;
        Ok(())
    }
}

/// A terminal progress bar, or a log line every `every` steps.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    every: u64,
    quiet: bool,
}

impl Progress {
    pub fn new(total: u64, start: u64, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let b = indicatif::ProgressBar::new(total);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} steps {msg} [{elapsed} < {eta}]",
                )
                .expect("template"),
            );
            b.set_position(start);
            b
        });
        Progress {
            bar,
            every: 10,
            quiet,
        }
    }

    pub fn step(&self, r: &Record) {
        if self.quiet {
            return;
        }
        let msg = format!(
            "loss {:.4} lr {:.2e} grad norm {:.3} {:.0} tok/s mfu {:.1}%",
            r.loss,
            r.lr,
            r.grad_norm,
            r.tokens_per_s,
            100.0 * r.mfu
        );
        match &self.bar {
            Some(b) => {
                b.set_position(r.step);
                b.set_message(msg);
            }
            None => {
                if r.step.is_multiple_of(self.every) || r.val_loss.is_some() {
                    eprintln!("step {} {msg}", r.step);
                }
            }
        }
    }

    pub fn println(&self, line: &str) {
        if self.quiet {
            return;
        }
        match &self.bar {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish();
        }
    }
}

/// This machine's f32 GEMM rate in FLOP/s with every rayon thread busy (one 512³ product per
/// thread through the backend's GEMM kernel, best of a few rounds): the peak MFU is measured
/// against on a CPU.
pub fn measure_cpu_gemm_peak() -> f64 {
    let n = 512;
    let threads = rayon::current_num_threads();
    let a = vec![1.0f32; n * n];
    let b = vec![0.5f32; n * n];
    let mut best = 0.0f64;
    for _ in 0..5 {
        let t = std::time::Instant::now();
        (0..threads).into_par_iter().for_each(|_| {
            let mut c = vec![0.0f32; n * n];
            for _ in 0..2 {
                // SAFETY: a, b and c are n × n, row-major, and c is its own buffer.
                unsafe {
                    <f32 as Float>::gemm(
                        n,
                        n,
                        n,
                        1.0,
                        a.as_ptr(),
                        n as isize,
                        1,
                        b.as_ptr(),
                        n as isize,
                        1,
                        0.0,
                        c.as_mut_ptr(),
                        n as isize,
                        1,
                    )
                }
            }
            std::hint::black_box(&c);
        });
        let flops = (threads * 2 * 2 * n * n * n) as f64;
        best = best.max(flops / t.elapsed().as_secs_f64());
    }
    best
}
