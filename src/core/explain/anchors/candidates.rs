//! The candidate predicates of a row: the instance's quartile and decile bins of
//! each numeric feature, its category of each categorical one (module doc of
//! [`super`]).

use ndarray::{ArrayView1, ArrayView2, Axis};

use super::{Condition, Predicate};
use crate::core::models::RawFeatures;
use crate::core::stats::private_quantile;

/// How one feature is cut.
#[derive(Debug, Clone)]
enum Cuts {
    /// Quartile and decile edges, each sorted and without repeats.
    Numeric {
        quartiles: Vec<f64>,
        deciles: Vec<f64>,
    },
    /// A category code.
    Categorical,
}

/// The cuts of every feature, from the background, computed once per call.
#[derive(Debug, Clone)]
pub(super) struct Edges {
    cuts: Vec<Cuts>,
}

impl Edges {
    /// The cuts of the columns of `background`; `raw` says which are categorical.
    pub(super) fn of(background: ArrayView2<f64>, raw: Option<&RawFeatures>) -> Self {
        let cuts = background
            .axis_iter(Axis(1))
            .enumerate()
            .map(|(j, col)| {
                if raw.is_some_and(|r| r.categories(j).is_some()) {
                    return Cuts::Categorical;
                }
                let mut sorted: Vec<f64> = col.iter().copied().filter(|v| v.is_finite()).collect();
                sorted.sort_by(f64::total_cmp);
                let edges = |ps: &[f64]| -> Vec<f64> {
                    if sorted.is_empty() {
                        return Vec::new();
                    }
                    let mut e: Vec<f64> =
                        ps.iter().map(|&p| private_quantile(&sorted, p)).collect();
                    e.dedup();
                    e
                };
                Cuts::Numeric {
                    quartiles: edges(&[0.25, 0.5, 0.75]),
                    deciles: edges(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]),
                }
            })
            .collect();
        Edges { cuts }
    }

    /// The candidate predicates of `row`, in feature order: for a number, `value >
    /// lower` and `value ≤ upper` of its quartile bin (as alibi's and the paper's
    /// code, so that a rule can keep one side), then its decile bin. Every candidate
    /// holds for `row`; one without an edge (a constant column) says nothing and is
    /// left out.
    pub(super) fn candidates(&self, row: ArrayView1<f64>) -> Vec<Predicate> {
        let mut out = Vec::new();
        for (feature, (cuts, &v)) in self.cuts.iter().zip(row.iter()).enumerate() {
            let mut push = |condition: Condition| {
                let p = Predicate { feature, condition };
                if !out.contains(&p) {
                    out.push(p);
                }
            };
            match cuts {
                _ if v.is_nan() => push(Condition::Missing),
                Cuts::Categorical => push(Condition::Categories(vec![v as usize])),
                Cuts::Numeric { quartiles, deciles } => {
                    // Each side of the quartile bin on its own (a rule holding both
                    // is the bin), then the decile bin.
                    if let Some(Condition::Interval { lower, upper }) = bin(quartiles, v) {
                        if lower.is_some() {
                            push(Condition::Interval { lower, upper: None });
                        }
                        if upper.is_some() {
                            push(Condition::Interval { lower: None, upper });
                        }
                    }
                    if let Some(bin) = bin(deciles, v) {
                        push(bin);
                    }
                }
            }
        }
        out
    }
}

/// The bin `lower < v ≤ upper` of `edges` that holds `v`; `None` without edges.
fn bin(edges: &[f64], v: f64) -> Option<Condition> {
    if edges.is_empty() {
        return None;
    }
    let i = edges.partition_point(|&e| e < v);
    Some(Condition::Interval {
        lower: i.checked_sub(1).map(|k| edges[k]),
        upper: edges.get(i).copied(),
    })
}

/// The conditions of a rule merged per feature, in feature order: intervals of the
/// same feature intersect, category sets too.
pub(super) fn merge(candidates: &[Predicate], rule: &[usize]) -> Vec<Predicate> {
    let mut merged: Vec<Predicate> = Vec::new();
    for p in rule.iter().map(|&c| &candidates[c]) {
        let Some(m) = merged.iter_mut().find(|m| m.feature == p.feature) else {
            merged.push(p.clone());
            continue;
        };
        m.condition = match (&m.condition, &p.condition) {
            (
                Condition::Interval {
                    lower: l1,
                    upper: u1,
                },
                Condition::Interval {
                    lower: l2,
                    upper: u2,
                },
            ) => Condition::Interval {
                lower: max_edge(*l1, *l2, f64::max),
                upper: max_edge(*u1, *u2, f64::min),
            },
            (Condition::Categories(a), Condition::Categories(b)) => {
                Condition::Categories(a.iter().copied().filter(|c| b.contains(c)).collect())
            }
            (a, _) => a.clone(),
        };
    }
    merged.sort_by_key(|p| p.feature);
    merged
}

/// The tighter of two optional edges (`pick` is `max` for lower edges, `min` for
/// upper ones); an open end is no bound.
fn max_edge(a: Option<f64>, b: Option<f64>, pick: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, None) => a,
        (None, b) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::models::RawKind;
    use ndarray::{array, Array2};

    #[test]
    fn the_bins_hold_the_instance_and_sit_between_background_values() {
        let background =
            Array2::from_shape_fn(
                (101, 2),
                |(i, j)| if j == 0 { i as f64 } else { (i % 3) as f64 },
            );
        let raw = RawFeatures::new(vec![
            RawKind::Numeric,
            RawKind::Categorical {
                categories: vec!["a".into(), "b".into(), "c".into()],
            },
        ])
        .unwrap();
        let edges = Edges::of(background.view(), Some(&raw));
        let row = array![30.0, 2.0];
        let cands = edges.candidates(row.view());
        // Both sides of the quartile bin, the decile bin, the category.
        assert_eq!(cands.len(), 4);
        for p in &cands {
            assert!(p.condition.holds(row[p.feature]), "{p:?}");
        }
        // Quartiles of 0..=100 at 25 and 50, moved half a rank off the rows.
        let lower = Condition::Interval {
            lower: Some(25.5),
            upper: None,
        };
        let upper = Condition::Interval {
            lower: None,
            upper: Some(50.5),
        };
        assert_eq!([&cands[0].condition, &cands[1].condition], [&lower, &upper]);
        assert_eq!(cands[3].condition, Condition::Categories(vec![2]));
        let nan = edges.candidates(array![f64::NAN, 0.0].view());
        assert_eq!(nan[0].condition, Condition::Missing);
        // The decile bin is (20.5, 30.5]; the merged rule, the intersection.
        let merged = merge(&cands, &[0, 1, 2]);
        assert_eq!(merged.len(), 1);
        assert_eq!(
            merged[0].condition,
            Condition::Interval {
                lower: Some(25.5),
                upper: Some(30.5)
            }
        );
    }
}
