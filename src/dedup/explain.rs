//! `sieve dedup explain ID`: why a document was kept or removed, from the work directory:
//! its representative, its component's size, and every verified edge that touches it.

use anyhow::{bail, Result};
use serde::Serialize;

use super::config::DedupConfig;
use super::edges::{partitions, ShardCache};
use super::files::{
    for_each_record, id_hash, kind_name, read_removals, DocsReader, Edge, WorkDir, EDGE_SIZE,
};
use super::index::Against;

#[derive(Debug, Serialize)]
pub struct Neighbour {
    /// Whether the neighbour is a document of an index the run was checked against.
    pub indexed: bool,
    pub id: String,
    pub dataset: String,
    pub jaccard: f32,
    pub kind: &'static str,
    /// The partitions (bands and key ranges) where the pair met.
    pub partitions: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Explanation {
    pub id: String,
    pub dataset: String,
    pub shard: String,
    pub removed: bool,
    pub representative: Option<String>,
    pub component_size: Option<u32>,
    pub matched_by: Option<&'static str>,
    /// The index holding the representative, when it is an indexed document (`against`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    pub edges: Vec<Neighbour>,
}

pub fn explain(work: &WorkDir, id: &str) -> Result<Explanation> {
    let cfg = DedupConfig::load(&work.root)?;
    let shards = work.signature_shards()?;
    let wanted = id_hash(id);
    let against = Against::open(&cfg, shards.len())?;
    let mut cache = ShardCache::new(work, &shards, &against, cfg.num_perm());
    let mut found = None;
    'search: for (s, stem) in shards.iter().enumerate() {
        let mut docs = DocsReader::open(&work.shard_file(stem, "docs"))?;
        let mut d = 0u32;
        while let Some(e) = docs.next_entry()? {
            if e.id_hash == wanted && cache.get(s as u32)?.id(&e)? == id {
                found = Some((
                    s as u32,
                    d,
                    docs.header.datasets[e.dataset as usize].clone(),
                ));
                break 'search;
            }
            d += 1;
        }
    }
    let Some((shard, doc, dataset)) = found else {
        bail!("no document with id `{id}` in {}", work.root.display());
    };
    let stem = shards[shard as usize].clone();
    let mut out = Explanation {
        id: id.to_string(),
        dataset,
        shard: stem.clone(),
        removed: false,
        representative: None,
        component_size: None,
        matched_by: None,
        index: None,
        edges: Vec::new(),
    };
    let remove_path = work.remove_file(&stem);
    if remove_path.exists() {
        if let Some(r) = read_removals(&remove_path)?
            .into_iter()
            .find(|r| r.id_hash == wanted)
        {
            out.removed = true;
            out.representative = Some(r.representative);
            out.component_size = Some(r.component_size);
            out.matched_by = Some(kind_name(r.kind));
            if r.origin > 0 {
                out.index = cfg
                    .against
                    .get(r.origin as usize - 1)
                    .map(|a| a.path.display().to_string());
            }
        }
    }
    for part in partitions(&cfg) {
        let path = work.edges_file(&part);
        if !path.exists() {
            continue;
        }
        let mut hits = Vec::new();
        for_each_record(&path, EDGE_SIZE, |b| {
            let e = Edge::from_bytes(b);
            if e.a == (shard, doc) {
                hits.push((e.b, e));
            } else if e.b == (shard, doc) {
                hits.push((e.a, e));
            }
            Ok(())
        })?;
        for ((s, d), e) in hits {
            let indexed = s >= against.first_shard;
            let t = cache.get(s)?;
            let entry = t.entry(d)?;
            let id = t.id(&entry)?;
            let kind = kind_name(e.kind);
            match out.edges.iter_mut().find(|n| n.id == id && n.kind == kind) {
                Some(n) => n.partitions.push(part.clone()),
                None => out.edges.push(Neighbour {
                    indexed,
                    id,
                    dataset: t.dataset(&entry).to_string(),
                    jaccard: e.jaccard,
                    kind,
                    partitions: vec![part.clone()],
                }),
            }
        }
    }
    Ok(out)
}
