//! The rank grid: world = TP × DP × PP with tensor parallelism varying fastest (consecutive
//! ranks share a node's fast links), then data, then pipeline, as Megatron orders them.

use crate::model::ModelShard;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RankGrid {
    pub rank: usize,
    pub tp: usize,
    pub pp: usize,
    pub dp: usize,
    pub dp_rank: usize,
    pub shard: ModelShard,
}

impl RankGrid {
    pub fn new(rank: usize, tp: usize, pp: usize, world: usize) -> RankGrid {
        let dp = world / (tp * pp);
        let (tp_rank, dp_rank, pp_rank) = (rank % tp, (rank / tp) % dp, rank / (tp * dp));
        RankGrid {
            rank,
            tp,
            pp,
            dp,
            dp_rank,
            shard: ModelShard {
                tp,
                tp_rank,
                pp,
                pp_rank,
                chunks: 1,
            },
        }
    }

    fn at(&self, tp_rank: usize, dp_rank: usize, pp_rank: usize) -> usize {
        tp_rank + self.tp * (dp_rank + self.dp * pp_rank)
    }

    pub fn tp_members(&self) -> Vec<usize> {
        (0..self.tp)
            .map(|t| self.at(t, self.dp_rank, self.shard.pp_rank))
            .collect()
    }

    pub fn dp_members(&self) -> Vec<usize> {
        (0..self.dp)
            .map(|d| self.at(self.shard.tp_rank, d, self.shard.pp_rank))
            .collect()
    }

    pub fn pp_members(&self) -> Vec<usize> {
        (0..self.pp)
            .map(|p| self.at(self.shard.tp_rank, self.dp_rank, p))
            .collect()
    }

    /// Indices that name each group uniquely among groups of its kind.
    pub fn tp_group(&self) -> usize {
        self.dp_rank + self.dp * self.shard.pp_rank
    }

    pub fn dp_group(&self) -> usize {
        self.shard.tp_rank + self.tp * self.shard.pp_rank
    }

    pub fn pp_group(&self) -> usize {
        self.shard.tp_rank + self.tp * self.dp_rank
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_parallel_varies_fastest() {
        // 8 ranks as TP2 × DP2 × PP2.
        let g = RankGrid::new(5, 2, 2, 8);
        assert_eq!((g.shard.tp_rank, g.dp_rank, g.shard.pp_rank), (1, 0, 1));
        assert_eq!(g.tp_members(), [4, 5]);
        assert_eq!(g.dp_members(), [5, 7]);
        assert_eq!(g.pp_members(), [1, 5]);
    }
}
