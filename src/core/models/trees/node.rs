//! One decision tree: nodes in a flat vector, the root at index 0, and the rule by
//! which a row goes left or right at each split.

use serde::Serialize;

/// |x| at or below this counts as zero for LightGBM's "zero as missing" rule
/// (LightGBM's `kZeroThreshold`).
pub(super) const LIGHTGBM_ZERO: f64 = 1e-35;

/// What a NaN (or, for LightGBM, a zero) does at a numeric split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// NaN takes the node's default direction (XGBoost; LightGBM missing type NaN).
    NanDefault,
    /// NaN and values with |x| ≤ 1e-35 take the default direction (LightGBM type Zero).
    ZeroDefault,
    /// NaN is read as 0.0 and compared like any value (LightGBM missing type None).
    NanAsZero,
}

/// How a split compares a feature value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Split {
    /// XGBoost: left when `(x as f32) < threshold`, both in float32, as XGBoost compares.
    LessThanF32 {
        /// The split value, exactly as stored (a float32).
        threshold: f32,
    },
    /// LightGBM: left when `x <= threshold` in double precision.
    LessOrEqual {
        /// The split value.
        threshold: f64,
        /// What NaN and zero do.
        missing: Missing,
    },
    /// ONNX-ML's `BRANCH_LEQ`: left when `(x as f32) <= threshold`, both in float32,
    /// as onnxruntime compares; NaN takes the default direction.
    LessOrEqualF32 {
        /// The split value, exactly as stored (a float32).
        threshold: f32,
    },
    /// ONNX-ML's `BRANCH_EQ` and `BRANCH_MEMBER`: left when `x as f32` equals one of
    /// `values` (as float32 compares: -0 equals 0); NaN takes the default direction.
    InSetF32 {
        /// The listed values, ascending, none NaN.
        values: Vec<f32>,
    },
    /// A set of categories. A value is read as the integer `trunc(x)`; NaN takes the
    /// default direction; a negative or unlisted category goes the other way from
    /// the listed ones.
    Categories {
        /// The listed categories, ascending.
        categories: Vec<u32>,
        /// Whether listed categories go left (LightGBM) or right (XGBoost).
        listed_go_left: bool,
    },
}

/// A node of a tree: a split with two children, or a leaf.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    /// Feature index the split reads; `None` for a leaf.
    pub feature: Option<usize>,
    /// The comparison; `None` for a leaf.
    pub split: Option<Split>,
    /// Where NaN (and LightGBM's zero-as-missing) goes: true for left.
    pub default_left: bool,
    /// Index of the left child in the tree's node vector; `None` for a leaf.
    pub left: Option<usize>,
    /// Index of the right child; `None` for a leaf.
    pub right: Option<usize>,
    /// Training weight that reached the node (XGBoost's hessian sum, LightGBM's
    /// sample count): what path-dependent TreeSHAP weighs branches by.
    pub cover: f64,
    /// Raw output added by a leaf; 0 for a split.
    pub value: f64,
    /// Loss reduction of the split (0 for a leaf), for gain importance.
    pub gain: f64,
}

impl Node {
    /// A leaf with its output and cover.
    pub fn leaf(value: f64, cover: f64) -> Self {
        Node {
            feature: None,
            split: None,
            default_left: false,
            left: None,
            right: None,
            cover,
            value,
            gain: 0.0,
        }
    }

    /// Whether the node is a leaf.
    pub fn is_leaf(&self) -> bool {
        self.split.is_none()
    }

    /// Whether a row with value `x` at this node's feature goes left. Leaves answer false.
    #[inline]
    pub fn goes_left(&self, x: f64) -> bool {
        match &self.split {
            None => false,
            Some(Split::LessThanF32 { threshold }) => {
                if x.is_nan() {
                    self.default_left
                } else {
                    (x as f32) < *threshold
                }
            }
            Some(Split::LessOrEqualF32 { threshold }) => {
                if x.is_nan() {
                    self.default_left
                } else {
                    (x as f32) <= *threshold
                }
            }
            Some(Split::InSetF32 { values }) => {
                if x.is_nan() {
                    return self.default_left;
                }
                let x = x as f32;
                values
                    .binary_search_by(|v| v.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Less))
                    .is_ok()
            }
            Some(Split::LessOrEqual { threshold, missing }) => match missing {
                Missing::NanDefault if x.is_nan() => self.default_left,
                Missing::ZeroDefault if x.is_nan() || x.abs() <= LIGHTGBM_ZERO => self.default_left,
                Missing::NanAsZero if x.is_nan() => 0.0 <= *threshold,
                _ => x <= *threshold,
            },
            Some(Split::Categories {
                categories,
                listed_go_left,
            }) => {
                if x.is_nan() {
                    return self.default_left;
                }
                let listed = (0.0..4_294_967_296.0).contains(&x)
                    && categories.binary_search(&(x.trunc() as u32)).is_ok();
                listed == *listed_go_left
            }
        }
    }
}

impl Node {
    /// [`Node::goes_left`] of each of `values`, as bits: value `i` at bit `i % 64` of
    /// word `i / 64` of `left` (words past the values untouched, the bits past
    /// them in the last word zero). The split's kind is matched once, so the common
    /// ones take a loop of compares (a tenth of a probability-space tree game's
    /// setup on the benchmark's classifier went to matching it per value).
    pub fn directions(&self, values: &[f64], left: &mut [u64]) {
        let default = self.default_left;
        match &self.split {
            Some(Split::LessThanF32 { threshold }) => {
                let t = *threshold;
                pack(values, left, |x| {
                    if x.is_nan() {
                        default
                    } else {
                        (x as f32) < t
                    }
                });
            }
            Some(Split::LessOrEqualF32 { threshold }) => {
                let t = *threshold;
                pack(values, left, |x| {
                    if x.is_nan() {
                        default
                    } else {
                        (x as f32) <= t
                    }
                });
            }
            Some(Split::LessOrEqual {
                threshold,
                missing: Missing::NanDefault,
            }) => {
                let t = *threshold;
                pack(values, left, |x| if x.is_nan() { default } else { x <= t });
            }
            _ => pack(values, left, |x| self.goes_left(x)),
        }
    }
}

/// `goes_left` of each value as bits, 64 values a word.
#[inline(always)]
fn pack(values: &[f64], left: &mut [u64], goes_left: impl Fn(f64) -> bool) {
    for (word, chunk) in left.iter_mut().zip(values.chunks(64)) {
        *word = (chunk.iter().enumerate()).fold(0, |w, (i, &x)| w | u64::from(goes_left(x)) << i);
    }
}

/// A split's comparison in 16 bytes, what the TreeSHAP loops read instead of the
/// [`Node`]: the same rule as [`Node::goes_left`], with categorical splits deferring
/// to their node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cut {
    /// The threshold (an XGBoost float32 threshold widened exactly).
    pub threshold: f64,
    /// Feature index.
    pub feature: u32,
    /// How the value is compared.
    pub rule: CutRule,
    /// Where NaN (and LightGBM's zero-as-missing) goes.
    pub default_left: bool,
}

/// The comparison of a [`Cut`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutRule {
    /// [`Split::LessThanF32`].
    LessF32,
    /// [`Split::LessOrEqualF32`].
    LessEqualF32,
    /// [`Split::LessOrEqual`] with [`Missing::NanDefault`].
    LessEqual,
    /// [`Split::LessOrEqual`] with [`Missing::ZeroDefault`].
    LessEqualZeroMissing,
    /// [`Split::LessOrEqual`] with [`Missing::NanAsZero`].
    LessEqualNanAsZero,
    /// [`Split::Categories`] and [`Split::InSetF32`]: ask the node.
    Categories,
}

impl Cut {
    /// The cut of split node `node` (leaves give a cut that is never read).
    pub fn of(node: &Node) -> Self {
        let (threshold, rule) = match &node.split {
            Some(Split::LessThanF32 { threshold }) => (f64::from(*threshold), CutRule::LessF32),
            Some(Split::LessOrEqualF32 { threshold }) => {
                (f64::from(*threshold), CutRule::LessEqualF32)
            }
            Some(Split::LessOrEqual { threshold, missing }) => (
                *threshold,
                match missing {
                    Missing::NanDefault => CutRule::LessEqual,
                    Missing::ZeroDefault => CutRule::LessEqualZeroMissing,
                    Missing::NanAsZero => CutRule::LessEqualNanAsZero,
                },
            ),
            Some(Split::Categories { .. } | Split::InSetF32 { .. }) | None => {
                (0.0, CutRule::Categories)
            }
        };
        Cut {
            threshold,
            feature: node.feature.unwrap_or(0) as u32,
            rule,
            default_left: node.default_left,
        }
    }

    /// Whether value `x` goes left; `node` is the split this cut was made from.
    #[inline(always)]
    pub fn goes_left(&self, x: f64, node: &Node) -> bool {
        match self.rule {
            CutRule::LessF32 if x.is_nan() => self.default_left,
            CutRule::LessF32 => (x as f32) < self.threshold as f32,
            CutRule::LessEqualF32 if x.is_nan() => self.default_left,
            CutRule::LessEqualF32 => (x as f32) <= self.threshold as f32,
            CutRule::LessEqual if x.is_nan() => self.default_left,
            CutRule::LessEqualZeroMissing if x.is_nan() || x.abs() <= LIGHTGBM_ZERO => {
                self.default_left
            }
            CutRule::LessEqualNanAsZero if x.is_nan() => 0.0 <= self.threshold,
            CutRule::LessEqual | CutRule::LessEqualZeroMissing | CutRule::LessEqualNanAsZero => {
                x <= self.threshold
            }
            CutRule::Categories => categories_go_left(x, node),
        }
    }
}

/// The node's own rule, out of line so the numeric cases stay small.
#[cold]
#[inline(never)]
fn categories_go_left(x: f64, node: &Node) -> bool {
    node.goes_left(x)
}

/// One tree of an ensemble and the output it adds to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tree {
    /// Nodes, the root first. Validated: children in range, no cycles, every node
    /// reachable from the root exactly once.
    pub nodes: Vec<Node>,
    /// Which raw output (class) this tree adds to.
    pub output: usize,
}

impl Tree {
    /// The leaf a row reaches.
    #[inline]
    pub fn leaf_of(&self, row: &[f64]) -> &Node {
        let mut node = &self.nodes[0];
        while let (Some(f), Some(l), Some(r)) = (node.feature, node.left, node.right) {
            node = &self.nodes[if node.goes_left(row[f]) { l } else { r }];
        }
        node
    }

    /// Depth of the deepest leaf (a single-leaf tree has depth 0).
    pub fn depth(&self) -> usize {
        let mut deepest = 0;
        let mut stack = vec![(0usize, 0usize)];
        while let Some((i, d)) = stack.pop() {
            deepest = deepest.max(d);
            if let (Some(l), Some(r)) = (self.nodes[i].left, self.nodes[i].right) {
                stack.push((l, d + 1));
                stack.push((r, d + 1));
            }
        }
        deepest
    }

    /// Number of leaves.
    pub fn leaves(&self) -> usize {
        self.nodes.iter().filter(|n| n.is_leaf()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_and_directions_decide_as_their_nodes() {
        let splits = [
            Split::LessThanF32 { threshold: 0.3 },
            Split::LessOrEqualF32 { threshold: 0.3 },
            Split::InSetF32 {
                values: vec![-0.5, 0.0, 0.3, 3.0],
            },
            Split::LessOrEqual {
                threshold: 0.0,
                missing: Missing::NanDefault,
            },
            Split::LessOrEqual {
                threshold: -1e-36,
                missing: Missing::ZeroDefault,
            },
            Split::LessOrEqual {
                threshold: -0.5,
                missing: Missing::NanAsZero,
            },
            Split::Categories {
                categories: vec![1, 3],
                listed_go_left: true,
            },
        ];
        let xs = [
            f64::NAN,
            0.0,
            -0.0,
            1e-36,
            -1e-36,
            0.3,
            0.300_000_01,
            0.299_999_99,
            -0.5,
            1.0,
            3.0,
            3.7,
            -2.0,
        ];
        for split in splits {
            for default_left in [false, true] {
                let node = Node {
                    feature: Some(2),
                    split: Some(split.clone()),
                    default_left,
                    left: Some(1),
                    right: Some(2),
                    cover: 1.0,
                    value: 0.0,
                    gain: 0.0,
                };
                let cut = Cut::of(&node);
                assert_eq!(cut.feature, 2);
                for x in xs {
                    assert_eq!(
                        cut.goes_left(x, &node),
                        node.goes_left(x),
                        "{split:?} at {x}"
                    );
                }
                // Every value in bits, over three words, the last partly.
                let values: Vec<f64> = (0..150).map(|i| xs[i * 7 % xs.len()]).collect();
                let mut left = [u64::MAX; 4];
                node.directions(&values, &mut left);
                for (i, &x) in values.iter().enumerate() {
                    let bit = left[i / 64] >> (i % 64) & 1 == 1;
                    assert_eq!(bit, node.goes_left(x), "{split:?} at {x}");
                }
                assert_eq!(left[2] >> (150 - 128), 0, "{split:?}: bits past the values");
                assert_eq!(left[3], u64::MAX, "{split:?}: words past the values");
            }
        }
    }
}
