//! fastText's hierarchical softmax at prediction time: the Huffman tree over the labels that
//! the trainer built from the label counts (rebuilt here from the counts stored in the model,
//! with the same tie rule, so node numbers match the rows of the output matrix), and the
//! search for the most probable labels.
//!
//! Leaves are the labels `0..n`; internal node `i` (`n..2n-1`) owns output row `i - n`. Going
//! right from a node has probability `sigmoid(row · hidden)`, left its complement, and a
//! label's log-probability is the sum of `ln(p + 1e-5)` along its path, as fastText scores it.

/// One node: its children (`None` for a leaf).
#[derive(Clone, Copy)]
struct Node {
    left: Option<usize>,
    right: Option<usize>,
}

pub struct HuffmanTree {
    labels: usize,
    nodes: Vec<Node>,
}

/// fastText's `std_log`: the log of a probability kept away from zero.
fn log_p(p: f32) -> f32 {
    (p + 1e-5).ln()
}

impl HuffmanTree {
    /// Builds the tree of `counts` (one per label, in the model's label order: descending
    /// counts, as fastText sorts its dictionary). Two queues: leaves from the rarest end,
    /// then internal nodes in creation order; on equal counts the internal node is taken.
    pub fn build(counts: &[i64]) -> HuffmanTree {
        let n = counts.len();
        if n < 2 {
            return HuffmanTree {
                labels: n,
                nodes: vec![
                    Node {
                        left: None,
                        right: None
                    };
                    n
                ],
            };
        }
        let total = 2 * n - 1;
        let mut count = vec![1e15 as i64; total];
        count[..n].copy_from_slice(counts);
        let mut nodes = vec![
            Node {
                left: None,
                right: None
            };
            total
        ];
        // `leaf` walks down from the rarest label; `next` up through the internal nodes.
        let mut leaf = n as isize - 1;
        let mut next = n;
        for i in n..total {
            let mut pick = [0usize; 2];
            for p in &mut pick {
                // `next < i`: only a node already built can be a child. Leaf counts of 1e15
                // and more (never in a trained model) would otherwise make a node its own
                // child, and the tree a cycle.
                if leaf >= 0 && (next >= i || count[leaf as usize] < count[next]) {
                    *p = leaf as usize;
                    leaf -= 1;
                } else {
                    *p = next;
                    next += 1;
                }
            }
            nodes[i] = Node {
                left: Some(pick[0]),
                right: Some(pick[1]),
            };
            count[i] = count[pick[0]].saturating_add(count[pick[1]]);
        }
        HuffmanTree { labels: n, nodes }
    }

    pub fn labels(&self) -> usize {
        self.labels
    }

    fn root(&self) -> usize {
        self.nodes.len() - 1
    }

    /// The log-probability of every label; `right(row)` is `sigmoid(row · hidden)` for the
    /// internal node owning output row `row`.
    pub fn all_log_probs(&self, right: &mut dyn FnMut(usize) -> f32) -> Vec<f32> {
        let mut out = vec![f32::NEG_INFINITY; self.labels];
        if self.labels == 1 {
            out[0] = 0.0;
        }
        if self.labels < 2 {
            return out;
        }
        let mut stack = vec![(self.root(), 0.0f32)];
        while let Some((node, score)) = stack.pop() {
            match self.nodes[node] {
                Node {
                    left: Some(l),
                    right: Some(r),
                } => {
                    let f = right(node - self.labels);
                    stack.push((r, score + log_p(f)));
                    stack.push((l, score + log_p(1.0 - f)));
                }
                _ => out[node] = score,
            }
        }
        out
    }

    /// The most probable label and its log-probability, searching as fastText does with
    /// k = 1: depth first, left before right, abandoning a branch once its score is below
    /// the best leaf found (scores only fall along a path).
    pub fn best(&self, right: &mut dyn FnMut(usize) -> f32) -> Option<(usize, f32)> {
        match self.labels {
            0 => return None,
            1 => return Some((0, 0.0)),
            _ => {}
        }
        let mut best: Option<(usize, f32)> = None;
        self.search(self.root(), 0.0, right, &mut best);
        best
    }

    fn search(
        &self,
        node: usize,
        score: f32,
        right: &mut dyn FnMut(usize) -> f32,
        best: &mut Option<(usize, f32)>,
    ) {
        // fastText's threshold 0 still cuts scores below ln(1e-5).
        if score < log_p(0.0) || best.is_some_and(|(_, s)| score < s) {
            return;
        }
        match self.nodes[node] {
            Node {
                left: Some(l),
                right: Some(r),
            } => {
                let f = right(node - self.labels);
                self.search(l, score + log_p(1.0 - f), right, best);
                self.search(r, score + log_p(f), right, best);
            }
            _ => *best = Some((node, score)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four labels with counts 8, 4, 2, 1: Huffman merges 1 and 2 (node 4), then node 4 and
    /// label 1 (node 5: 3 < 4, so the node comes first), then node 5 and label 0 (the root).
    #[test]
    fn builds_the_huffman_tree_of_the_counts() {
        let t = HuffmanTree::build(&[8, 4, 2, 1]);
        let kids = |i: usize| (t.nodes[i].left.unwrap(), t.nodes[i].right.unwrap());
        assert_eq!(kids(4), (3, 2));
        assert_eq!(kids(5), (4, 1));
        assert_eq!(kids(6), (5, 0));
    }

    #[test]
    fn probabilities_sum_to_one_and_best_is_the_largest() {
        let t = HuffmanTree::build(&[50, 30, 10, 5, 5]);
        // Fixed branch probabilities per internal node (rows 0..4).
        let p = [0.7f32, 0.2, 0.9, 0.4];
        let logs = t.all_log_probs(&mut |row| p[row]);
        let total: f32 = logs.iter().map(|l| l.exp()).sum();
        // Each branch adds 1e-5 inside the log, so the sum is a little over one.
        assert!((total - 1.0).abs() < 1e-3, "{total}");
        let (label, score) = t.best(&mut |row| p[row]).unwrap();
        let max = logs.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(score, max);
        assert_eq!(logs[label], max);
    }
}
