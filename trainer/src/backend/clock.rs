//! Time per kind of kernel, to see where a training step goes (the step benchmark's GEMM,
//! attention and element-wise shares). A backend built with a clock charges each kernel to its
//! kind with a guard at the kernel's start; nothing wraps or restates the `Backend` trait.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Kernel kinds the time is split into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The linear layers' GEMMs (forward and backward).
    Gemm,
    /// Attention: its batched GEMMs and the softmax between them.
    Attention,
    /// Everything else but the optimizer: embeddings, LayerNorm, GELU, residuals,
    /// cross-entropy, norms, rounding.
    Elementwise,
}

/// Nanoseconds spent per kind.
#[derive(Debug, Default)]
pub struct KernelClock {
    nanos: [AtomicU64; 3],
}

impl KernelClock {
    /// Starts timing a kernel of `kind`; the time is added when the guard drops.
    pub fn start(&self, kind: Kind) -> Tick<'_> {
        Tick {
            clock: self,
            kind,
            start: Instant::now(),
        }
    }

    /// Seconds spent per kind so far.
    pub fn seconds(&self, kind: Kind) -> f64 {
        self.nanos[kind as usize].load(Ordering::Relaxed) as f64 / 1e9
    }

    pub fn reset(&self) {
        for n in &self.nanos {
            n.store(0, Ordering::Relaxed);
        }
    }
}

/// A running kernel's time, charged to its kind on drop.
pub struct Tick<'a> {
    clock: &'a KernelClock,
    kind: Kind,
    start: Instant,
}

impl Drop for Tick<'_> {
    fn drop(&mut self) {
        let spent = self.start.elapsed().as_nanos() as u64;
        self.clock.nanos[self.kind as usize].fetch_add(spent, Ordering::Relaxed);
    }
}
