//! Folding column-local preprocessing into a tree ensemble: trees over derived
//! columns (what a pipeline's last model reads) become trees over the raw features
//! the user sends, so every explainer answers one attribution per raw feature and
//! the values are the Shapley values of the whole pipeline over raw features.
//!
//! Each derived column is a function of one raw feature ([`Derived`]). A split on
//! it is a predicate `p` of that raw value, `p(x) = goes_left(map(x))`, rewritten
//! as a split on the raw feature that decides every value alike:
//! - a numeric raw feature through a monotone map (scaling, imputing NaN, casts,
//!   binarizing, all in the arithmetic the deployed graph uses): `p` changes at most
//!   once over the ordered non-NaN values, so it is `x <= t` (or its negation, with
//!   the children swapped) for the last value `t` on the first side, found exactly by
//!   bisection over the ordered f64 values; NaN goes where `p(NaN)` sends it;
//! - a categorical raw feature: `p` is evaluated for every code, the unseen code
//!   and NaN, and written as a set of codes ([`Split::Categories`]) that leaves the
//!   unseen code unlisted, NaN taking the default direction.

use super::{EnsembleSpec, Missing, Node, Split};
use crate::core::models::{RawFeatures, RawKind};
use crate::core::{CoreError, CoreResult};

/// The value of a derived column as a function of its raw feature.
pub enum ValueMap {
    /// For a numeric raw feature: the column's value for a raw value, exactly as the
    /// deployed graph computes it. It must be monotone (non-decreasing or
    /// non-increasing) over finite values (what JSON numbers are); NaN may map
    /// anywhere. (A float32 graph turns values beyond float32's range into
    /// infinities; a scale of 0 makes those NaN, which the fold does not follow.)
    Monotone(Box<dyn Fn(f64) -> f64 + Send + Sync>),
    /// For a categorical raw feature of K categories: the column's value for codes
    /// 0..K-1 and the unseen code K (K + 1 values), and for a missing value.
    Table {
        /// Values per code, the unseen code last.
        codes: Vec<f64>,
        /// The value for a missing (NaN) raw value.
        missing: f64,
    },
}

impl std::fmt::Debug for ValueMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValueMap::Monotone(_) => f.write_str("Monotone(..)"),
            ValueMap::Table { codes, missing } => f
                .debug_struct("Table")
                .field("codes", codes)
                .field("missing", missing)
                .finish(),
        }
    }
}

/// One column an ensemble reads: which raw feature it is computed from, and how.
#[derive(Debug)]
pub struct Derived {
    /// Index of the raw feature.
    pub raw: usize,
    /// Its value as a function of the raw value.
    pub map: ValueMap,
}

/// The raw features a folded ensemble reads.
#[derive(Debug, Clone)]
pub struct RawInputs {
    /// Their names, in input order (the folded ensemble's feature names).
    pub names: Vec<String>,
    /// Their kinds, in the same order.
    pub features: RawFeatures,
}

/// Rewrite `spec`, whose feature j is `columns[j]`, into an ensemble over `raw`.
///
/// # Errors
/// [`CoreError::InvalidModel`] when `columns` does not describe every feature of
/// `spec`, names a raw feature out of range, pairs a table with a numeric raw
/// feature (or a monotone map with a categorical one), gives a table of the wrong
/// length, or when a split that is not a threshold (a set of categories, or
/// LightGBM's zero-as-missing) reads a monotone column: such a split is no threshold
/// on the raw value.
pub fn fold(
    mut spec: EnsembleSpec,
    columns: &[Derived],
    raw: RawInputs,
) -> CoreResult<EnsembleSpec> {
    let bad = |m: String| CoreError::InvalidModel(m);
    if columns.len() != spec.n_features {
        return Err(bad(format!(
            "{} derived columns described for a model of {} features",
            columns.len(),
            spec.n_features
        )));
    }
    if raw.names.len() != raw.features.len() {
        return Err(bad(format!(
            "{} names for {} raw features",
            raw.names.len(),
            raw.features.len()
        )));
    }
    for (j, c) in columns.iter().enumerate() {
        let kind = raw.features.kinds().get(c.raw).ok_or_else(|| {
            bad(format!(
                "column {j} reads raw feature {} of {}",
                c.raw,
                raw.features.len()
            ))
        })?;
        match (kind, &c.map) {
            (RawKind::Numeric, ValueMap::Monotone(_)) => {}
            (RawKind::Categorical { categories }, ValueMap::Table { codes, .. })
                if codes.len() == categories.len() + 1 => {}
            _ => {
                return Err(bad(format!(
                    "column {j}: its value map does not fit raw feature '{}'",
                    raw.names[c.raw]
                )))
            }
        }
    }
    for (t, tree) in spec.trees.iter_mut().enumerate() {
        for (i, node) in tree.nodes.iter_mut().enumerate() {
            let Some(f) = node.feature else { continue };
            let column = columns.get(f).ok_or_else(|| {
                bad(format!(
                    "tree {t}: node {i} splits on feature {f}, beyond the model's"
                ))
            })?;
            fold_node(node, column).map_err(|why| {
                bad(format!(
                    "tree {t}: node {i} on raw feature '{}': {why}",
                    raw.names[column.raw]
                ))
            })?;
        }
    }
    spec.n_features = raw.features.len();
    spec.feature_names = Some(raw.names);
    spec.raw_features = raw.features.has_categories().then_some(raw.features);
    Ok(spec)
}

/// Rewrite one split node in place.
fn fold_node(node: &mut Node, column: &Derived) -> Result<(), String> {
    node.feature = Some(column.raw);
    match &column.map {
        ValueMap::Monotone(map) => fold_threshold(node, map.as_ref()),
        ValueMap::Table { codes, missing } => {
            let left: Vec<bool> = codes.iter().map(|&v| node.goes_left(v)).collect();
            let (unseen_left, seen) = left.split_last().expect("a table has the unseen code");
            let listed = (0..seen.len())
                .filter(|&c| seen[c] != *unseen_left)
                .map(|c| u32::try_from(c).map_err(|_| "too many categories".to_string()))
                .collect::<Result<Vec<u32>, _>>()?;
            node.default_left = node.goes_left(*missing);
            node.split = Some(Split::Categories {
                categories: listed,
                listed_go_left: !unseen_left,
            });
            Ok(())
        }
    }
}

/// A threshold split on `map(x)` as `x <= t` on the raw value, the children swapped
/// when the low values go right.
fn fold_threshold(node: &mut Node, map: &(dyn Fn(f64) -> f64 + Send + Sync)) -> Result<(), String> {
    match &node.split {
        Some(Split::LessThanF32 { .. } | Split::LessOrEqualF32 { .. })
        | Some(Split::LessOrEqual {
            missing: Missing::NanDefault | Missing::NanAsZero,
            ..
        }) => {}
        Some(Split::LessOrEqual {
            missing: Missing::ZeroDefault,
            ..
        }) => return Err("a zero-as-missing split is no threshold on the raw value".into()),
        Some(Split::Categories { .. }) => {
            return Err("a split on a set of categories reads a numeric column".into())
        }
        Some(Split::InSetF32 { .. }) => {
            return Err(
                "an equality split (BRANCH_EQ, NEQ or MEMBER) on a scaled or imputed \
                        numeric column is no threshold on the raw value"
                    .into(),
            )
        }
        None => return Ok(()),
    }
    let p = |x: f64| node.goes_left(map(x));
    let low = p(f64::MIN);
    let (mut a, mut b) = (key(f64::MIN), key(f64::MAX));
    let threshold = if p(f64::MAX) == low {
        f64::INFINITY
    } else {
        // p(a) == low and p(b) != low: shrink to neighbours.
        while b - a > 1 {
            let mid = a + (b - a) / 2;
            if p(unkey(mid)) == low {
                a = mid;
            } else {
                b = mid;
            }
        }
        unkey(a)
    };
    let nan_left = p(f64::NAN);
    if !low {
        std::mem::swap(&mut node.left, &mut node.right);
    }
    node.default_left = nan_left == low;
    node.split = Some(Split::LessOrEqual {
        threshold,
        missing: Missing::NanDefault,
    });
    Ok(())
}

/// A key that orders non-NaN f64 values as numbers (−0 and +0 share one).
fn key(x: f64) -> i128 {
    let bits = x.to_bits() as i64;
    i128::from(if bits < 0 { i64::MIN - bits } else { bits })
}

/// The value of a [`key`] (+0 for zero).
fn unkey(k: i128) -> f64 {
    let k = i64::try_from(k).expect("keys of f64 values fit an i64");
    let bits = if k < 0 { i64::MIN - k } else { k };
    f64::from_bits(bits as u64)
}

#[cfg(test)]
mod tests;
