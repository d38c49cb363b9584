//! Counterfactuals of tree ensembles against exhaustive enumeration: the XGBoost
//! model of tests/fixtures/trees (5 features, 8 trees) is constant on the boxes its
//! thresholds cut, so the cheapest counterfactual is the cheapest box corner nearest
//! the instance. The boxes are enumerated here from the model file's own thresholds
//! (read from its JSON, not through explaind's parser), every corner predicted, and
//! the least cost compared with the branch and bound's.

use std::collections::BTreeSet;

use explaind::core::counterfactual::{self, CostModel, Domain, Goal, Method, Problem};
use explaind::core::models::{HostedModel, Model, OutputSpace};
use explaind::core::Cancel;
use explaind::formats::xgboost;
use ndarray::Array2;
use serde_json::Value;

fn dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trees")
}

/// The model, its thresholds per feature (float32, "go left when x < t"), its rows.
/// The model, its cuts per feature, its test rows and its background rows.
type Loaded = (HostedModel, Vec<Vec<f32>>, Vec<Vec<f64>>, Vec<Vec<f64>>);

fn load() -> Loaded {
    let bytes = std::fs::read(dir().join("xgb_bin.json")).unwrap();
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    let trees = doc["learner"]["gradient_booster"]["model"]["trees"]
        .as_array()
        .unwrap();
    let mut cuts = vec![BTreeSet::new(); 5];
    for tree in trees {
        let lefts = tree["left_children"].as_array().unwrap();
        for (i, left) in lefts.iter().enumerate() {
            if left.as_i64() != Some(-1) {
                let f = tree["split_indices"][i].as_u64().unwrap() as usize;
                let t = tree["split_conditions"][i].as_f64().unwrap() as f32;
                cuts[f].insert(t.to_bits());
            }
        }
    }
    let mut cuts: Vec<Vec<f32>> = cuts
        .into_iter()
        .map(|s| s.into_iter().map(f32::from_bits).collect())
        .collect();
    for c in &mut cuts {
        c.sort_by(f32::total_cmp);
    }
    let case: Value =
        serde_json::from_slice(&std::fs::read(dir().join("xgb_bin.case.json")).unwrap()).unwrap();
    let rows = |v: &Value| -> Vec<Vec<f64>> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap_or(f64::NAN))
                    .collect::<Vec<f64>>()
            })
            // Rows with a missing value are left out: the search keeps NaN as it is.
            .filter(|r| r.iter().all(|v| v.is_finite()))
            .collect()
    };
    let model = HostedModel::Trees(xgboost::parse(&bytes).unwrap());
    (model, cuts, rows(&case["rows"]), rows(&case["background"]))
}

/// A float32 just below `t`, as an f64: inside the interval left of the cut.
fn below(t: f32) -> f64 {
    let prev = if t > 0.0 {
        f32::from_bits(t.to_bits() - 1)
    } else {
        f32::from_bits(t.to_bits() + 1)
    };
    f64::from(prev)
}

/// Per feature: the instance's value and, per interval between cuts, its point
/// nearest `x` within `[lo, hi]`.
fn corners(cuts: &[f32], x: f64, lo: f64, hi: f64) -> Vec<f64> {
    let mut ends: Vec<(f64, f64)> = Vec::new();
    let mut start = f64::NEG_INFINITY;
    for &t in cuts {
        ends.push((start, below(t)));
        start = f64::from(t);
    }
    ends.push((start, f64::INFINITY));
    let mut out = vec![x];
    for (a, b) in ends {
        let (a, b) = (a.max(lo), b.min(hi));
        if a <= b {
            out.push(x.clamp(a, b));
        }
    }
    out
}

struct Scenario {
    immutable: Vec<usize>,
    max_changes: Option<usize>,
    l0: bool,
    /// No bounds instead of the background's range.
    wide: bool,
}

/// The least cost over every box corner, or None.
fn brute_force(model: &dyn Model, p: &Problem, cands: &[Vec<f64>], s: &Scenario) -> Option<f64> {
    let mut rows: Vec<Vec<f64>> = vec![vec![]];
    for (j, c) in cands.iter().enumerate() {
        let options: Vec<f64> = if s.immutable.contains(&j) {
            vec![p.instance[j]]
        } else {
            c.clone()
        };
        rows = rows
            .iter()
            .flat_map(|r| options.iter().map(move |&v| [r.clone(), vec![v]].concat()))
            .collect();
    }
    let n = p.instance.len();
    let flat: Vec<f64> = rows.concat();
    let x = Array2::from_shape_vec((rows.len(), n), flat).unwrap();
    let raw = model.predict_raw(x.view());
    let mut best: Option<f64> = None;
    for (row, out) in x.rows().into_iter().zip(raw.rows()) {
        let changes = (0..n).filter(|&j| row[j] != p.instance[j]).count();
        if s.max_changes.is_some_and(|m| changes > m) {
            continue;
        }
        let wanted = matches!(p.goal, Goal::Range { lo, .. } if lo == 0.0);
        if (out[0] >= 0.0) != wanted {
            continue;
        }
        let cost: f64 = if s.l0 {
            changes as f64
        } else {
            (0..n)
                .map(|j| p.cost.weights[j] * (row[j] - p.instance[j]).abs())
                .sum()
        };
        if best.is_none_or(|b| cost < b) {
            best = Some(cost);
        }
    }
    best
}

fn problem(model: &dyn Model, x: &[f64], background: &[Vec<f64>], s: &Scenario) -> Problem {
    let margin =
        model.predict_raw(Array2::from_shape_vec((1, 5), x.to_vec()).unwrap().view())[[0, 0]];
    let (lo, hi) = if margin >= 0.0 {
        (f64::NEG_INFINITY, -f64::MIN_POSITIVE)
    } else {
        (0.0, f64::INFINITY)
    };
    let domains = (0..5)
        .map(|j| {
            let col = background.iter().map(|r| r[j]);
            Domain {
                lo: if s.wide {
                    f64::NEG_INFINITY
                } else {
                    col.clone().fold(x[j], f64::min)
                },
                hi: if s.wide {
                    f64::INFINITY
                } else {
                    col.fold(x[j], f64::max)
                },
                integer: false,
                categories: None,
                immutable: s.immutable.contains(&j),
            }
        })
        .collect();
    Problem {
        instance: x.to_vec(),
        goal: Goal::Range {
            output: 0,
            space: OutputSpace::Raw,
            lo,
            hi,
        },
        domains,
        cost: CostModel {
            weights: vec![1.0, 0.5, 2.0, 1.0, 1.5],
            l0: s.l0,
        },
        max_changes: s.max_changes,
        count: 1,
        seed: 0,
    }
}

#[test]
fn tree_counterfactuals_equal_exhaustive_enumeration_of_boxes() {
    let (model, cuts, rows, background) = load();
    let m = model.as_model();
    let scenarios = [
        Scenario {
            immutable: vec![],
            max_changes: None,
            l0: false,
            wide: false,
        },
        Scenario {
            immutable: vec![1],
            max_changes: None,
            l0: false,
            wide: false,
        },
        Scenario {
            immutable: vec![],
            max_changes: Some(1),
            l0: false,
            wide: false,
        },
        Scenario {
            immutable: vec![0],
            max_changes: Some(2),
            l0: false,
            wide: false,
        },
        Scenario {
            immutable: vec![],
            max_changes: None,
            l0: true,
            wide: false,
        },
        Scenario {
            immutable: vec![],
            max_changes: None,
            l0: false,
            wide: true,
        },
        Scenario {
            immutable: vec![2],
            max_changes: Some(1),
            l0: false,
            wide: true,
        },
    ];
    let mut compared = 0;
    for x in rows.iter().chain(background.iter().take(8)) {
        for s in &scenarios {
            let p = problem(m, x, &background, s);
            let cands: Vec<Vec<f64>> = (0..5)
                .map(|j| corners(&cuts[j], x[j], p.domains[j].lo, p.domains[j].hi))
                .collect();
            let want = brute_force(m, &p, &cands, s);
            let got = counterfactual::solve(&model, &p, &Cancel::never());
            assert_eq!(got.method, Method::TreeSearch);
            assert!(got.optimal);
            match want {
                None => assert!(got.infeasible && got.found.is_empty()),
                Some(cost) => {
                    let found = &got.found[0];
                    // The enumeration's corners left of a cut are the float32 just below
                    // it; the search's the last f64 below: equal up to float32 rounding.
                    assert!(
                        (found.cost - cost).abs() <= 1e-6 * (1.0 + cost),
                        "{} vs {cost}",
                        found.cost
                    );
                    assert!((got.bound.unwrap() - found.cost).abs() <= 1e-9 * (1.0 + cost));
                    for &j in &s.immutable {
                        assert_eq!(found.values[j], x[j]);
                    }
                    let changes = (0..5).filter(|&j| found.values[j] != x[j]).count();
                    assert!(s.max_changes.is_none_or(|mc| changes <= mc));
                    compared += 1;
                }
            }
        }
    }
    assert!(compared >= 90, "only {compared} feasible cases");
}

#[test]
fn a_stopped_tree_search_reports_a_bound_and_no_proof() {
    let (model, _, rows, background) = load();
    let s = Scenario {
        immutable: vec![],
        max_changes: None,
        l0: false,
        wide: false,
    };
    let p = problem(model.as_model(), &rows[2], &background, &s);
    let exact = counterfactual::solve(&model, &p, &Cancel::never());
    let stopped = Cancel::new();
    stopped.cancel();
    let cut = counterfactual::solve(&model, &p, &stopped);
    assert!(!cut.optimal && !cut.infeasible);
    let bound = cut.bound.expect("a bound");
    assert!(bound <= exact.found[0].cost);
}

#[test]
fn diverse_tree_counterfactuals_never_change_a_superset_of_an_earlier_one() {
    let (model, _, rows, background) = load();
    let s = Scenario {
        immutable: vec![],
        max_changes: None,
        l0: false,
        wide: false,
    };
    let mut p = problem(model.as_model(), &rows[0], &background, &s);
    p.count = 3;
    let got = counterfactual::solve(&model, &p, &Cancel::never());
    assert!(got.found.len() >= 2);
    for w in got.found.windows(2) {
        assert!(w[0].cost <= w[1].cost);
    }
    let supports: Vec<Vec<usize>> = got
        .found
        .iter()
        .map(|f| counterfactual::changed(&p.instance, &f.values))
        .collect();
    for (i, later) in supports.iter().enumerate() {
        for earlier in &supports[..i] {
            assert!(
                earlier.iter().any(|j| !later.contains(j)),
                "{later:?} ⊇ {earlier:?}"
            );
        }
    }
}
