//! Multi-process CPU runs: a rendezvous at `MASTER_ADDR:MASTER_PORT` and a full mesh of TCP
//! connections between the ranks, with the collectives of [`Comm`] on top.
//!
//! Rendezvous: rank 0 listens on the master port; every other rank connects, says who it is,
//! which world it expects and the hash of its configuration, and the port of its own mesh
//! listener. Rank 0 checks that everyone agrees and sends back the table of addresses; then
//! each rank connects to every lower rank. Each connection has a reader thread that files
//! incoming frames by process group, so a rank is never blocked writing, and a closed
//! connection marks the peer lost: anyone waiting on it gets an error naming the peer, not a
//! hang. Collectives exchange every rank's buffer and reduce in rank order, exactly as the
//! thread communicator does, so a multi-process run is bitwise the threaded one.

use std::collections::{HashMap, VecDeque};
use std::io::{BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::comm::{reduce_in_rank_order, Comm, ReduceOp};
use crate::backend::Float;

#[derive(Default)]
struct Inbox {
    /// Frames by (peer, group), in arrival order.
    frames: HashMap<(usize, u32), VecDeque<Vec<u8>>>,
    /// Why a peer's connection ended, once it has.
    lost: HashMap<usize, String>,
}

/// This rank's connections to every other rank.
pub struct Mesh {
    pub rank: usize,
    pub world: usize,
    writers: Vec<Option<Mutex<TcpStream>>>,
    inbox: Arc<(Mutex<Inbox>, Condvar)>,
    timeout: Duration,
}

fn write_u64(s: &mut impl Write, v: u64) -> std::io::Result<()> {
    s.write_all(&v.to_le_bytes())
}

fn read_u64(s: &mut impl Read) -> std::io::Result<u64> {
    let mut b = [0u8; 8];
    s.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn connect_with_retry(addr: &str, timeout: Duration) -> Result<TcpStream> {
    let deadline = Instant::now() + timeout;
    loop {
        let attempt = addr
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {addr}"))?
            .next()
            .with_context(|| format!("{addr} resolves to nothing"))
            .and_then(|a| {
                TcpStream::connect_timeout(&a, Duration::from_secs(2)).map_err(Into::into)
            });
        match attempt {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() >= deadline => {
                return Err(e.context(format!("cannot reach the rendezvous at {addr}")))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

impl Mesh {
    /// Joins the run: rendezvous, then the mesh. `config_hash` must be equal on every rank.
    pub fn connect(
        rank: usize,
        world: usize,
        master: &str,
        port: u16,
        config_hash: u64,
        timeout: Duration,
    ) -> Result<Mesh> {
        let listener = TcpListener::bind("0.0.0.0:0").context("cannot open the mesh listener")?;
        let my_port = listener.local_addr()?.port();
        let master_addr = format!("{master}:{port}");
        // The address table: (ip, mesh port) per rank.
        let table: Vec<(IpAddr, u16)> = if rank == 0 {
            let store = TcpListener::bind(("0.0.0.0", port))
                .with_context(|| format!("rank 0 cannot listen on port {port} (MASTER_PORT)"))?;
            let master_ip = master_addr
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .map(|a| a.ip())
                .unwrap_or(IpAddr::from([127, 0, 0, 1]));
            let mut table = vec![(master_ip, my_port); world];
            let mut streams = Vec::new();
            store.set_nonblocking(true)?;
            let deadline = Instant::now() + timeout;
            while streams.len() < world - 1 {
                match store.accept() {
                    Ok((mut s, from)) => {
                        s.set_nonblocking(false)?;
                        let r = read_u64(&mut s)? as usize;
                        let w = read_u64(&mut s)? as usize;
                        let hash = read_u64(&mut s)?;
                        let p = read_u64(&mut s)? as u16;
                        if w != world || r == 0 || r >= world {
                            bail!("rank {r} joined expecting world size {w}; rank 0 has {world}");
                        }
                        if hash != config_hash {
                            bail!("rank {r} has a different configuration (hash {hash:016x}, rank 0 {config_hash:016x})");
                        }
                        table[r] = (from.ip(), p);
                        streams.push(s);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if Instant::now() >= deadline {
                            bail!(
                                "rank 0: only {} of {} ranks joined within {timeout:?}",
                                streams.len() + 1,
                                world
                            );
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            let mut msg = Vec::new();
            for (ip, p) in &table {
                let text = ip.to_string();
                msg.extend_from_slice(&(text.len() as u64).to_le_bytes());
                msg.extend_from_slice(text.as_bytes());
                msg.extend_from_slice(&(*p as u64).to_le_bytes());
            }
            for s in &mut streams {
                s.write_all(&msg)?;
            }
            table
        } else {
            let mut s = connect_with_retry(&master_addr, timeout)?;
            for v in [rank as u64, world as u64, config_hash, my_port as u64] {
                write_u64(&mut s, v)?;
            }
            s.set_read_timeout(Some(timeout))?;
            let mut table = Vec::new();
            for _ in 0..world {
                let n = read_u64(&mut s)
                    .context("rank 0 refused this rank or went away during the rendezvous")?
                    as usize;
                let mut b = vec![0u8; n];
                s.read_exact(&mut b)?;
                let ip: IpAddr = String::from_utf8_lossy(&b)
                    .parse()
                    .context("bad address from rank 0")?;
                table.push((ip, read_u64(&mut s)? as u16));
            }
            table
        };
        // The mesh: accept from every higher rank, connect to every lower one.
        let accept_count = world - 1 - rank;
        let acceptor = std::thread::spawn(move || -> Result<Vec<(usize, TcpStream)>> {
            let mut got = Vec::new();
            for _ in 0..accept_count {
                let (mut s, _) = listener.accept()?;
                let r = read_u64(&mut s)? as usize;
                got.push((r, s));
            }
            Ok(got)
        });
        let mut streams: Vec<Option<TcpStream>> = (0..world).map(|_| None).collect();
        for (peer, &(ip, p)) in table.iter().enumerate().take(rank) {
            let mut s = connect_with_retry(&SocketAddr::new(ip, p).to_string(), timeout)?;
            write_u64(&mut s, rank as u64)?;
            streams[peer] = Some(s);
        }
        for (peer, s) in acceptor
            .join()
            .map_err(|_| anyhow::anyhow!("mesh acceptor panicked"))??
        {
            streams[peer] = Some(s);
        }
        let inbox: Arc<(Mutex<Inbox>, Condvar)> = Arc::default();
        let mut writers = Vec::new();
        for (peer, s) in streams.into_iter().enumerate() {
            let Some(s) = s else {
                writers.push(None);
                continue;
            };
            s.set_nodelay(true)?;
            let reader = s.try_clone()?;
            let inbox = Arc::clone(&inbox);
            std::thread::spawn(move || read_frames(peer, reader, inbox));
            writers.push(Some(Mutex::new(s)));
        }
        Ok(Mesh {
            rank,
            world,
            writers,
            inbox,
            timeout,
        })
    }

    fn send(&self, peer: usize, group: u32, payload: &[u8]) -> Result<()> {
        let w = self.writers[peer].as_ref().expect("no connection to self");
        let mut s = w.lock().unwrap();
        let mut head = Vec::with_capacity(12);
        head.extend_from_slice(&group.to_le_bytes());
        head.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        s.write_all(&head)
            .and_then(|_| s.write_all(payload))
            .with_context(|| format!("rank {}: lost rank {peer} (sending)", self.rank))
    }

    fn recv(&self, peer: usize, group: u32, during: &str) -> Result<Vec<u8>> {
        let (lock, cv) = &*self.inbox;
        let deadline = Instant::now() + self.timeout;
        let mut inbox = lock.lock().unwrap();
        loop {
            if let Some(f) = inbox
                .frames
                .get_mut(&(peer, group))
                .and_then(|q| q.pop_front())
            {
                return Ok(f);
            }
            if let Some(why) = inbox.lost.get(&peer) {
                bail!(
                    "rank {}: lost rank {peer} ({why}) during {during}",
                    self.rank
                );
            }
            let now = Instant::now();
            if now >= deadline {
                bail!(
                    "rank {}: rank {peer} sent nothing for {:?} during {during}",
                    self.rank,
                    self.timeout
                );
            }
            inbox = cv.wait_timeout(inbox, deadline - now).unwrap().0;
        }
    }
}

fn read_frames(peer: usize, stream: TcpStream, inbox: Arc<(Mutex<Inbox>, Condvar)>) {
    let mut r = BufReader::with_capacity(1 << 20, stream);
    let why = loop {
        let mut head = [0u8; 12];
        if let Err(e) = r.read_exact(&mut head) {
            break if e.kind() == std::io::ErrorKind::UnexpectedEof {
                "connection closed".to_string()
            } else {
                e.to_string()
            };
        }
        let group = u32::from_le_bytes(head[..4].try_into().unwrap());
        let len = u64::from_le_bytes(head[4..].try_into().unwrap()) as usize;
        let mut payload = vec![0u8; len];
        if let Err(e) = r.read_exact(&mut payload) {
            break format!("connection broke mid-message: {e}");
        }
        let (lock, cv) = &*inbox;
        lock.lock()
            .unwrap()
            .frames
            .entry((peer, group))
            .or_default()
            .push_back(payload);
        cv.notify_all();
    };
    let (lock, cv) = &*inbox;
    lock.lock().unwrap().lost.insert(peer, why);
    cv.notify_all();
}

/// One process group over the mesh: `members` are global ranks, in group-rank order.
pub struct TcpComm {
    mesh: Arc<Mesh>,
    group: u32,
    name: String,
    members: Vec<usize>,
    rank: usize,
}

impl TcpComm {
    pub fn new(mesh: Arc<Mesh>, group: u32, name: &str, members: Vec<usize>) -> Result<TcpComm> {
        let rank = members
            .iter()
            .position(|&r| r == mesh.rank)
            .with_context(|| format!("rank {} is not in group {name}", mesh.rank))?;
        Ok(TcpComm {
            mesh,
            group,
            name: name.to_string(),
            members,
            rank,
        })
    }

    /// Group rank 0's bytes, on every member (the others pass `None`): how a group's NCCL
    /// unique id travels from the rank that made it.
    pub fn broadcast_bytes(&self, mine: Option<Vec<u8>>, what: &str) -> Result<Vec<u8>> {
        if self.rank == 0 {
            let bytes =
                mine.with_context(|| format!("{what}: group rank 0 has nothing to send"))?;
            for &peer in &self.members[1..] {
                self.mesh.send(peer, self.group, &bytes)?;
            }
            return Ok(bytes);
        }
        let during = format!("{what} in group {}", self.name);
        self.mesh.recv(self.members[0], self.group, &during)
    }

    /// Every member's bytes, in group-rank order.
    fn exchange(&self, mine: Vec<u8>, what: &str) -> Result<Vec<Vec<u8>>> {
        for (i, &peer) in self.members.iter().enumerate() {
            if i != self.rank {
                self.mesh.send(peer, self.group, &mine)?;
            }
        }
        let during = format!("{what} in group {}", self.name);
        let mut all = Vec::with_capacity(self.members.len());
        for (i, &peer) in self.members.iter().enumerate() {
            if i == self.rank {
                all.push(mine.clone());
            } else {
                all.push(self.mesh.recv(peer, self.group, &during)?);
            }
        }
        Ok(all)
    }
}

fn encode<F: Float>(x: &[F]) -> Vec<u8> {
    let mut out = Vec::with_capacity(x.len() * F::BYTES);
    for &v in x {
        v.write_le(&mut out);
    }
    out
}

fn decode<F: Float>(b: &[u8]) -> Vec<F> {
    b.chunks_exact(F::BYTES).map(F::read_le).collect()
}

impl<F: Float> Comm<F> for TcpComm {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.members.len()
    }

    fn all_reduce(&self, buf: &mut [F], op: ReduceOp) -> Result<()> {
        let all = self.exchange(encode(buf), &format!("all_reduce {op:?} {}", buf.len()))?;
        let parts: Vec<Vec<F>> = all.iter().map(|b| decode(b)).collect();
        let refs: Vec<&[F]> = parts.iter().map(|p| p.as_slice()).collect();
        reduce_in_rank_order(&refs, op, buf)
    }

    fn reduce_scatter(&self, input: &[F], out: &mut [F]) -> Result<()> {
        if input.len() != out.len() * self.members.len() {
            bail!("reduce_scatter: input is not size × output");
        }
        let all = self.exchange(encode(input), &format!("reduce_scatter {}", input.len()))?;
        let parts: Vec<Vec<F>> = all.iter().map(|b| decode(b)).collect();
        let at = self.rank * out.len();
        let refs: Vec<&[F]> = parts.iter().map(|p| &p[at..at + out.len()]).collect();
        reduce_in_rank_order(&refs, ReduceOp::Sum, out)
    }

    fn all_gather(&self, local: &[F], out: &mut [F]) -> Result<()> {
        let all = self.exchange(encode(local), &format!("all_gather {}", local.len()))?;
        for (r, b) in all.iter().enumerate() {
            let v: Vec<F> = decode(b);
            if v.len() != local.len() {
                bail!(
                    "all_gather in group {}: rank {r} sent {} values, expected {}",
                    self.name,
                    v.len(),
                    local.len()
                );
            }
            out[r * local.len()..(r + 1) * local.len()].copy_from_slice(&v);
        }
        Ok(())
    }

    fn send(&self, to: usize, buf: &[F]) -> Result<()> {
        self.mesh.send(self.members[to], self.group, &encode(buf))
    }

    fn recv(&self, from: usize, buf: &mut [F]) -> Result<()> {
        let during = format!(
            "recv {} from group rank {from} in group {}",
            buf.len(),
            self.name
        );
        let v: Vec<F> = decode(&self.mesh.recv(self.members[from], self.group, &during)?);
        if v.len() != buf.len() {
            bail!("{during}: got {} values", v.len());
        }
        buf.copy_from_slice(&v);
        Ok(())
    }

    fn barrier(&self) -> Result<()> {
        self.exchange(Vec::new(), "barrier").map(|_| ())
    }
}
