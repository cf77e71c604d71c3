//! Process groups as NCCL communicators, and the collectives and point-to-point calls of the
//! backend on them (the `Backend` methods of `mod.rs` call these).

use std::ffi::c_void;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use cudarc::nccl::{result as nccl, sys as ncclsys};

use super::buffer::{DevMut, DevRef};
use super::context::Cuda;
use super::watch::{self, SharedWatch};
use crate::backend::Backend;
use crate::dist::ReduceOp;

/// One process group: an NCCL communicator, or nothing for a group of one (whose collectives
/// are copies), so a single GPU needs no NCCL.
pub struct NcclGroup {
    pub(super) comm: Option<ncclsys::ncclComm_t>,
    pub(super) rank: usize,
    pub(super) size: usize,
    /// The group's name in errors ("tensor-parallel", …).
    pub(super) name: &'static str,
    /// Where the communicator is registered for the watchdog (None for a group of one).
    watch: Option<SharedWatch>,
}

// SAFETY: an NCCL communicator may be used from any thread, one call at a time; the backend
// issues its calls from the rank's one training thread.
unsafe impl Send for NcclGroup {}
unsafe impl Sync for NcclGroup {}

impl NcclGroup {
    pub fn solo() -> NcclGroup {
        NcclGroup {
            comm: None,
            rank: 0,
            size: 1,
            name: "single",
            watch: None,
        }
    }

    /// Joins the group whose unique id every member received (see
    /// [`crate::dist::nccl_id::share_unique_id`]). Blocks until every member has joined.
    pub fn join(
        cuda: &Cuda,
        name: &'static str,
        id: &[u8; 128],
        rank: usize,
        size: usize,
    ) -> Result<NcclGroup> {
        if size == 1 {
            return Ok(NcclGroup::solo());
        }
        cuda.ctx
            .bind_to_thread()
            .map_err(|e| anyhow!("binding the CUDA context: {e:?}"))?;
        let mut internal = [0 as std::ffi::c_char; 128];
        for (i, &b) in internal.iter_mut().zip(id.iter()) {
            *i = b as std::ffi::c_char;
        }
        let uid = ncclsys::ncclUniqueId { internal };
        let mut comm = std::mem::MaybeUninit::uninit();
        // SAFETY: comm is written by ncclCommInitRank on success.
        let comm = unsafe {
            nccl::comm_init_rank(comm.as_mut_ptr(), size as i32, uid, rank as i32).map_err(
                |e| anyhow!("ncclCommInitRank of the {name} group (rank {rank} of {size}): {e:?}"),
            )?;
            comm.assume_init()
        };
        watch::lock(&cuda.watch).register(name, comm);
        Ok(NcclGroup {
            comm: Some(comm),
            rank,
            size,
            name,
            watch: Some(Arc::clone(&cuda.watch)),
        })
    }
}

impl Drop for NcclGroup {
    fn drop(&mut self) {
        if let Some(c) = self.comm.take() {
            if let Some(w) = &self.watch {
                let mut w = watch::lock(w);
                w.unregister(c);
                if w.aborted {
                    // ncclCommAbort freed it.
                    return;
                }
            }
            // SAFETY: the communicator is destroyed once, here.
            unsafe { nccl::comm_destroy(c) }.ok();
        }
    }
}

impl Cuda {
    pub(super) fn nccl_all_reduce(
        &self,
        group: &NcclGroup,
        buf: DevMut<'_>,
        op: ReduceOp,
    ) -> Result<()> {
        self.checked()?;
        let Some(comm) = group.comm else {
            return Ok(());
        };
        self.issued(group.name, || {
            format!("ncclAllReduce of {} elements", buf.len)
        });
        // SAFETY: in place on a live buffer of `len` elements of its type.
        unsafe {
            nccl::all_reduce(
                buf.ptr as *const c_void,
                buf.ptr as *mut c_void,
                buf.len,
                buf.dtype.nccl(),
                Self::nccl_op(op),
                comm,
                self.stream_handle(),
            )
        }
        .map(|_| ())
        .map_err(|e| anyhow!("ncclAllReduce of {} elements: {e:?}", buf.len))
    }
    pub(super) fn nccl_all_reduce_overlapped(
        &self,
        group: &NcclGroup,
        buf: DevMut<'_>,
        op: ReduceOp,
    ) -> Result<()> {
        self.checked()?;
        let Some(comm) = group.comm else {
            return Ok(());
        };
        self.issued(group.name, || {
            format!("ncclAllReduce of a {}-element gradient bucket", buf.len)
        });
        // The bucket's gradients are final once the kernels issued so far are done.
        self.comm_stream
            .join(&self.stream)
            .map_err(|e| anyhow!("ordering the communication stream: {e:?}"))?;
        // SAFETY: in place on a live buffer of `len` elements; nothing writes it until
        // wait_overlapped orders the compute stream after this reduction.
        unsafe {
            nccl::all_reduce(
                buf.ptr as *const c_void,
                buf.ptr as *mut c_void,
                buf.len,
                buf.dtype.nccl(),
                Self::nccl_op(op),
                comm,
                self.comm_stream.cu_stream() as _,
            )
        }
        .map(|_| ())
        .map_err(|e| anyhow!("ncclAllReduce of a {}-element bucket: {e:?}", buf.len))
    }
    pub(super) fn nccl_wait_overlapped(&self) -> Result<()> {
        self.stream
            .join(&self.comm_stream)
            .map_err(|e| anyhow!("waiting for the communication stream: {e:?}"))?;
        self.checked()
    }
    pub(super) fn nccl_reduce_scatter(
        &self,
        group: &NcclGroup,
        input: DevRef<'_>,
        out: DevMut<'_>,
    ) -> Result<()> {
        self.checked()?;
        if input.len != out.len * group.size {
            bail!(
                "reduce-scatter of {} elements into {} × {}",
                input.len,
                group.size,
                out.len
            );
        }
        let Some(comm) = group.comm else {
            self.copy(out, input);
            return Ok(());
        };
        self.issued(group.name, || {
            format!("ncclReduceScatter into {} elements", out.len)
        });
        // SAFETY: input holds size × out.len elements, out holds out.len.
        unsafe {
            nccl::reduce_scatter(
                input.ptr as *const c_void,
                out.ptr as *mut c_void,
                out.len,
                out.dtype.nccl(),
                ncclsys::ncclRedOp_t::ncclSum,
                comm,
                self.stream_handle(),
            )
        }
        .map(|_| ())
        .map_err(|e| anyhow!("ncclReduceScatter: {e:?}"))
    }
    pub(super) fn nccl_all_gather(
        &self,
        group: &NcclGroup,
        local: DevRef<'_>,
        out: DevMut<'_>,
    ) -> Result<()> {
        self.checked()?;
        if out.len != local.len * group.size {
            bail!(
                "all-gather of {} × {} elements into {}",
                group.size,
                local.len,
                out.len
            );
        }
        let Some(comm) = group.comm else {
            self.copy(out, local);
            return Ok(());
        };
        self.issued(group.name, || {
            format!("ncclAllGather of {} elements", local.len)
        });
        // SAFETY: out holds size × local.len elements.
        unsafe {
            nccl::all_gather(
                local.ptr as *const c_void,
                out.ptr as *mut c_void,
                local.len,
                local.dtype.nccl(),
                comm,
                self.stream_handle(),
            )
        }
        .map(|_| ())
        .map_err(|e| anyhow!("ncclAllGather: {e:?}"))
    }
    pub(super) fn nccl_send(&self, group: &NcclGroup, to: usize, buf: DevRef<'_>) -> Result<()> {
        self.checked()?;
        let comm = group.comm.context("send in a group of one")?;
        self.issued(group.name, || {
            format!("ncclSend of {} elements to rank {to}", buf.len)
        });
        // SAFETY: a live buffer of len elements.
        unsafe {
            nccl::send(
                buf.ptr as *const c_void,
                buf.len,
                buf.dtype.nccl(),
                to as i32,
                comm,
                self.stream_handle(),
            )
        }
        .map(|_| ())
        .map_err(|e| anyhow!("ncclSend to rank {to}: {e:?}"))
    }
    pub(super) fn nccl_p2p_group_start(&self) {
        if let Err(e) = nccl::group_start() {
            self.fail("ncclGroupStart", e);
        }
    }
    pub(super) fn nccl_p2p_group_end(&self) -> Result<()> {
        nccl::group_end().map_err(|e| anyhow!("ncclGroupEnd: {e:?}"))?;
        self.checked()
    }
    pub(super) fn nccl_recv(&self, group: &NcclGroup, from: usize, buf: DevMut<'_>) -> Result<()> {
        self.checked()?;
        let comm = group.comm.context("recv in a group of one")?;
        self.issued(group.name, || {
            format!("ncclRecv of {} elements from rank {from}", buf.len)
        });
        // SAFETY: a live buffer of len elements.
        unsafe {
            nccl::recv(
                buf.ptr as *mut c_void,
                buf.len,
                buf.dtype.nccl(),
                from as i32,
                comm,
                self.stream_handle(),
            )
        }
        .map(|_| ())
        .map_err(|e| anyhow!("ncclRecv from rank {from}: {e:?}"))
    }
}
