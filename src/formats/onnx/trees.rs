//! ONNX-ML tree ensembles → [`EnsembleSpec`]: `TreeEnsembleRegressor` and
//! `TreeEnsembleClassifier` (ai.onnx.ml opsets 1–3) and the opset-5 `TreeEnsemble`.
//!
//! Each split compares in float32 as onnxruntime does (it casts the input and the
//! thresholds to float): `BRANCH_LEQ` is [`Split::LessOrEqualF32`], `BRANCH_LT`
//! [`Split::LessThanF32`], `BRANCH_GTE`/`BRANCH_GT` those with the children swapped,
//! `BRANCH_EQ`/`BRANCH_MEMBER` a set of float32 values ([`Split::InSetF32`]), and
//! `BRANCH_NEQ` that set with the children swapped. NaN follows
//! `nodes_missing_value_tracks_true`, except at `BRANCH_NEQ` where, as in
//! onnxruntime, NaN ≠ t always takes the true branch.
//!
//! An ONNX leaf may add to several targets (a forest classifier's leaf holds one
//! probability per class); an [`EnsembleSpec`] tree adds to one output, so each
//! tree becomes one copy per target it writes, the other targets' weights dropped.
//! `AVERAGE` divides every leaf value by the number of trees (onnxruntime divides
//! the sum, the same function); `base_values` are added after. `MIN` and `MAX` keep,
//! per output, the smallest or largest weight of the leaves reached: each leaf then
//! holds the extreme of its weights for the output, and [`ExtremeLeaves`] says
//! which leaves write one (a predict-only model, [`crate::core::models::ExtremeTrees`]:
//! TreeSHAP adds leaves).
//!
//! A binary `TreeEnsembleClassifier` with one set of class weights (what skl2onnx
//! writes) has one output, the score s of the positive class: onnxruntime's
//! `probabilities` are then `[1 − s, s]` (or `[−s, s]` with negative weights) for
//! `NONE`, `SOFTMAX` and `SOFTMAX_ZERO` alike, and `[σ(−s), σ(s)]` for `LOGISTIC`;
//! the output equals their second column. ONNX files carry no node covers
//! (`nodes_hitrates` are 1.0), so every cover is 1: path-dependent TreeSHAP is
//! refused for kind `onnx` (see `explainer`).

use std::collections::BTreeSet;

use super::graph::{self, Attr};
use super::invalid;
use crate::core::models::extreme::ExtremeLeaves;
use crate::core::models::trees::{budget, EnsembleSpec, Node, Split, Tree};
use crate::core::models::Link;
use crate::core::CoreResult;

mod legacy;
mod v5;

#[cfg(test)]
mod tests;

/// Most nodes the converted ensemble may hold (every tree copied once per target
/// it writes), checked before the copies are made: what fits in the default model
/// memory budget.
pub(crate) const MAX_NODES: usize =
    budget::DEFAULT_MAX_MODEL_MEMORY_MB * budget::MIB / std::mem::size_of::<Node>();

/// Most targets (classes) a model may have: the base margins and every tree's
/// copies are allocated per target.
pub(crate) const MAX_TARGETS: usize = 1 << 16;

/// One ai.onnx.ml tree node reading an input of `n_features` float columns, as an
/// ensemble over those columns (kind `"onnx"`).
///
/// # Errors
/// [`crate::core::CoreError::InvalidModel`] (prefixed `onnx:`) naming the operator
/// and the problem: a missing attribute, arrays of mismatched lengths, a node id or
/// child out of range, an unknown node mode, a NaN threshold, a feature beyond
/// `n_features`, a target or class out of range, an unknown aggregate function, a
/// post-transform the output count cannot take, or more nodes
/// than [`MAX_NODES`]. Loops and shared nodes are found when the ensemble is
/// validated ([`crate::core::models::TreeEnsemble::with_limits`]), or here for the
/// opset-5 form, which is walked from its roots.
pub(crate) fn ensemble(
    node: &graph::Node,
    n_features: usize,
) -> CoreResult<(EnsembleSpec, Option<ExtremeLeaves>)> {
    let forest = match node.op.as_str() {
        "TreeEnsembleRegressor" | "TreeEnsembleClassifier" => legacy::read(node)?,
        "TreeEnsemble" => v5::read(node)?,
        other => {
            return Err(invalid(format!(
                "'{other}' is not a tree ensemble operator"
            )))
        }
    };
    forest.into_spec(&node.op, n_features)
}

/// The operator's attributes, read with the operator's name in every error.
pub(super) struct Attrs<'a> {
    pub(super) node: &'a graph::Node,
}

impl Attrs<'_> {
    fn get(&self, name: &str) -> Option<&Attr> {
        self.node.attrs.get(name)
    }

    pub(super) fn missing(&self, name: &str) -> crate::core::CoreError {
        invalid(format!("{}: missing attribute '{name}'", self.node.op))
    }

    /// A list of integers (an `ints` attribute or an integer tensor); empty when
    /// present with no values, `None` when absent.
    pub(super) fn ints(&self, name: &str) -> Option<&[i64]> {
        match self.get(name)? {
            Attr::Ints(v) => Some(v),
            Attr::Tensor(t) => Some(&t.ints),
            _ => Some(&[]),
        }
    }

    /// A list of numbers (a `floats` attribute or a float or double tensor).
    pub(super) fn floats(&self, name: &str) -> Option<&[f64]> {
        match self.get(name)? {
            Attr::Floats(v) => Some(v),
            Attr::Tensor(t) => Some(&t.data),
            _ => Some(&[]),
        }
    }

    /// `floats(name)`, else `floats(name_as_tensor)` (double precision).
    fn floats_or_tensor(&self, name: &str) -> Option<&[f64]> {
        self.floats(name)
            .filter(|v| !v.is_empty())
            .or_else(|| self.floats(&format!("{name}_as_tensor")))
            .or_else(|| self.floats(name))
    }

    fn strings(&self, name: &str) -> Option<&[String]> {
        match self.get(name)? {
            Attr::Strings(v) => Some(v),
            _ => Some(&[]),
        }
    }

    pub(super) fn int(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            Attr::Int(i) => Some(*i),
            _ => None,
        }
    }

    fn string(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            Attr::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A required list, checked to have `n` entries.
    pub(super) fn ints_n(&self, name: &str, n: usize) -> CoreResult<&[i64]> {
        let v = self.ints(name).ok_or_else(|| self.missing(name))?;
        self.check_len(name, v.len(), n)?;
        Ok(v)
    }

    pub(super) fn check_len(&self, name: &str, got: usize, want: usize) -> CoreResult<()> {
        if got == want {
            return Ok(());
        }
        Err(invalid(format!(
            "{}: '{name}' has {got} entries but the nodes have {want}",
            self.node.op
        )))
    }

    /// An optional 0/1 list (`nodes_missing_value_tracks_true`): all false when absent.
    pub(super) fn flags(&self, name: &str, n: usize) -> CoreResult<Vec<bool>> {
        match self.ints(name).filter(|v| !v.is_empty()) {
            None => Ok(vec![false; n]),
            Some(v) => {
                self.check_len(name, v.len(), n)?;
                Ok(v.iter().map(|&b| b != 0).collect())
            }
        }
    }
}

/// A node's comparison as ONNX-ML writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Leq,
    Lt,
    Gte,
    Gt,
    Eq,
    Neq,
    Member,
}

/// The split of one node: `(split, default_left, swap)`, where `swap` says that the
/// false branch becomes the left child.
pub(super) fn split_of(mode: Mode, values: Vec<f32>, tracks_true: bool) -> (Split, bool, bool) {
    let threshold = values.first().copied().unwrap_or(0.0);
    match mode {
        Mode::Leq => (Split::LessOrEqualF32 { threshold }, tracks_true, false),
        Mode::Lt => (Split::LessThanF32 { threshold }, tracks_true, false),
        Mode::Gte => (Split::LessThanF32 { threshold }, !tracks_true, true),
        Mode::Gt => (Split::LessOrEqualF32 { threshold }, !tracks_true, true),
        Mode::Eq | Mode::Member => (Split::InSetF32 { values }, tracks_true, false),
        // NaN ≠ t holds: NaN takes the true branch, now the right child.
        Mode::Neq => (Split::InSetF32 { values }, false, true),
    }
}

/// The sorted set of a membership split, or a NaN-free threshold.
pub(super) fn split_values(op: &str, at: &str, mode: Mode, raw: &[f64]) -> CoreResult<Vec<f32>> {
    let mut values: Vec<f32> = raw.iter().map(|&v| v as f32).collect();
    if values.iter().any(|v| v.is_nan()) || values.is_empty() {
        return Err(invalid(format!(
            "{op}: {at} has a NaN or empty threshold for mode {mode:?}"
        )));
    }
    values.sort_by(f32::total_cmp);
    values.dedup_by(|a, b| a == b);
    Ok(values)
}

/// How a node's scores are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

/// ONNX's post-transforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Post {
    None,
    Logistic,
    Softmax,
    SoftmaxZero,
    Probit,
}

/// One tree before it is split by target: the nodes (leaf values 0) and, per
/// node, the (target, weight) pairs a leaf adds.
#[derive(Debug, Default)]
pub(super) struct ProtoTree {
    pub(super) nodes: Vec<Node>,
    pub(super) weights: Vec<Vec<(usize, f64)>>,
}

/// A parsed ensemble, in ONNX's terms.
#[derive(Debug)]
pub(super) struct Forest {
    pub(super) trees: Vec<ProtoTree>,
    pub(super) n_targets: usize,
    pub(super) base: Vec<f64>,
    pub(super) aggregate: Aggregate,
    pub(super) post: Post,
    /// A classifier's class count, when it is one (the binary rules apply at 2).
    pub(super) classes: Option<usize>,
}

impl Forest {
    fn into_spec(
        self,
        op: &str,
        n_features: usize,
    ) -> CoreResult<(EnsembleSpec, Option<ExtremeLeaves>)> {
        let n_trees = self.trees.len();
        let total: usize = self
            .trees
            .iter()
            .map(|t| t.nodes.len().saturating_mul(targets_of(t).len().max(1)))
            .fold(0usize, usize::saturating_add);
        if total > MAX_NODES {
            return Err(invalid(format!(
                "{op}: {total} nodes once every tree is split by the targets it writes, \
                 beyond the {MAX_NODES} a model may have"
            )));
        }
        let single_set = self.classes == Some(2) && {
            let ids: BTreeSet<usize> = self.trees.iter().flat_map(targets_of).collect();
            ids.len() <= 1
        };
        let (n_out, link, base) = self.outputs(op, single_set)?;
        let (scale, extreme) = match self.aggregate {
            Aggregate::Sum => (1.0, None),
            Aggregate::Average => (1.0 / n_trees.max(1) as f64, None),
            Aggregate::Min => (1.0, Some(false)),
            Aggregate::Max => (1.0, Some(true)),
        };
        let mut trees = Vec::new();
        let mut scored = Vec::new();
        for (t, proto) in self.trees.iter().enumerate() {
            for k in targets_of(proto) {
                let output = if single_set { 0 } else { k };
                if output >= n_out {
                    return Err(invalid(format!(
                        "{op}: tree {t} writes target {k} but the model has {n_out}"
                    )));
                }
                let mut nodes = proto.nodes.clone();
                let mut writes = Vec::with_capacity(nodes.len());
                for (node, weights) in nodes.iter_mut().zip(&proto.weights) {
                    let mine = weights.iter().filter(|w| w.0 == k).map(|w| w.1);
                    writes.push(weights.iter().any(|w| w.0 == k));
                    node.value = match extreme {
                        None => mine.fold(0.0, |s, w| s + w) * scale,
                        Some(max) => mine
                            .reduce(|a, b| if max { a.max(b) } else { a.min(b) })
                            .unwrap_or(0.0),
                    };
                }
                scored.push(writes);
                for (i, node) in nodes.iter().enumerate() {
                    if node.feature.is_some_and(|f| f >= n_features) {
                        return Err(invalid(format!(
                            "{op}: tree {t} node {i} reads feature {} but the input has {n_features}",
                            node.feature.unwrap_or(0)
                        )));
                    }
                }
                trees.push(Tree { nodes, output });
            }
        }
        let spec = EnsembleSpec {
            kind: "onnx",
            objective: format!("{op} ({})", post_name(self.post)),
            link,
            n_features,
            base,
            trees,
            feature_names: None,
            raw_features: None,
        };
        Ok((spec, extreme.map(|max| ExtremeLeaves { max, scored })))
    }

    /// Number of outputs, link and base margins, with onnxruntime's binary rules.
    fn outputs(&self, op: &str, single_set: bool) -> CoreResult<(usize, Link, Vec<f64>)> {
        let refuse = |why: &str| Err(invalid(format!("{op}: {why}")));
        if single_set {
            let base = match self.base.as_slice() {
                [] => 0.0,
                [b] => *b,
                _ => {
                    return refuse(
                        "a binary classifier with one set of class weights and two \
                         base_values: onnxruntime's probabilities ignore the ONNX definition",
                    )
                }
            };
            let link = match self.post {
                Post::None | Post::Softmax | Post::SoftmaxZero => Link::Identity,
                Post::Logistic => Link::Logistic,
                Post::Probit => {
                    return refuse(
                        "post_transform PROBIT on a binary classifier: onnxruntime's \
                         probabilities are NaN",
                    )
                }
            };
            return Ok((1, link, vec![base]));
        }
        let n = self.n_targets;
        if n == 0 {
            return refuse("the model has no targets (n_targets or class labels)");
        }
        if n > MAX_TARGETS {
            return refuse(&format!(
                "{n} targets (n_targets or class labels), beyond the {MAX_TARGETS} supported"
            ));
        }
        if self.classes == Some(2) && !self.base.is_empty() {
            return refuse(
                "base_values on a two-class classifier with weights for both classes: \
                 onnxruntime's probabilities ignore the ONNX definition",
            );
        }
        let base = match self.base.len() {
            0 => vec![0.0; n],
            len if len == n => self.base.clone(),
            len => return refuse(&format!("{len} base_values for {n} targets")),
        };
        let link = match self.post {
            Post::None => Link::Identity,
            Post::Logistic => Link::Logistic,
            Post::Probit => Link::Probit,
            Post::Softmax | Post::SoftmaxZero if n < 2 => {
                return refuse(&format!(
                    "post_transform {} on a single output",
                    post_name(self.post)
                ))
            }
            Post::Softmax => Link::Softmax,
            Post::SoftmaxZero => Link::SoftmaxZero,
        };
        Ok((n, link, base))
    }
}

/// The targets a tree's leaves write, ascending.
fn targets_of(tree: &ProtoTree) -> BTreeSet<usize> {
    tree.weights.iter().flatten().map(|w| w.0).collect()
}

fn post_name(post: Post) -> &'static str {
    match post {
        Post::None => "NONE",
        Post::Logistic => "LOGISTIC",
        Post::Softmax => "SOFTMAX",
        Post::SoftmaxZero => "SOFTMAX_ZERO",
        Post::Probit => "PROBIT",
    }
}

pub(super) fn post_of(op: &str, name: &str) -> CoreResult<Post> {
    Ok(match name {
        "NONE" => Post::None,
        "LOGISTIC" => Post::Logistic,
        "SOFTMAX" => Post::Softmax,
        "SOFTMAX_ZERO" => Post::SoftmaxZero,
        "PROBIT" => Post::Probit,
        other => return Err(invalid(format!("{op}: unknown post_transform '{other}'"))),
    })
}

pub(super) fn aggregate_of(op: &str, name: &str) -> CoreResult<Aggregate> {
    match name {
        "SUM" => Ok(Aggregate::Sum),
        "AVERAGE" => Ok(Aggregate::Average),
        "MIN" => Ok(Aggregate::Min),
        "MAX" => Ok(Aggregate::Max),
        other => Err(invalid(format!(
            "{op}: unknown aggregate_function '{other}'"
        ))),
    }
}

/// A feature index from the file, checked to be a usize.
pub(super) fn index(op: &str, what: &str, at: usize, v: i64) -> CoreResult<usize> {
    usize::try_from(v).map_err(|_| invalid(format!("{op}: {what}[{at}] = {v} is out of range")))
}
