//! Who am I in a multi-process run: rank, world size and local rank from torchrun's
//! variables, else Slurm's, else OpenMPI's; the rendezvous address from `MASTER_ADDR` /
//! `MASTER_PORT` (under Slurm without them: the first host of the job's node list).

use anyhow::{bail, Context, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankEnv {
    pub rank: usize,
    pub world: usize,
    pub local_rank: usize,
    pub master_addr: String,
    pub master_port: u16,
    /// Which launcher's variables were read.
    pub source: &'static str,
}

/// Reads the process environment.
pub fn from_env() -> Result<Option<RankEnv>> {
    detect(&|k| std::env::var(k).ok())
}

/// The detection itself, over any variable lookup (tests pass a map).
pub fn detect(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<RankEnv>> {
    let num = |k: &str| -> Result<Option<usize>> {
        get(k)
            .map(|v| {
                v.trim()
                    .parse::<usize>()
                    .with_context(|| format!("{k}={v:?} is not a number"))
            })
            .transpose()
    };
    let (rank, world, local, source) = if let (Some(r), Some(w)) =
        (num("RANK")?, num("WORLD_SIZE")?)
    {
        (r, w, num("LOCAL_RANK")?.unwrap_or(0), "torchrun")
    } else if let (Some(r), Some(w)) = (num("SLURM_PROCID")?, num("SLURM_NTASKS")?) {
        (r, w, num("SLURM_LOCALID")?.unwrap_or(0), "slurm")
    } else if let (Some(r), Some(w)) = (num("OMPI_COMM_WORLD_RANK")?, num("OMPI_COMM_WORLD_SIZE")?)
    {
        (
            r,
            w,
            num("OMPI_COMM_WORLD_LOCAL_RANK")?.unwrap_or(0),
            "openmpi",
        )
    } else {
        return Ok(None);
    };
    if world == 0 || rank >= world {
        bail!("{source}: rank {rank} is not below world size {world}");
    }
    let master_addr = match get("MASTER_ADDR") {
        Some(a) => a,
        None if world == 1 => "127.0.0.1".into(),
        None => match get("SLURM_JOB_NODELIST").or_else(|| get("SLURM_NODELIST")) {
            Some(list) => expand_nodelist(&list)?
                .into_iter()
                .next()
                .context("SLURM_JOB_NODELIST is empty")?,
            None => bail!("{source}: MASTER_ADDR is not set (the address of rank 0)"),
        },
    };
    let mut master_port: u16 = match get("MASTER_PORT") {
        Some(p) => p
            .trim()
            .parse()
            .with_context(|| format!("MASTER_PORT={p:?} is not a port"))?,
        None => 29500,
    };
    // Under torchrun the agent's own store already listens on MASTER_PORT; rank 0 listens on
    // the next port instead (so give torchrun a --master-port whose successor is free).
    if get("TORCHELASTIC_USE_AGENT_STORE").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        master_port = master_port
            .checked_add(1)
            .context("MASTER_PORT is the last port")?;
    }
    Ok(Some(RankEnv {
        rank,
        world,
        local_rank: local,
        master_addr,
        master_port,
        source,
    }))
}

/// Slurm's compressed host lists: `node[01-03,07],gpu5` → node01 node02 node03 node07 gpu5
/// (zero padding kept).
pub fn expand_nodelist(list: &str) -> Result<Vec<String>> {
    let mut hosts = Vec::new();
    let mut rest = list.trim();
    while !rest.is_empty() {
        // One item: a prefix, optionally followed by a bracketed range list.
        let end = {
            let mut depth = 0;
            let mut end = rest.len();
            for (i, c) in rest.char_indices() {
                match c {
                    '[' => depth += 1,
                    ']' => depth -= 1,
                    ',' if depth == 0 => {
                        end = i;
                        break;
                    }
                    _ => {}
                }
            }
            end
        };
        let item = &rest[..end];
        rest = rest[end..].trim_start_matches(',');
        match item.find('[') {
            None => hosts.push(item.to_string()),
            Some(open) => {
                let close = item
                    .rfind(']')
                    .with_context(|| format!("unclosed '[' in {item:?}"))?;
                let (prefix, suffix) = (&item[..open], &item[close + 1..]);
                for part in item[open + 1..close].split(',') {
                    match part.split_once('-') {
                        None => hosts.push(format!("{prefix}{part}{suffix}")),
                        Some((a, b)) => {
                            let width = a.len();
                            let (lo, hi): (u64, u64) = (
                                a.parse().with_context(|| format!("bad range {part:?}"))?,
                                b.parse().with_context(|| format!("bad range {part:?}"))?,
                            );
                            for n in lo..=hi {
                                hosts.push(format!("{prefix}{n:0width$}{suffix}"));
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(hosts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Option<RankEnv> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        detect(&|k| m.get(k).cloned()).unwrap()
    }

    #[test]
    fn torchrun_then_slurm_then_openmpi() {
        let t = env(&[
            ("RANK", "3"),
            ("WORLD_SIZE", "8"),
            ("LOCAL_RANK", "1"),
            ("MASTER_ADDR", "10.0.0.1"),
            ("MASTER_PORT", "1234"),
            ("SLURM_PROCID", "5"),
            ("SLURM_NTASKS", "16"),
        ])
        .unwrap();
        assert_eq!(
            (t.rank, t.world, t.local_rank, t.source),
            (3, 8, 1, "torchrun")
        );
        assert_eq!((t.master_addr.as_str(), t.master_port), ("10.0.0.1", 1234));
        let agent = env(&[
            ("RANK", "0"),
            ("WORLD_SIZE", "2"),
            ("MASTER_ADDR", "h"),
            ("MASTER_PORT", "29500"),
            ("TORCHELASTIC_USE_AGENT_STORE", "True"),
        ])
        .unwrap();
        assert_eq!(
            agent.master_port, 29501,
            "torchrun's agent store keeps MASTER_PORT"
        );
        let s = env(&[
            ("SLURM_PROCID", "5"),
            ("SLURM_NTASKS", "16"),
            ("SLURM_LOCALID", "1"),
            ("SLURM_JOB_NODELIST", "gpu[007-009],login1"),
        ])
        .unwrap();
        assert_eq!(
            (s.rank, s.world, s.local_rank, s.source),
            (5, 16, 1, "slurm")
        );
        assert_eq!((s.master_addr.as_str(), s.master_port), ("gpu007", 29500));
        let o = env(&[
            ("OMPI_COMM_WORLD_RANK", "2"),
            ("OMPI_COMM_WORLD_SIZE", "4"),
            ("OMPI_COMM_WORLD_LOCAL_RANK", "2"),
            ("MASTER_ADDR", "h"),
        ])
        .unwrap();
        assert_eq!((o.rank, o.world, o.source), (2, 4, "openmpi"));
        assert!(env(&[]).is_none());
    }

    #[test]
    fn node_lists_expand() {
        assert_eq!(
            expand_nodelist("node[01-03,07],gpu5,rack[1-2]-x").unwrap(),
            ["node01", "node02", "node03", "node07", "gpu5", "rack1-x", "rack2-x"]
        );
        assert_eq!(expand_nodelist("a").unwrap(), ["a"]);
    }
}
