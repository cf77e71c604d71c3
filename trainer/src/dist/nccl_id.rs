//! NCCL communicators are created from a 128-byte unique id that one member makes
//! (`ncclGetUniqueId`) and every member passes to `ncclCommInitRank`. The trainer hands it out
//! over its own TCP mesh (the rendezvous at MASTER_ADDR:MASTER_PORT), one id per
//! tensor-, pipeline- and data-parallel group, so no second rendezvous service is needed.

use anyhow::{bail, Result};

use super::tcp::TcpComm;

/// `sizeof(ncclUniqueId)`.
pub const UNIQUE_ID_BYTES: usize = 128;

/// The group's unique id on every member: group rank 0 calls `make` (with CUDA,
/// `ncclGetUniqueId`), the others receive what it made.
pub fn share_unique_id(
    group: &TcpComm,
    make: impl FnOnce() -> Result<[u8; UNIQUE_ID_BYTES]>,
) -> Result<[u8; UNIQUE_ID_BYTES]> {
    let mine = if <TcpComm as super::comm::Comm<f32>>::rank(group) == 0 {
        Some(make()?.to_vec())
    } else {
        None
    };
    let bytes = group.broadcast_bytes(mine, "the NCCL unique id")?;
    if bytes.len() != UNIQUE_ID_BYTES {
        bail!(
            "the NCCL unique id has {} bytes, not {UNIQUE_ID_BYTES}",
            bytes.len()
        );
    }
    let mut id = [0u8; UNIQUE_ID_BYTES];
    id.copy_from_slice(&bytes);
    Ok(id)
}

/// A new unique id from NCCL (`ncclGetUniqueId`), for [`share_unique_id`]'s `make`.
#[cfg(feature = "cuda")]
pub fn nccl_unique_id() -> Result<[u8; UNIQUE_ID_BYTES]> {
    // SAFETY: only tries to dlopen libnccl.
    if !unsafe { cudarc::nccl::sys::is_culib_present() } {
        bail!("cannot create an NCCL communicator: libnccl (NCCL 2) is not installed");
    }
    let id = cudarc::nccl::result::get_uniqueid()
        .map_err(|e| anyhow::anyhow!("ncclGetUniqueId failed: {e:?}"))?;
    let mut out = [0u8; UNIQUE_ID_BYTES];
    for (o, &c) in out.iter_mut().zip(id.internal.iter()) {
        *o = c as u8;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::tcp::Mesh;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn every_member_of_each_group_gets_its_groups_id() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let world = 4;
        let ids: Vec<[u8; UNIQUE_ID_BYTES]> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..world)
                .map(|rank| {
                    scope.spawn(move || {
                        let mesh = Arc::new(
                            Mesh::connect(
                                rank,
                                world,
                                "127.0.0.1",
                                port,
                                7,
                                Duration::from_secs(30),
                            )
                            .unwrap(),
                        );
                        // Two groups of two (tensor-parallel pairs): [0, 1] and [2, 3].
                        let g = rank / 2;
                        let members = vec![2 * g, 2 * g + 1];
                        let comm =
                            TcpComm::new(mesh, 10 + g as u32, &format!("tp{g}"), members).unwrap();
                        share_unique_id(&comm, || {
                            // Stands in for ncclGetUniqueId: only group rank 0 may call it.
                            assert_eq!(rank % 2, 0, "a non-root rank made an id");
                            Ok([g as u8 + 1; UNIQUE_ID_BYTES])
                        })
                        .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(ids[0], ids[1]);
        assert_eq!(ids[2], ids[3]);
        assert_ne!(ids[0], ids[2]);
        assert_eq!(ids[3], [2u8; UNIQUE_ID_BYTES]);
    }
}
