"""scikit-learn models registered as users hold them: linear and logistic models
against shap's LinearExplainer values in tests/fixtures/linear (written by
gen_linear.py), MLPs and scaler pipelines against scikit-learn's own predictions,
and what goes through skl2onnx or CatBoost's export against the server's answer."""

from __future__ import annotations

import json
import math
import warnings
from typing import Any, Dict

import numpy as np
import pandas as pd
import pytest

from conftest import FIXTURES
from explaind import Client, ExplaindError

sklearn = pytest.importorskip("sklearn")
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


def linear_case(name: str) -> Dict[str, Any]:
    case: Dict[str, Any] = json.loads((FIXTURES / "linear" / f"{name}.json").read_text())
    return case


def with_weights(model: Any, params: Dict[str, Any]) -> Any:
    """A scikit-learn model carrying the fixture's fitted weights."""
    model.coef_ = np.asarray(params["coefficients"], dtype=float)
    model.intercept_ = np.atleast_1d(np.asarray(params["intercept"], dtype=float))
    if "classes" in params:
        model.classes_ = np.asarray(params["classes"])
    return model


def test_linear_regression_equals_shap(client: Client) -> None:
    case = linear_case("house_prices_regression")
    spec = case["spec"]
    model = with_weights(LinearRegression(), spec["params"])
    model.intercept_ = float(spec["params"]["intercept"])
    bg = pd.DataFrame(spec["background"], columns=spec["feature_names"])
    info = client.register("py-sk-linear", model, background=bg)
    assert info["kind"] == "linear" and info["feature_names"] == spec["feature_names"]
    e = client.explain("py-sk-linear", case["rows"])
    want = np.asarray(case["shap_values"])
    np.testing.assert_allclose(e.values, want, rtol=1e-9, atol=1e-9 * np.abs(want).max())
    np.testing.assert_allclose(e.base_values, case["expected_value"][0], rtol=1e-9)


def test_binary_logistic_regression_equals_shap(client: Client) -> None:
    case = linear_case("house_aircon_binary")
    spec = case["spec"]
    model = with_weights(LogisticRegression(), spec["params"])
    info = client.register("py-sk-logit", model, background=spec["background"],
                           feature_names=spec["feature_names"])
    assert info["kind"] == "logistic" and info["output_names"] == ["yes"]
    e = client.explain("py-sk-logit", case["rows"])
    want = np.asarray(case["shap_values"])
    np.testing.assert_allclose(e.values, want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(e.base_values, case["expected_value"][0], rtol=1e-9)


def test_multinomial_logistic_regression_equals_shap(client: Client) -> None:
    case = linear_case("iris_multinomial")
    spec = case["spec"]
    model = with_weights(LogisticRegression(), spec["params"])
    client.register("py-sk-iris", model, background=spec["background"], feature_names=spec["feature_names"])
    e = client.explain("py-sk-iris", case["rows"], outputs="all")
    # shap: (classes, rows, features); the Explanation: (rows, features, classes).
    want = np.asarray(case["shap_values_by_class"]).transpose(1, 2, 0)
    assert e.values.shape == want.shape
    np.testing.assert_allclose(e.values, want, rtol=1e-9, atol=1e-12)
    assert list(e.output_names) == spec["params"]["classes"]
    np.testing.assert_allclose(e.base_values[0], case["expected_value"], rtol=1e-9)


def test_a_model_fitted_on_arrays_is_explained_exactly_with_a_tolerance(client: Client) -> None:
    # A LogisticRegression fitted on numpy arrays (no feature names) registers with
    # names f0, f1, ...; in probability space a tolerance is answered by
    # exact_shapley, equal to shap's KernelExplainer enumerating every coalition.
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 8))
    y = (x[:, 0] + 0.5 * x[:, 1] - x[:, 2] + rng.normal(size=300) > 0).astype(int)
    y += (x[:, 3] > 1).astype(int)
    model = LogisticRegression(max_iter=1000).fit(x, y)
    background, rows = x[:40], x[100:103]
    info = client.register("py-sk-arrays", model, background=background)
    assert info["feature_names"] == [f"f{i}" for i in range(8)]
    e = client.explain("py-sk-arrays", rows, method="kernel_shap", tolerance=1e-4,
                       output_space="probability", outputs="all")
    for per_row in e.quality:
        for q in per_row:
            assert q["solved_by"] == "exact_shapley" and q["max_standard_error"] == 0.0
    shap = pytest.importorskip("shap")
    exact = shap.KernelExplainer(model.predict_proba, background).shap_values(
        rows, nsamples=2 ** 8, l1_reg=False, silent=True)
    # shap 0.51: (rows, features, classes), as the Explanation.
    np.testing.assert_allclose(e.values, np.asarray(exact).reshape(e.values.shape), atol=1e-12)


def test_scaled_linear_pipeline_is_folded_exactly(client: Client, house: pd.DataFrame) -> None:
    x, y = house.drop(columns=["aircon"]), house["aircon"] * 1000 + house["lotsize"]
    pipe = make_pipeline(StandardScaler(), LinearRegression()).fit(x, y)
    info = client.register("py-sk-scaled", pipe, background=x)
    assert info["kind"] == "linear"
    np.testing.assert_allclose(client.predict("py-sk-scaled", x.iloc[:20])[:, 0], pipe.predict(x.iloc[:20]),
                               rtol=1e-9)
    # Interventional linear SHAP in the scaled space: w_j (z_j − mean z_j).
    lin, z = pipe[-1], pipe[0].transform(x)
    want = lin.coef_ * (z[:20] - z.mean(axis=0))
    e = client.explain("py-sk-scaled", x.iloc[:20])
    np.testing.assert_allclose(e.values, want, rtol=1e-7, atol=1e-6 * np.abs(want).max())


@pytest.mark.parametrize("kind", ["regressor", "binary", "multiclass"])
def test_mlp_predictions_equal_sklearn(client: Client, house: pd.DataFrame, kind: str) -> None:
    x = house.drop(columns=["aircon", "bedrooms"])
    if kind == "regressor":
        y: Any = house["bedrooms"]
        net: Any = MLPRegressor(hidden_layer_sizes=(6,), max_iter=300, random_state=0)
    elif kind == "binary":
        y = house["aircon"].map({0.0: "no", 1.0: "yes"})
        net = MLPClassifier(hidden_layer_sizes=(5, 3), activation="tanh", max_iter=300, random_state=0)
    else:
        y = house["bedrooms"].clip(2, 4).astype(int)
        net = MLPClassifier(hidden_layer_sizes=(5,), activation="logistic", max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a few epochs are enough here
        pipe = make_pipeline(StandardScaler(), net).fit(x, y)
    info = client.register(f"py-sk-mlp-{kind}", pipe, background=x.iloc[:50])
    assert info["kind"] == "mlp" and info["feature_names"] == list(x.columns)
    got = client.predict(f"py-sk-mlp-{kind}", x.iloc[:30])
    if kind == "regressor":
        np.testing.assert_allclose(got[:, 0], pipe.predict(x.iloc[:30]), rtol=1e-9, atol=1e-9)
    elif kind == "binary":
        assert info["output_names"] == ["yes"]
        np.testing.assert_allclose(got[:, 0], pipe.predict_proba(x.iloc[:30])[:, 1], rtol=1e-9, atol=1e-12)
    else:
        assert info["output_names"] == ["2", "3", "4"]
        np.testing.assert_allclose(got, pipe.predict_proba(x.iloc[:30]), rtol=1e-9, atol=1e-12)


def test_random_forest_through_onnx(client: Client, house: pd.DataFrame) -> None:
    pytest.importorskip("skl2onnx")
    from sklearn.ensemble import RandomForestRegressor

    x, y = house.drop(columns=["bedrooms"]), house["bedrooms"]
    forest = RandomForestRegressor(n_estimators=5, max_depth=3, random_state=0).fit(x.to_numpy(), y)
    client.register("py-sk-forest", forest, feature_names=list(x.columns), background=x.iloc[:50])
    got = client.predict("py-sk-forest", x.iloc[:20])
    # The ONNX file holds float32 thresholds and leaf values, as onnxruntime reads it.
    np.testing.assert_allclose(got[:, 0], forest.predict(x.iloc[:20].to_numpy()), rtol=1e-6)
    explained = client.explain("py-sk-forest", x.iloc[:5])
    phi = np.asarray(explained.values)
    np.testing.assert_allclose(phi.sum(axis=1) + np.asarray(explained.base_values), got[:5, 0], rtol=1e-9)


def test_hist_gradient_boosting_through_onnx(client: Client) -> None:
    # skl2onnx writes HistGradientBoosting's missing-value flags as a mix of ints
    # and bools, which current onnx refuses; the client converts them (_int_flags).
    pytest.importorskip("skl2onnx")
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(5)
    x = rng.normal(size=(400, 5))
    x[rng.random(x.shape) < 0.1] = np.nan
    y = (np.nan_to_num(x[:, 0]) + np.nan_to_num(x[:, 1]) > 0).astype(int)
    model = HistGradientBoostingClassifier(max_iter=15, random_state=0).fit(x, y)
    info = client.register("py-sk-hgb", model, background=x[:40])
    assert info["kind"] == "onnx" and info["feature_names"] == [f"f{i}" for i in range(5)]
    rows = x[100:110]
    got = client.predict("py-sk-hgb", rows, output_space="probability")
    np.testing.assert_allclose(got[:, 0], model.predict_proba(rows)[:, 1], rtol=1e-5)
    explained = client.explain("py-sk-hgb", rows[:3])
    raw = client.predict("py-sk-hgb", rows[:3], output_space="raw")
    phi = np.asarray(explained.values)
    np.testing.assert_allclose(phi.sum(axis=1) + np.asarray(explained.base_values), raw[:, 0], rtol=1e-9)
    # Interventional values against the Shapley formula over scikit-learn's own
    # margins of every masked row (shap's TreeExplainer is 7.6e-3 off here: it
    # sends this model's missing values the wrong way).
    background = x[:40]

    def shapley(row: "np.ndarray[Any, Any]") -> "np.ndarray[Any, Any]":
        coalitions = (np.arange(32)[:, None] >> np.arange(5)) & 1
        v = np.array([model.decision_function(np.where(c == 1, row, background)).mean()
                      for c in coalitions])
        phi = np.zeros(5)
        for c, size in enumerate(coalitions.sum(axis=1)):
            for i in range(5):
                if not c >> i & 1:
                    weight = math.factorial(size) * math.factorial(4 - size) / 120
                    phi[i] += weight * (v[c | 1 << i] - v[c])
        return phi

    ours = client.explain("py-sk-hgb", rows[:3], method="tree_interventional")
    want = np.array([shapley(r) for r in rows[:3]])
    np.testing.assert_allclose(np.asarray(ours.values), want, atol=1e-6)


@pytest.mark.parametrize("head", ["ridge", "forest"])
def test_a_column_transformer_picking_numeric_columns_by_name(client: Client, house: pd.DataFrame,
                                                            head: str) -> None:
    # ColumnTransformer steps name their columns; skl2onnx converts that only with
    # one input per column, even when every column is numeric.
    pytest.importorskip("skl2onnx")
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import Ridge

    x, y = house.drop(columns=["bedrooms"]), house["bedrooms"]
    scaled, passed = ["lotsize", "bathrooms", "stories"], ["garage", "driveway"]
    pre = ColumnTransformer([("scale", StandardScaler(), scaled), ("keep", "passthrough", passed)])
    last = Ridge() if head == "ridge" else RandomForestRegressor(n_estimators=5, max_depth=3, random_state=0)
    model = make_pipeline(pre, last).fit(x, y)
    info = client.register(f"py-sk-ct-{head}", model, background=x.iloc[:40])
    assert info["feature_names"] == list(x.columns)
    got = client.predict(f"py-sk-ct-{head}", x.iloc[:20])
    np.testing.assert_allclose(got[:, 0], model.predict(x.iloc[:20]), rtol=1e-5)
    explained = client.explain(f"py-sk-ct-{head}", x.iloc[:5])
    phi = np.asarray(explained.values)
    np.testing.assert_allclose(phi.sum(axis=1) + np.asarray(explained.base_values), got[:5, 0], rtol=1e-9)
    # Columns the transformer drops get nothing.
    dropped = [i for i, c in enumerate(x.columns) if c not in scaled + passed]
    assert np.all(phi[:, dropped] == 0.0)


def test_pipeline_with_pca_is_a_linear_model_of_the_raw_features(client: Client, house: pd.DataFrame) -> None:
    from sklearn.decomposition import PCA

    x, y = house.drop(columns=["bedrooms"]), house["bedrooms"]
    pipe = make_pipeline(StandardScaler(), PCA(n_components=4), LinearRegression()).fit(x.to_numpy(), y)
    bg = x.iloc[:50]
    info = client.register("py-sk-pca", pipe, feature_names=list(x.columns), background=bg)
    assert info["kind"] == "linear"
    got = client.predict("py-sk-pca", x.iloc[:20])
    np.testing.assert_allclose(got[:, 0], pipe.predict(x.iloc[:20].to_numpy()), rtol=1e-9)
    # A linear function of the raw features: phi_j = w_j (x_j - E[b_j]), each w_j read
    # off the pipeline itself by a unit step in feature j.
    rows = x.iloc[:5].to_numpy(dtype=float)
    steps = np.eye(rows.shape[1])
    w = pipe.predict(rows[:1] + steps) - pipe.predict(rows[:1])
    want = w * (rows - bg.to_numpy(dtype=float).mean(axis=0))
    e = client.explain("py-sk-pca", x.iloc[:5])
    assert e.method == "linear_shap"
    np.testing.assert_allclose(e.values, want, rtol=1e-6, atol=1e-9 * np.abs(want).max())


def test_pca_in_front_of_a_forest_goes_through_onnx(client: Client, house: pd.DataFrame) -> None:
    pytest.importorskip("skl2onnx")
    from sklearn.decomposition import PCA
    from sklearn.ensemble import RandomForestRegressor

    x, y = house.drop(columns=["bedrooms"]), house["bedrooms"]
    pipe = make_pipeline(StandardScaler(), PCA(n_components=4),
                         RandomForestRegressor(n_estimators=5, max_depth=3, random_state=0))
    pipe.fit(x.to_numpy(), y)
    info = client.register("py-sk-pca-forest", pipe, feature_names=list(x.columns),
                           background=x.iloc[:30])
    assert info["kind"] == "onnx"
    got = client.predict("py-sk-pca-forest", x.iloc[:20])
    # The graph runs in float32: the scaled and projected columns may move a split.
    close = np.isclose(got[:, 0], pipe.predict(x.iloc[:20].to_numpy()), rtol=1e-5)
    assert close.mean() >= 0.9, (got[:, 0], pipe.predict(x.iloc[:20].to_numpy()))
    e = client.explain("py-sk-pca-forest", x.iloc[:2], seed=1)
    assert e.method == "kernel_shap"
    np.testing.assert_allclose(np.asarray(e.values).sum(axis=1) + np.asarray(e.base_values),
                               got[:2, 0], rtol=1e-9)


def test_affine_steps_fold_into_logistic_and_mlp_heads(client: Client, house: pd.DataFrame) -> None:
    from sklearn.decomposition import PCA, TruncatedSVD
    from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler

    x = house.drop(columns=["aircon"]).to_numpy(dtype=float)
    names = [c for c in house.columns if c != "aircon"]
    y = house["aircon"].to_numpy()
    logit = make_pipeline(RobustScaler(), PCA(n_components=5, whiten=True),
                          LogisticRegression(max_iter=2000)).fit(x, y)
    info = client.register("py-sk-pca-logit", logit, feature_names=names, background=x[:40])
    assert info["kind"] == "logistic"
    got = client.predict("py-sk-pca-logit", x[:20], output_space="probability")
    np.testing.assert_allclose(got, logit.predict_proba(x[:20])[:, 1:], rtol=1e-9)
    xb = house.drop(columns=["bedrooms"]).to_numpy(dtype=float)
    names_b = [c for c in house.columns if c != "bedrooms"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = make_pipeline(MinMaxScaler(), MaxAbsScaler(), TruncatedSVD(n_components=4, random_state=0),
                            MLPRegressor(hidden_layer_sizes=(8,), max_iter=50, random_state=0)
                            ).fit(xb, house["bedrooms"].to_numpy())
    info = client.register("py-sk-svd-mlp", mlp, feature_names=names_b, background=xb[:40])
    assert info["kind"] == "mlp"
    got = client.predict("py-sk-svd-mlp", xb[:20])
    np.testing.assert_allclose(got[:, 0], mlp.predict(xb[:20]), rtol=1e-9)


def test_catboost_json_export(client: Client, house: pd.DataFrame) -> None:
    catboost = pytest.importorskip("catboost")
    x, y = house.drop(columns=["bedrooms"]), house["bedrooms"]
    model = catboost.CatBoostRegressor(iterations=5, depth=3, verbose=False, random_seed=0,
                                     allow_writing_files=False).fit(x, y)
    # A regressor's classes_ is empty: no class names (0 names for 1 output was a 422).
    info = client.register("py-catboost", model, background=x.iloc[:50])
    assert info["output_names"] == ["output"]
    got = client.predict("py-catboost", x.iloc[:20])
    np.testing.assert_allclose(got[:, 0], model.predict(x.iloc[:20]), rtol=1e-9)
