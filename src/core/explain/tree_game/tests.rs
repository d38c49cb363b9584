//! The tree game against the generic one (masked rows through `predict`) on real
//! models from tests/fixtures: XGBoost and LightGBM with missing values and
//! categorical splits, CatBoost, ONNX-ML trees (float32 `<=` and value sets).

use ndarray::{Array1, Array2};

use super::*;
use crate::core::explain::sampling::{FeatureGroups, Stop};
use crate::core::explain::tests_support::{random_ensemble, random_linked_ensemble, Opaque};
use crate::core::models::Model;
use crate::core::{Cancel, CoreError};
use crate::formats::onnx::{self, MlModel, OnnxModel};
use crate::formats::{catboost, lightgbm, xgboost};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");

fn read(path: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}{path}")).unwrap()
}

/// A fixture's rows (`null` read as NaN), `key` of its case file.
fn rows(case: &str, key: &str) -> Array2<f64> {
    let doc: serde_json::Value = serde_json::from_slice(&read(case)).unwrap();
    let number = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
    let rows: Vec<Vec<f64>> = (doc[key].as_array().unwrap().iter())
        .map(|r| r.as_array().unwrap().iter().map(number).collect())
        .collect();
    let width = rows[0].len();
    Array2::from_shape_vec((rows.len(), width), rows.concat()).unwrap()
}

fn onnx_trees(path: &str) -> TreeEnsemble {
    match onnx::read(&read(path)).unwrap() {
        OnnxModel::Ml(MlModel::Trees { spec, .. }) => TreeEnsemble::new(spec).unwrap(),
        _ => panic!("{path} is not an ONNX tree ensemble"),
    }
}

/// (name, model, case file with `rows` and `background`).
fn fixtures() -> Vec<(&'static str, TreeEnsemble, &'static str)> {
    let text = |p: &str| String::from_utf8(read(p)).unwrap();
    let mut out = Vec::new();
    for name in ["xgb_bin_cat", "xgb_multi", "xgb_reg", "xgb_poisson"] {
        let model = xgboost::parse(&read(&format!("trees/{name}.json"))).unwrap();
        out.push((name, model, "trees"));
    }
    for name in ["lgb_bin_cat", "lgb_multi", "lgb_reg"] {
        let model = lightgbm::parse(&text(&format!("trees/{name}.txt"))).unwrap();
        out.push((name, model, "trees"));
    }
    for name in ["cb_bin_cat", "cb_multi", "cb_reg"] {
        let model = catboost::parse(&read(&format!("catboost/{name}.json"))).unwrap();
        out.push((name, model.ensemble, "catboost"));
    }
    for name in ["gb_multiclass", "et_binary", "rf_regressor", "modes_v5"] {
        out.push((
            name,
            onnx_trees(&format!("onnx_trees/{name}.onnx")),
            "onnx_trees",
        ));
    }
    out
}

/// The case file of fixture `name` in `dir`.
fn case(name: &str, dir: &str) -> String {
    match dir {
        "onnx_trees" => format!("{dir}/{name}.json"),
        _ => format!("{dir}/{name}.case.json"),
    }
}

/// `count` random coalitions of `players` (splitmix64), every size likely.
fn coalitions(players: usize, count: usize, seed: u64) -> Vec<bool> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    (0..count)
        .flat_map(|_| {
            let size = next() % (players as u64 + 1);
            (0..players)
                .map(|_| next() % (players as u64) < size)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Weights summing to 1, unequal.
fn weights(n: usize) -> Array1<f64> {
    let w = Array1::from_shape_fn(n, |b| 1.0 + (b * 7 % 5) as f64);
    let total = w.sum();
    w / total
}

/// Compare the tree route with the generic one for every output and space, with
/// and without weights, on `masks`: equal to rounding in a linear space, bit for
/// bit through a link. Returns how many values were compared.
/// The raw game of output 0 of `model` for `x` against the unweighted rows of
/// `background`, every player a feature of `groups`.
fn raw_game<'a>(
    model: &'a TreeEnsemble,
    background: &'a Array2<f64>,
    x: &'a Array1<f64>,
    groups: &'a FeatureGroups,
    stop: &'a Stop,
) -> Game<'a> {
    Game {
        model,
        background: background.view(),
        weights: None,
        x: x.view(),
        groups,
        output: 0,
        space: OutputSpace::Raw,
        stop,
        memo: Default::default(),
    }
}

fn assert_routes_agree(
    name: &str,
    model: &TreeEnsemble,
    background: &Array2<f64>,
    x: &Array1<f64>,
    groups: &FeatureGroups,
) -> usize {
    let masks = coalitions(groups.len(), 80, x.len() as u64);
    let w = weights(background.nrows());
    let opaque = Opaque(model);
    let mut compared = 0;
    for output in 0..model.n_outputs() {
        for space in [OutputSpace::Raw, OutputSpace::Probability] {
            for weighted in [false, true] {
                let game = Game {
                    model,
                    background: background.view(),
                    weights: weighted.then(|| w.view()),
                    x: x.view(),
                    groups,
                    output,
                    space,
                    stop: &Stop::default(),
                    memo: Default::default(),
                };
                let generic = Game {
                    model: &opaque,
                    memo: Default::default(),
                    ..game
                };
                let expected = generic.values(&masks).unwrap();
                // In probability space: the tables, and the walks from reference
                // paths when the tables may take no memory.
                for table_bytes in [MAX_TABLE_BYTES, 0] {
                    let trees = values_within(&game, model, &masks, table_bytes, None)
                        .expect("the tree route")
                        .unwrap();
                    // The routes sum the leaves in another order than the masked
                    // rows: equal up to rounding, a few ulps per tree.
                    for (c, (a, b)) in trees.iter().zip(&expected).enumerate() {
                        let close =
                            (a - b).abs() <= 1e-12 * (1.0 + b.abs()) * model.trees().len() as f64;
                        assert!(
                            close,
                            "{name}, output {output}, {space:?}, weighted {weighted}, \
                             tables {table_bytes}, coalition {c}: tree route {a}, \
                             masked rows {b}"
                        );
                    }
                    assert_eq!(trees.len(), expected.len());
                    compared += trees.len();
                }
            }
        }
    }
    compared
}

#[test]
fn tree_game_equals_masked_rows_on_fixture_models() {
    for (name, model, dir) in fixtures() {
        let case = case(name, dir);
        let (xs, background) = (rows(&case, "rows"), rows(&case, "background"));
        assert!(xs.iter().chain(&background).all(|v| !v.is_infinite()));
        let singletons = FeatureGroups::singletons(model.n_features());
        // Pairs of neighbouring features as players, the last maybe alone.
        let f = model.n_features();
        let pairs = (0..f.div_ceil(2))
            .map(|g| (2 * g..(2 * g + 2).min(f)).collect())
            .collect();
        let pairs = FeatureGroups::new(pairs, f).unwrap();
        let mut compared = 0;
        for x in xs.rows().into_iter().take(4) {
            for groups in [&singletons, &pairs] {
                compared += assert_routes_agree(name, &model, &background, &x.to_owned(), groups);
            }
        }
        assert!(
            compared >= 4 * 2 * 2 * 2 * 2 * 80,
            "{name}: {compared} values"
        );
    }
}

#[test]
fn fixtures_have_missing_values_and_categorical_splits() {
    // The comparison above is only as strong as what it meets: NaN in the rows or
    // the background, category sets and float32 value sets among the splits.
    use crate::core::models::trees::Split;
    let all = fixtures();
    let has = |pred: &dyn Fn(&Split) -> bool| {
        all.iter().any(|(_, m, _)| {
            m.trees()
                .iter()
                .flat_map(|t| &t.nodes)
                .filter_map(|n| n.split.as_ref())
                .any(pred)
        })
    };
    assert!(has(&|s| matches!(s, Split::Categories { .. })));
    assert!(has(&|s| matches!(s, Split::InSetF32 { .. })));
    assert!(has(&|s| matches!(s, Split::LessOrEqualF32 { .. })));
    assert!(has(&|s| matches!(s, Split::LessThanF32 { .. })));
    for name in ["xgb_bin_cat", "lgb_bin_cat"] {
        let case = format!("trees/{name}.case.json");
        assert!(rows(&case, "rows").iter().any(|v| v.is_nan()), "{name}");
        assert!(
            rows(&case, "background").iter().any(|v| v.is_nan()),
            "{name}"
        );
    }
}

/// Depth-9 trees over 20 features through the logistic link, 150 background rows
/// and a row: (model, background, row).
fn deep_case() -> (TreeEnsemble, Array2<f64>, Array1<f64>) {
    let model = random_linked_ensemble(3, 40, 9, 20, Link::Logistic);
    let background = Array2::from_shape_fn((150, 20), |(i, j)| {
        ((i * 31 + j * 17) % 23) as f64 / 23.0 - 0.5
    });
    let x = Array1::from_shape_fn(20, |j| ((j * 13) % 7) as f64 / 7.0 - 0.5);
    (model, background, x)
}

#[test]
fn deep_trees_walk_without_a_table_and_agree() {
    // Depth-9 trees over 20 features split on more than MEMO_PLAYERS players, so
    // their shares are walked for every coalition; 150 background rows take three
    // words (rounded up to four). Through the logistic link, probability space
    // reads tables, keeps the leaves of the pairs past TABLE_PLAYERS, and with no
    // memory for tables walks the rows that leave their reference paths.
    let (model, background, x) = deep_case();
    let groups = FeatureGroups::singletons(20);
    let stop = Stop::default();
    let game = raw_game(&model, &background, &x, &groups, &stop);
    let walks = Walks::<4>::new(&game, &model, true);
    assert!(walks.heads.iter().any(|h| h.players.len() > MEMO_PLAYERS));
    assert!(walks.heads.iter().any(|h| h.players.len() <= MEMO_PLAYERS));
    // In probability space some (tree, background row) pairs depend on more
    // players than a table takes, and keep their leaves.
    let walks = Walks::<4>::new(&game, &model, false);
    let tables = Tables::of(&walks, 150, model.base(), MAX_TABLE_BYTES, &Stop::default());
    let (tabled, listed) = tables.unwrap().unwrap().pairs();
    assert!(tabled > 0 && listed > 0, "{tabled} tables, {listed} lists");
    assert!(assert_routes_agree("random", &model, &background, &x, &groups) > 0);
}

#[test]
fn the_tables_are_the_same_with_and_without_the_cpus_vector_instructions() {
    // The tables built with BMI2's pext and without, and their lookups in AVX-512
    // lanes and one at a time, give the same margins bit for bit, on a model whose
    // pairs take every kind of lookup (tables of up to 8, 16 and more entries,
    // lists) and on a fixture with missing values and categories.
    let (model, background, x) = deep_case();
    let fixture = xgboost::parse(&read("trees/xgb_bin_cat.json")).unwrap();
    let case = case("xgb_bin_cat", "trees");
    let (xs, fixture_background) = (rows(&case, "rows"), rows(&case, "background"));
    for (model, background, x) in [
        (&model, &background, x),
        (&fixture, &fixture_background, xs.row(0).to_owned()),
    ] {
        let (n, f) = background.dim();
        let groups = FeatureGroups::singletons(f);
        let stop = Stop::default();
        let game = raw_game(model, background, &x, &groups, &stop);
        let walks = Walks::<4>::new(&game, model, false);
        // 61 coalitions: seven vectors of eight and a tail of five.
        let masks: Vec<u64> = coalitions(f, 61, 3).chunks(f).map(coalition_bits).collect();
        let mut answers = Vec::new();
        for (build, lookup) in [(false, false), (true, false), (false, true), (true, true)] {
            let tables = Tables::of_with(&walks, n, model.base(), MAX_TABLE_BYTES, &stop, build);
            let mut margins = vec![0.0; n * model.base().len() * masks.len()];
            (tables.unwrap().unwrap()).margins_with(&masks, &mut margins, &mut Vec::new(), lookup);
            answers.push(margins.iter().map(|m| m.to_bits()).collect::<Vec<_>>());
        }
        assert!(answers.iter().all(|a| *a == answers[0]));
    }
}

#[test]
fn more_than_64_players_walk_without_cuts_and_agree() {
    // 70 players do not fit one word: the walks take no shortcut, and in
    // probability space every tree is walked with every row.
    let model = random_linked_ensemble(8, 25, 6, 70, Link::Logistic);
    let background = Array2::from_shape_fn((50, 70), |(i, j)| {
        ((i * 13 + j * 7) % 19) as f64 / 19.0 - 0.5
    });
    let x = Array1::from_shape_fn(70, |j| ((j * 5) % 11) as f64 / 11.0 - 0.5);
    let groups = FeatureGroups::singletons(70);
    let stop = Stop::default();
    let game = raw_game(&model, &background, &x, &groups, &stop);
    assert!(!Walks::<1>::new(&game, &model, true).masks);
    assert!(assert_routes_agree("70 players", &model, &background, &x, &groups) > 0);
}

#[test]
fn a_player_no_split_separates_changes_no_value_bit_for_bit() {
    // Background column 3 equal to the row's value: every split on feature 3 sends
    // all masked rows the same way, so player 3 is a dummy and the game must give
    // identical values with and without it (exact Shapley's dummy axiom), in
    // probability space too, through the tables and through the walks from
    // reference paths, whichever reference a coalition's margins start from.
    let model = random_linked_ensemble(5, 30, 6, 8, Link::Logistic);
    let mut background = Array2::from_shape_fn((40, 8), |(i, j)| {
        ((i * 11 + j * 5) % 13) as f64 / 13.0 - 0.5
    });
    let x = Array1::from_shape_fn(8, |j| ((j * 3) % 5) as f64 / 5.0 - 0.4);
    background.column_mut(3).fill(x[3]);
    let groups = FeatureGroups::singletons(8);
    let stop = Stop::default();
    let game = raw_game(&model, &background, &x, &groups, &stop);
    let without = coalitions(8, 50, 9)
        .chunks(8)
        .flat_map(|c| {
            let mut c = c.to_vec();
            c[3] = false;
            c
        })
        .collect::<Vec<_>>();
    let with: Vec<bool> = without
        .chunks(8)
        .flat_map(|c| {
            let mut c = c.to_vec();
            c[3] = true;
            c
        })
        .collect();
    for space in [OutputSpace::Raw, OutputSpace::Probability] {
        let game = Game {
            space,
            memo: Default::default(),
            ..game
        };
        for table_bytes in [MAX_TABLE_BYTES, 0] {
            let played = |masks| values_within(&game, &model, masks, table_bytes, None).unwrap();
            let (a, b) = (played(&without).unwrap(), played(&with).unwrap());
            assert!(
                a.iter().zip(&b).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{space:?}, tables {table_bytes}"
            );
        }
    }
}

#[test]
fn the_route_stops_when_cancelled_and_gives_way_past_its_limits() {
    let model = random_ensemble(1, 10, 4, 5);
    let background = Array2::from_shape_fn((70, 5), |(i, j)| ((i + j) % 9) as f64 / 9.0);
    let x = Array1::from_elem(5, 0.3);
    let groups = FeatureGroups::singletons(5);
    let cancel = Cancel::new();
    cancel.cancel();
    let stop = Stop {
        deadline: None,
        cancel,
    };
    let masks = coalitions(5, 10, 1);
    for space in [OutputSpace::Raw, OutputSpace::Probability] {
        let game = Game {
            space,
            ..raw_game(&model, &background, &x, &groups, &stop)
        };
        let answer = values(&game, &model, &masks).expect("the tree route");
        assert!(matches!(answer, Err(CoreError::Cancelled)), "{space:?}");
    }
    // The tables' build checks it too, not only the batches after it.
    let walks = Walks::<2>::new(
        &raw_game(&model, &background, &x, &groups, &stop),
        &model,
        false,
    );
    let built = Tables::of(&walks, 70, model.base(), MAX_TABLE_BYTES, &stop);
    assert!(matches!(built, Err(CoreError::Cancelled)));
    // Walks beyond the memory cap are refused: a million nodes with 2,048 rows.
    assert!(walks::bytes::<32>(1_000_000, 0) > MAX_WALK_BYTES);
    assert!(walks::bytes::<2>(60_000, 5_000) < MAX_WALK_BYTES / 8);
    // More than 2,048 background rows: the generic route, the same numbers.
    let many = Array2::from_shape_fn((2_100, 5), |(i, j)| ((i * 3 + j) % 17) as f64 / 17.0);
    let stop = Stop::default();
    let game = raw_game(&model, &many, &x, &groups, &stop);
    assert!(values(&game, &model, &masks).is_none());
    let opaque = Opaque(&model);
    let generic = Game {
        model: &opaque,
        memo: Default::default(),
        ..game
    };
    assert_eq!(
        game.values(&masks).unwrap(),
        generic.values(&masks).unwrap()
    );
}

#[test]
fn a_game_keeps_its_tables_for_its_later_calls_and_no_other_game_reads_them() {
    // A tolerance's rounds call one game again: in probability space its tables
    // are built once and kept, and its values are a fresh game's. A memo carried
    // into a game of another row is not read.
    let (model, background, x) = deep_case();
    let groups = FeatureGroups::singletons(20);
    let stop = Stop::default();
    let probability = |x| Game {
        space: OutputSpace::Probability,
        ..raw_game(&model, &background, x, &groups, &stop)
    };
    let bits = |values: Vec<f64>| values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    let (first, second) = (coalitions(20, 40, 1), coalitions(20, 30, 2));
    let game = probability(&x);
    assert!(!game.memo.holds());
    let a = game.values(&first).unwrap();
    assert!(game.memo.holds());
    let b = game.values(&second).unwrap();
    assert_eq!(bits(a), bits(probability(&x).values(&first).unwrap()));
    assert_eq!(bits(b), bits(probability(&x).values(&second).unwrap()));
    let y = x.mapv(|v| 0.3 - v);
    let other = Game {
        x: y.view(),
        ..game
    };
    assert!(other.memo.holds());
    let c = other.values(&second).unwrap();
    assert_eq!(bits(c), bits(probability(&y).values(&second).unwrap()));
}
