//! A CPU backend that fails as a GPU fails, so that what the selftest reports about a broken
//! device is tested without one: a kernel that fails (its error kept and reported by the next
//! `synchronize`, as CUDA reports a failed launch; its outputs left unwritten), a kernel that
//! is silently wrong (skipped), and an allocation above a limit (out of memory, named with the
//! bytes asked for; the buffer is still made, as the device keeps going until it synchronizes).

use std::ops::Range;
use std::sync::Mutex;

use anyhow::{bail, Result};

use super::delegate::{delegate_comm, delegate_host_copies, delegate_kernels};
use super::{Backend, Cpu, Float, Role};
use crate::dist::Comm;

/// How a [`Faulty`] device fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Launches of this kernel fail.
    Fails(&'static str),
    /// This kernel does nothing and reports nothing.
    Skips(&'static str),
    /// The device has memory for buffers of at most this many elements.
    Memory(usize),
}

/// See the module's documentation.
pub struct Faulty<F: Float> {
    cpu: Cpu<F>,
    fault: Fault,
    error: Mutex<Option<String>>,
}

impl<F: Float> Faulty<F> {
    pub fn new(fault: Fault) -> Self {
        Faulty {
            cpu: Cpu::new(),
            fault,
            error: Mutex::new(None),
        }
    }

    fn record(&self, e: String) {
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
    }

    fn kernel(&self, name: &'static str) -> bool {
        match self.fault {
            Fault::Fails(k) if k == name => {
                self.record(format!("{name}: an illegal memory access was encountered"));
                false
            }
            Fault::Skips(k) => k != name,
            _ => true,
        }
    }
}

impl<F: Float> Backend for Faulty<F> {
    type F = F;
    type Buf = Vec<F>;
    type Ref<'a> = &'a [F];
    type Mut<'a> = &'a mut [F];
    type Group = dyn Comm<F>;

    fn zeros(&self, n: usize, role: Role) -> Vec<F> {
        if matches!(self.fault, Fault::Memory(m) if n > m) {
            let bytes = n * std::mem::size_of::<F>();
            self.record(format!(
                "out of device memory allocating {bytes} bytes ({n} elements, {role:?})"
            ));
        }
        self.cpu.zeros(n, role)
    }
    fn buf_len(&self, buf: &Vec<F>) -> usize {
        buf.len()
    }
    fn view<'a>(&self, buf: &'a Vec<F>, range: Range<usize>) -> &'a [F] {
        self.cpu.view(buf, range)
    }
    fn view_mut<'a>(&self, buf: &'a mut Vec<F>, range: Range<usize>) -> &'a mut [F] {
        self.cpu.view_mut(buf, range)
    }
    fn view_mut2<'a>(
        &self,
        buf: &'a mut Vec<F>,
        a: Range<usize>,
        b: Range<usize>,
    ) -> (&'a mut [F], &'a mut [F]) {
        self.cpu.view_mut2(buf, a, b)
    }
    delegate_host_copies!(cpu);
    fn synchronize(&self) -> Result<()> {
        match self.error.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(e) => bail!("{e}"),
            None => Ok(()),
        }
    }
    // Communication as the CPU backend does it: only kernels and memory fail.
    delegate_comm!(cpu);
    delegate_kernels!(cpu, kernel);
}
