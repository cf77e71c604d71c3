//! `sieve-train launch --nproc-per-node N -- train …`: one node's worth of ranks as child
//! processes, with torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
//! MASTER_ADDR, MASTER_PORT). When a rank fails, the others are stopped and the launcher
//! exits non-zero naming it.

use std::process::{Child, Command};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;

#[derive(Args, Debug)]
pub struct LaunchArgs {
    #[arg(long)]
    pub nproc_per_node: usize,
    #[arg(long, default_value_t = 1)]
    pub nnodes: usize,
    #[arg(long, default_value_t = 0)]
    pub node_rank: usize,
    #[arg(long, default_value = "127.0.0.1")]
    pub master_addr: String,
    /// Default: a free port on a single node, 29500 across nodes.
    #[arg(long)]
    pub master_port: Option<u16>,
    /// The sieve-train command each rank runs (after `--`).
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub fn run(args: &LaunchArgs) -> Result<()> {
    if args.nproc_per_node == 0 || args.nnodes == 0 || args.node_rank >= args.nnodes {
        bail!("--nproc-per-node and --nnodes must be positive and --node-rank below --nnodes");
    }
    let port = match args.master_port {
        Some(p) => p,
        None if args.nnodes == 1 => free_port()?,
        None => 29500,
    };
    let world = args.nproc_per_node * args.nnodes;
    let exe = std::env::current_exe().context("cannot find the sieve-train executable")?;
    let mut children: Vec<(usize, Child)> = Vec::new();
    for local in 0..args.nproc_per_node {
        let rank = args.node_rank * args.nproc_per_node + local;
        let child = Command::new(&exe)
            .args(&args.command)
            .env("RANK", rank.to_string())
            .env("WORLD_SIZE", world.to_string())
            .env("LOCAL_RANK", local.to_string())
            .env("LOCAL_WORLD_SIZE", args.nproc_per_node.to_string())
            .env("GROUP_RANK", args.node_rank.to_string())
            .env("MASTER_ADDR", &args.master_addr)
            .env("MASTER_PORT", port.to_string())
            .spawn()
            .with_context(|| format!("cannot start rank {rank}"))?;
        children.push((rank, child));
    }
    // SIGTERM (Slurm's time-limit warning, scancel) goes on to every rank, which saves and
    // stops after its step; the launcher waits for them.
    crate::train::stop::install();
    let mut forwarded = false;
    loop {
        if crate::train::stop::requested() && !forwarded {
            for (_, child) in &children {
                crate::train::stop::forward(child.id());
            }
            forwarded = true;
        }
        let mut running = 0;
        let mut failed = None;
        for (rank, child) in &mut children {
            match child.try_wait()? {
                None => running += 1,
                Some(status) if !status.success() => failed = Some((*rank, status)),
                Some(_) => {}
            }
        }
        if let Some((rank, status)) = failed {
            for (_, child) in &mut children {
                let _ = child.kill();
                let _ = child.wait();
            }
            bail!("rank {rank} failed ({status}); stopped the other ranks");
        }
        if running == 0 {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
