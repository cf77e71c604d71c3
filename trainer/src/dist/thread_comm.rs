//! Ranks as threads of one process: the communicator the multi-rank tests run on. Every
//! collective is an exchange (each rank posts its buffer, then reads everyone's), and each
//! rank reduces the posted buffers itself in rank order, so every rank gets bitwise the same
//! result whatever the arrival order. Each rank records the collectives it issued, so tests
//! can assert that all ranks of a group called the same collectives in the same order (the
//! mismatch that hangs NCCL jobs). A rank that waits longer than the timeout gets an error
//! naming the collective instead of hanging.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::{bail, Result};

use super::comm::{reduce_in_rank_order, Comm, ReduceOp};
use crate::backend::Float;

type Payload = Box<dyn Any + Send + Sync>;

struct State {
    slots: Vec<Option<Arc<Payload>>>,
    arrived: usize,
    left: usize,
    draining: bool,
    mail: HashMap<(usize, usize), VecDeque<Payload>>,
    traces: Vec<Vec<String>>,
}

/// One process group shared by its ranks' threads.
pub struct ThreadGroup {
    size: usize,
    state: Mutex<State>,
    cv: Condvar,
    timeout: Duration,
}

impl ThreadGroup {
    pub fn new(size: usize) -> Arc<ThreadGroup> {
        Arc::new(ThreadGroup {
            size,
            state: Mutex::new(State {
                slots: vec![None; size],
                arrived: 0,
                left: 0,
                draining: false,
                mail: HashMap::new(),
                traces: vec![Vec::new(); size],
            }),
            cv: Condvar::new(),
            timeout: Duration::from_secs(120),
        })
    }

    /// The communicator of rank `rank` in this group.
    pub fn comm(self: &Arc<Self>, rank: usize) -> ThreadComm {
        assert!(rank < self.size);
        ThreadComm {
            group: Arc::clone(self),
            rank,
        }
    }

    /// The collectives each rank issued, in order.
    pub fn traces(&self) -> Vec<Vec<String>> {
        self.state.lock().unwrap().traces.clone()
    }
}

pub struct ThreadComm {
    group: Arc<ThreadGroup>,
    rank: usize,
}

impl ThreadComm {
    fn trace(&self, what: String) {
        self.group.state.lock().unwrap().traces[self.rank].push(what);
    }

    /// Posts `data`, waits for every rank's, returns them in rank order.
    fn exchange(&self, what: &str, data: Payload) -> Result<Vec<Arc<Payload>>> {
        let g = &self.group;
        let mut st = g.state.lock().unwrap();
        // Wait until the previous exchange has been read by everyone.
        while st.draining {
            let (s, t) = g.cv.wait_timeout(st, g.timeout).unwrap();
            st = s;
            if t.timed_out() {
                bail!("rank {} timed out before {what}", self.rank);
            }
        }
        st.slots[self.rank] = Some(Arc::new(data));
        st.arrived += 1;
        if st.arrived == g.size {
            st.draining = true;
            g.cv.notify_all();
        }
        while !st.draining {
            let (s, t) = g.cv.wait_timeout(st, g.timeout).unwrap();
            st = s;
            if t.timed_out() {
                bail!(
                    "rank {} timed out in {what}: {} of {} ranks arrived",
                    self.rank,
                    st.arrived,
                    g.size
                );
            }
        }
        let all: Vec<Arc<Payload>> = st
            .slots
            .iter()
            .map(|s| Arc::clone(s.as_ref().unwrap()))
            .collect();
        st.left += 1;
        if st.left == g.size {
            st.slots.iter_mut().for_each(|s| *s = None);
            st.arrived = 0;
            st.left = 0;
            st.draining = false;
            g.cv.notify_all();
        }
        Ok(all)
    }

    fn vectors<F: Float>(all: &[Arc<Payload>]) -> Vec<&Vec<F>> {
        all.iter()
            .map(|p| {
                p.downcast_ref::<Vec<F>>()
                    .expect("every rank posts the same type")
            })
            .collect()
    }
}

impl<F: Float> Comm<F> for ThreadComm {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.group.size
    }

    fn all_reduce(&self, buf: &mut [F], op: ReduceOp) -> Result<()> {
        let what = format!("all_reduce {op:?} {}", buf.len());
        self.trace(what.clone());
        let all = self.exchange(&what, Box::new(buf.to_vec()))?;
        let v = Self::vectors::<F>(&all);
        let parts: Vec<&[F]> = v.iter().map(|x| x.as_slice()).collect();
        reduce_in_rank_order(&parts, op, buf).map_err(|e| anyhow::anyhow!("{what}: {e}"))
    }

    fn reduce_scatter(&self, input: &[F], out: &mut [F]) -> Result<()> {
        let what = format!("reduce_scatter {}", input.len());
        self.trace(what.clone());
        if input.len() != out.len() * self.group.size {
            bail!("{what}: input is not size × output");
        }
        let all = self.exchange(&what, Box::new(input.to_vec()))?;
        let v = Self::vectors::<F>(&all);
        let at = self.rank * out.len();
        let parts: Vec<&[F]> = v.iter().map(|x| &x[at..at + out.len()]).collect();
        reduce_in_rank_order(&parts, ReduceOp::Sum, out)
    }

    fn all_gather(&self, local: &[F], out: &mut [F]) -> Result<()> {
        let what = format!("all_gather {}", local.len());
        self.trace(what.clone());
        let all = self.exchange(&what, Box::new(local.to_vec()))?;
        for (r, x) in Self::vectors::<F>(&all).iter().enumerate() {
            out[r * local.len()..(r + 1) * local.len()].copy_from_slice(x);
        }
        Ok(())
    }

    fn send(&self, to: usize, buf: &[F]) -> Result<()> {
        self.trace(format!("send {to} {}", buf.len()));
        let g = &self.group;
        let mut st = g.state.lock().unwrap();
        st.mail
            .entry((self.rank, to))
            .or_default()
            .push_back(Box::new(buf.to_vec()));
        g.cv.notify_all();
        Ok(())
    }

    fn recv(&self, from: usize, buf: &mut [F]) -> Result<()> {
        self.trace(format!("recv {from} {}", buf.len()));
        let g = &self.group;
        let mut st = g.state.lock().unwrap();
        loop {
            if let Some(m) = st
                .mail
                .get_mut(&(from, self.rank))
                .and_then(|q| q.pop_front())
            {
                let v = m.downcast::<Vec<F>>().expect("same element type");
                if v.len() != buf.len() {
                    bail!(
                        "recv from {from}: {} elements, expected {}",
                        v.len(),
                        buf.len()
                    );
                }
                buf.copy_from_slice(&v);
                return Ok(());
            }
            let (s, t) = g.cv.wait_timeout(st, g.timeout).unwrap();
            st = s;
            if t.timed_out() {
                bail!("rank {} timed out receiving from {from}", self.rank);
            }
        }
    }

    fn barrier(&self) -> Result<()> {
        self.trace("barrier".into());
        self.exchange("barrier", Box::new(()))?;
        Ok(())
    }
}
