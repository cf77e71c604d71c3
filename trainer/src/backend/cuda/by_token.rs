//! The rows of a micro-batch grouped by the embedding row their token selects, in row order
//! within each group: what lets `embed_tokens_backward` on a GPU run tokens and columns in
//! parallel while every table element still gets the CPU's sums in the CPU's order (one block
//! per group walks its rows in order; no two blocks touch the same table row).

/// The groups, as the kernel reads them: the rows of group `g` are
/// `order[starts[g]..starts[g + 1]]`, all with token `table_rows[g] + vocab_start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowsByToken {
    pub order: Vec<u32>,
    pub starts: Vec<u32>,
    pub table_rows: Vec<u32>,
}

impl RowsByToken {
    /// Groups the rows whose token falls in this rank's `vocab_rows` rows from `vocab_start`
    /// (the others add nothing), groups in order of their first row.
    pub fn new(tokens: &[u32], vocab_start: usize, vocab_rows: usize) -> RowsByToken {
        let mut group_of = std::collections::HashMap::new();
        let mut members: Vec<Vec<u32>> = Vec::new();
        let mut table_rows = Vec::new();
        for (r, &tok) in tokens.iter().enumerate() {
            let t = tok as usize;
            if t < vocab_start || t >= vocab_start + vocab_rows {
                continue;
            }
            let g = *group_of.entry(t).or_insert_with(|| {
                members.push(Vec::new());
                table_rows.push((t - vocab_start) as u32);
                members.len() - 1
            });
            members[g].push(r as u32);
        }
        let mut starts = vec![0u32];
        let mut order = Vec::with_capacity(tokens.len());
        for m in members {
            order.extend(m);
            starts.push(order.len() as u32);
        }
        RowsByToken {
            order,
            starts,
            table_rows,
        }
    }

    pub fn groups(&self) -> usize {
        self.table_rows.len()
    }

    /// What the kernel computes, on the host: for each group and column, the table element
    /// plus the group's rows in order.
    pub fn apply(&self, dwte: &mut [f32], dout: &[f32], c: usize) {
        for (g, &row) in self.table_rows.iter().enumerate() {
            for j in 0..c {
                let at = row as usize * c + j;
                let mut acc = dwte[at];
                for &r in &self.order[self.starts[g] as usize..self.starts[g + 1] as usize] {
                    acc += dout[r as usize * c + j];
                }
                dwte[at] = acc;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, Cpu};

    /// Grouped by token and summed as the kernel sums, the embedding's gradient is bitwise the
    /// CPU backend's, with tokens repeated many times, once, and outside this rank's rows.
    #[test]
    fn grouped_rows_give_bitwise_the_cpu_gradient() {
        let mut rng = sieve_shards::rng::SplitMix(5);
        let (n, c, vocab_start, rows) = (300, 7, 40, 50);
        // Tokens from 0 to 119: some below, some above this rank's rows; many repeats.
        let tokens: Vec<u32> = (0..n).map(|_| (rng.next_u64() % 120) as u32).collect();
        let mut value = || ((rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0;
        let dout: Vec<f32> = (0..n * c).map(|_| value()).collect();
        let start: Vec<f32> = (0..rows * c).map(|_| value()).collect();
        let mut cpu = start.clone();
        Cpu::<f32>::new().embed_tokens_backward(&mut cpu, &dout, &tokens, vocab_start, c);
        let groups = RowsByToken::new(&tokens, vocab_start, rows);
        let mine = tokens.iter().filter(|&&t| (40..90).contains(&t)).count();
        assert_eq!(groups.order.len(), mine);
        assert!(groups.groups() <= rows && groups.groups() > 30);
        let mut gpu = start;
        groups.apply(&mut gpu, &dout, c);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&gpu), bits(&cpu));
    }

    #[test]
    fn groups_hold_their_rows_in_row_order() {
        let g = RowsByToken::new(&[7, 3, 7, 99, 3, 7], 0, 10);
        assert_eq!(g.table_rows, [7, 3]);
        assert_eq!(g.starts, [0, 3, 5]);
        assert_eq!(g.order, [0, 2, 5, 1, 4]);
    }
}
