//! Shapley weights of the leaf games of interventional TreeSHAP (see [`super`]).

/// Shapley weights of a leaf game: `pos(a, b)` = (a−1)! b! / (a+b)!, the share of
/// each of the `a` x-side features (and `pos(b, a)` that of each background-side one).
#[derive(Debug)]
pub(super) struct Weights {
    /// Row-major (a, b), `side` × `side`.
    table: Vec<f64>,
    /// Largest count + 1.
    side: usize,
}

impl Weights {
    pub(super) fn new(max: usize) -> Self {
        // (a−1)! b! / (a+b)! = 1 / (a · C(a+b, a)); binomials from Pascal's triangle.
        let mut binom = vec![vec![1.0f64; 2 * max + 2]; 2 * max + 2];
        for n in 1..binom.len() {
            for k in 1..n {
                binom[n][k] = binom[n - 1][k - 1] + binom[n - 1][k];
            }
        }
        let side = max + 1;
        let table = (0..side * side)
            .map(|i| {
                let (a, b) = (i / side, i % side);
                if a == 0 {
                    0.0
                } else {
                    1.0 / (a as f64 * binom[a + b][a])
                }
            })
            .collect();
        Weights { table, side }
    }

    #[inline(always)]
    pub(super) fn pos(&self, a: usize, b: usize) -> f64 {
        self.table[a * self.side + b]
    }

    pub(super) fn bytes(&self) -> usize {
        std::mem::size_of_val(&self.table[..])
    }
}
