//! Structured generators of tree-model files, driven by bytes: deep "caterpillar"
//! trees (a leaf on one side of every split), wide balanced trees, forests of many
//! small trees, and trees grown at random, written as XGBoost JSON or LightGBM text.
//!
//! Any byte string gives a valid-looking file (reads past the end give zeros), so the
//! same generator serves libFuzzer (`fuzz/fuzz_targets/tree_shapes.rs`, which includes
//! this file by path) and the seeded test in `tests/trees_deep.rs` that CI runs.
#![allow(dead_code)]

use std::fmt::Write;

/// Choices read from a byte string; past its end every choice is 0.
pub struct Choices<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Choices<'a> {
    /// Choices from `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Choices { data, at: 0 }
    }

    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    /// A number in `0..n` (`n` > 0) from two bytes.
    pub fn below(&mut self, n: usize) -> usize {
        let v = usize::from(self.byte()) << 8 | usize::from(self.byte());
        v % n
    }
}

/// A node of a generated tree; children have larger indices than their parent.
#[derive(Debug, Clone, PartialEq)]
pub enum GenNode {
    /// `x[feature] < threshold` goes to `left`; thresholds are k + 0.5, so integer rows
    /// never tie and XGBoost's `<` and LightGBM's `<=` agree.
    Split {
        feature: usize,
        threshold: f64,
        left: usize,
        right: usize,
    },
    /// An output value.
    Leaf { value: f64 },
}

/// A generated tree: nodes, the root first.
#[derive(Debug, Clone, PartialEq)]
pub struct GenTree {
    pub nodes: Vec<GenNode>,
}

/// A generated ensemble (regression, squared error, base score 0).
#[derive(Debug, Clone, PartialEq)]
pub struct GenModel {
    pub n_features: usize,
    pub trees: Vec<GenTree>,
}

/// The shapes the generator draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// One caterpillar tree of up to `max_depth` splits.
    Deep,
    /// One complete binary tree of depth 1 to 10.
    Wide,
    /// Up to 300 trees of up to 8 nodes.
    Forest,
    /// Up to 4 trees grown at random to up to 400 nodes.
    Random,
}

/// A model of a shape chosen by `c`; caterpillars reach at most `max_depth` splits.
pub fn model(c: &mut Choices, max_depth: usize) -> (Shape, GenModel) {
    let shape = [Shape::Deep, Shape::Wide, Shape::Forest, Shape::Random][c.below(4)];
    let n_features = 1 + c.below(80);
    let trees = match shape {
        Shape::Deep => {
            let depth = c.below(max_depth + 1);
            vec![caterpillar(c, n_features, depth)]
        }
        Shape::Wide => {
            let depth = 1 + c.below(10);
            vec![balanced(c, n_features, depth)]
        }
        Shape::Forest => (0..1 + c.below(300))
            .map(|_| random(c, n_features, 8))
            .collect(),
        Shape::Random => (0..1 + c.below(4))
            .map(|_| random(c, n_features, 400))
            .collect(),
    };
    (shape, GenModel { n_features, trees })
}

fn leaf(c: &mut Choices) -> GenNode {
    GenNode::Leaf {
        value: c.below(2001) as f64 / 100.0 - 10.0,
    }
}

fn split(c: &mut Choices, n_features: usize, left: usize, right: usize) -> GenNode {
    GenNode::Split {
        feature: c.below(n_features),
        threshold: c.below(9) as f64 - 3.5,
        left,
        right,
    }
}

/// `depth` splits, each with a leaf on a side chosen by `c` and the next split on the other.
pub fn caterpillar(c: &mut Choices, n_features: usize, depth: usize) -> GenTree {
    // Split i at 2i, its leaf at 2i + 1, the next split at 2i + 2.
    let mut nodes = Vec::with_capacity(2 * depth + 1);
    for i in 0..depth {
        let (own_leaf, next) = (2 * i + 1, 2 * i + 2);
        let (left, right) = if c.below(2) == 0 {
            (own_leaf, next)
        } else {
            (next, own_leaf)
        };
        nodes.push(split(c, n_features, left, right));
        nodes.push(leaf(c));
    }
    nodes.push(leaf(c));
    GenTree { nodes }
}

/// A complete binary tree of `depth` levels of splits, in breadth-first order.
pub fn balanced(c: &mut Choices, n_features: usize, depth: usize) -> GenTree {
    let splits = (1usize << depth) - 1;
    let nodes = (0..2 * splits + 1)
        .map(|i| {
            if i < splits {
                split(c, n_features, 2 * i + 1, 2 * i + 2)
            } else {
                leaf(c)
            }
        })
        .collect();
    GenTree { nodes }
}

/// A tree grown breadth-first: each pending node splits while `c` says so and the
/// tree stays under `max_nodes`.
pub fn random(c: &mut Choices, n_features: usize, max_nodes: usize) -> GenTree {
    let mut nodes = vec![GenNode::Leaf { value: 0.0 }];
    let mut next = 0;
    while next < nodes.len() {
        if nodes.len() + 2 <= max_nodes && c.below(3) != 0 {
            let (l, r) = (nodes.len(), nodes.len() + 1);
            nodes[next] = split(c, n_features, l, r);
            nodes.push(GenNode::Leaf { value: 0.0 });
            nodes.push(GenNode::Leaf { value: 0.0 });
        } else {
            nodes[next] = leaf(c);
        }
        next += 1;
    }
    GenTree { nodes }
}

impl GenTree {
    /// Splits from the root to the deepest leaf.
    pub fn depth(&self) -> usize {
        let mut depth = vec![0usize; self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            if let GenNode::Split { left, right, .. } = *node {
                depth[left] = depth[i] + 1;
                depth[right] = depth[i] + 1;
            }
        }
        depth.into_iter().max().unwrap_or(0)
    }

    /// The value of the leaf `row` reaches.
    pub fn eval(&self, row: &[f64]) -> f64 {
        let mut i = 0;
        loop {
            match self.nodes[i] {
                GenNode::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    i = if row[feature] < threshold {
                        left
                    } else {
                        right
                    }
                }
                GenNode::Leaf { value } => return value,
            }
        }
    }

    /// Training cover of each node: 1 per leaf, summed up the tree.
    fn covers(&self) -> Vec<f64> {
        let mut cover = vec![1.0; self.nodes.len()];
        for i in (0..self.nodes.len()).rev() {
            if let GenNode::Split { left, right, .. } = self.nodes[i] {
                cover[i] = cover[left] + cover[right];
            }
        }
        cover
    }
}

impl GenModel {
    /// The raw prediction for `row`.
    pub fn eval(&self, row: &[f64]) -> f64 {
        self.trees.iter().map(|t| t.eval(row)).sum()
    }

    /// Names `f0`, `f1`, …, which both files carry.
    pub fn feature_names(&self) -> Vec<String> {
        (0..self.n_features).map(|j| format!("f{j}")).collect()
    }

    /// The deepest tree's depth.
    pub fn depth(&self) -> usize {
        self.trees.iter().map(GenTree::depth).max().unwrap_or(0)
    }

    /// The model as XGBoost's JSON document (`reg:squarederror`, base score 0).
    pub fn xgboost_json(&self) -> String {
        let mut trees = String::new();
        for (t, tree) in self.trees.iter().enumerate() {
            let cover = tree.covers();
            let (mut left, mut right, mut feature, mut cond) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for node in &tree.nodes {
                let (l, r, f, v) = match *node {
                    GenNode::Split {
                        feature,
                        threshold,
                        left,
                        right,
                    } => (left as i64, right as i64, feature, threshold),
                    GenNode::Leaf { value } => (-1, -1, 0, value),
                };
                left.push(l);
                right.push(r);
                feature.push(f);
                cond.push(v);
            }
            let n = tree.nodes.len();
            let zeros = vec![0; n];
            let sep = if t == 0 { "" } else { "," };
            let _ = write!(
                trees,
                "{sep}{{\"id\":{t},\"left_children\":{left:?},\"right_children\":{right:?},\
                 \"split_indices\":{feature:?},\"split_conditions\":{cond:?},\
                 \"default_left\":{zeros:?},\"sum_hessian\":{cover:?},\
                 \"loss_changes\":{zeros:?},\"split_type\":{zeros:?},\
                 \"tree_param\":{{\"num_nodes\":\"{n}\",\"size_leaf_vector\":\"1\"}}}}"
            );
        }
        let info = vec![0; self.trees.len()];
        format!(
            "{{\"learner\":{{\"learner_model_param\":{{\"base_score\":\"0\",\"num_class\":\"0\",\
             \"num_feature\":\"{}\",\"num_target\":\"1\"}},\
             \"objective\":{{\"name\":\"reg:squarederror\"}},\
             \"gradient_booster\":{{\"name\":\"gbtree\",\"model\":{{\"trees\":[{trees}],\
             \"tree_info\":{info:?}}}}},\"feature_names\":{:?}}},\"version\":[2,1,0]}}",
            self.n_features,
            self.feature_names()
        )
    }

    /// The model as LightGBM's text (`regression`).
    pub fn lightgbm_text(&self) -> String {
        let mut out = format!(
            "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n\
             max_feature_idx={}\nobjective=regression\nfeature_names={}\n\n",
            self.n_features - 1,
            self.feature_names().join(" ")
        );
        for (t, tree) in self.trees.iter().enumerate() {
            let cover = tree.covers();
            // Splits keep their order as 0..S, leaves as 0..L (child index −j−1).
            let mut id = Vec::with_capacity(tree.nodes.len());
            let (mut splits, mut leaves) = (0i64, 0i64);
            for node in &tree.nodes {
                if matches!(node, GenNode::Split { .. }) {
                    id.push(splits);
                    splits += 1;
                } else {
                    id.push(-leaves - 1);
                    leaves += 1;
                }
            }
            let mut cols: [Vec<String>; 6] = Default::default();
            let (mut values, mut counts) = (Vec::new(), Vec::new());
            for (i, node) in tree.nodes.iter().enumerate() {
                match *node {
                    GenNode::Split {
                        feature,
                        threshold,
                        left,
                        right,
                    } => {
                        // `x <= k + 0.5` and `x < k + 0.5` agree on the integer rows used.
                        let row = [
                            feature.to_string(),
                            "1".into(),
                            threshold.to_string(),
                            "8".into(),
                            id[left].to_string(),
                            id[right].to_string(),
                        ];
                        for (col, v) in cols.iter_mut().zip(row) {
                            col.push(v);
                        }
                        counts.push(cover[i]);
                    }
                    GenNode::Leaf { value } => values.push((value, cover[i])),
                }
            }
            let join = |v: &[String]| v.join(" ");
            let leaf_value: Vec<String> = values.iter().map(|v| v.0.to_string()).collect();
            let leaf_count: Vec<String> = values.iter().map(|v| v.1.to_string()).collect();
            let internal: Vec<String> = counts.iter().map(f64::to_string).collect();
            let _ = write!(
                out,
                "Tree={t}\nnum_leaves={leaves}\nnum_cat=0\nsplit_feature={}\nsplit_gain={}\n\
                 threshold={}\ndecision_type={}\nleft_child={}\nright_child={}\n\
                 leaf_value={}\nleaf_count={}\ninternal_count={}\nis_linear=0\nshrinkage=1\n\n\n",
                join(&cols[0]),
                join(&cols[1]),
                join(&cols[2]),
                join(&cols[3]),
                join(&cols[4]),
                join(&cols[5]),
                join(&leaf_value),
                join(&leaf_count),
                join(&internal),
            );
        }
        out.push_str("end of trees\n");
        out
    }
}
