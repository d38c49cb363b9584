"""Tree ensembles from the committed fixtures: the client's Explanation holds the
server's numbers, and those are shap's TreeExplainer values (path-dependent)
written by tests/fixtures/gen_trees.py (XGBoost in float32: 1e-5 relative;
LightGBM: 1e-9)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest
import requests

from conftest import FIXTURES
from explaind import Client

CASES = sorted((FIXTURES / "trees").glob("*.case.json"))


def load(case_path: Path) -> Dict[str, Any]:
    case: Dict[str, Any] = json.loads(case_path.read_text())
    case["path"] = FIXTURES / "trees" / case["model"]
    case["rtol"] = 1e-5 if case["kind"] == "xgboost" else 1e-9
    return case


def shap_layout(case: Dict[str, Any]) -> "np.ndarray | None":
    """shap's values as (rows × features [× outputs]); None where shap wrote none
    (it cannot read XGBoost's categorical splits)."""
    if "shap" not in case:
        return None
    values = np.asarray(case["shap"]["path_dependent"]["values"], dtype=float)  # (outputs, rows, features)
    return values[0] if values.shape[0] == 1 else values.transpose(1, 2, 0)


def assert_close(got: np.ndarray, want: np.ndarray, rtol: float, scale: float = 0.0) -> None:
    """|got − want| ≤ rtol (|want| + scale), scale the largest |want| unless given:
    the tolerance of tests/parity_trees.rs."""
    scale = scale or max(float(np.abs(want).max()), 1e-12)
    assert got.shape == want.shape
    assert np.all(np.abs(got - want) <= rtol * (np.abs(want) + scale)), (got, want)


@pytest.mark.parametrize("case_path", CASES, ids=[p.name.split(".")[0] for p in CASES])
def test_tree_fixture_equals_server_json_and_shap(client: Client, server: Any, case_path: Path) -> None:
    case = load(case_path)
    name = "py-" + case_path.name.split(".")[0].replace("_", "-")
    info = client.register(name, case["path"], background=case["background"])
    several = len(info["output_names"]) > 1
    options = {"outputs": "all"} if several else {}
    e = client.explain(name, case["rows"], **options)

    want_values = shap_layout(case)
    if want_values is not None:
        assert_close(np.asarray(e.values), want_values, case["rtol"])
    # The library's own raw predictions, and the base value they imply: raw − Σφ.
    raw_want = np.asarray(case["raw"], dtype=float)
    raw_want = raw_want if several else raw_want[:, 0]
    assert_close(np.asarray(e.predictions), raw_want, case["rtol"])
    if want_values is not None:
        # Float32 sums: the implied base is as exact as the raw margins' scale.
        implied = raw_want - want_values.sum(axis=1)
        assert_close(np.asarray(e.base_values), implied, case["rtol"], float(np.abs(raw_want).max()))
    assert e.feature_names == info["feature_names"]

    # The same request sent by hand: the Explanation holds exactly its numbers.
    body = {"instances": case["rows"], "method": "auto", **options}
    raw = requests.post(f"{server.url}/models/{name}/explain", json=body, timeout=30).json()
    k = len(info["output_names"]) if several else 1
    server_values = np.asarray(raw["values"]).reshape(len(case["rows"]), k, -1)
    server_base = np.asarray(raw["base_values"]).reshape(len(case["rows"]), k)
    if several:
        np.testing.assert_array_equal(e.values, server_values.transpose(0, 2, 1))
        np.testing.assert_array_equal(e.base_values, server_base)
        assert list(e.output_names) == info["output_names"]
    else:
        np.testing.assert_array_equal(e.values, server_values[:, 0, :])
        np.testing.assert_array_equal(e.base_values, server_base[:, 0])
    predictions = [x["prediction"] for x in raw["explanations"]]
    np.testing.assert_array_equal(np.asarray(e.predictions).ravel(), predictions)
    residuals = [q["additivity_residual"] for q in np.asarray(e.quality, dtype=object).ravel()]
    assert residuals == [x["quality"]["additivity_residual"] for x in raw["explanations"]]
    client.delete(name)


@pytest.mark.parametrize("case_path", [p for p in CASES if p.name.startswith("xgb_") and "shap" in load(p)][:3],
                         ids=lambda p: p.name.split(".")[0])
def test_xgboost_booster_object(client: Client, case_path: Path) -> None:
    xgb = pytest.importorskip("xgboost")
    case = load(case_path)
    booster = xgb.Booster()
    booster.load_model(str(case["path"]))
    name = "py-obj-" + case_path.name.split(".")[0].replace("_", "-")
    info = client.register(name, booster, background=case["background"])
    assert info["kind"] == "xgboost"
    options = {"outputs": "all"} if len(info["output_names"]) > 1 else {}
    want_values = shap_layout(case)
    assert want_values is not None
    assert_close(np.asarray(client.explain(name, case["rows"], **options).values), want_values, case["rtol"])
    client.delete(name)


@pytest.mark.parametrize("case_path", [p for p in CASES if p.name.startswith("lgb_") and "shap" in load(p)],
                         ids=lambda p: p.name.split(".")[0])
def test_lightgbm_booster_object(client: Client, case_path: Path) -> None:
    lgb = pytest.importorskip("lightgbm")
    case = load(case_path)
    booster = lgb.Booster(model_file=str(case["path"]))
    name = "py-obj-" + case_path.name.split(".")[0].replace("_", "-")
    info = client.register(name, booster, background=case["background"])
    assert info["kind"] == "lightgbm"
    options = {"outputs": "all"} if len(info["output_names"]) > 1 else {}
    want_values = shap_layout(case)
    assert want_values is not None
    assert_close(np.asarray(client.explain(name, case["rows"], **options).values), want_values, case["rtol"])
    client.delete(name)


def test_a_booster_trained_on_arrays_registers_with_xgboosts_names(client: Client) -> None:
    # XGBoost saves no feature names for a model trained on numpy arrays; explaind
    # names them f0, f1, ... as XGBoost does, and explains them as pred_contribs does.
    xgb = pytest.importorskip("xgboost")
    rng = np.random.default_rng(4)
    x = rng.normal(size=(200, 4))
    y = (x[:, 0] - x[:, 1] * x[:, 2] > 0).astype(int)
    model = xgb.XGBClassifier(n_estimators=20, max_depth=3).fit(x, y)
    info = client.register("py-xgb-arrays", model, background=x[:20])
    assert info["feature_names"] == ["f0", "f1", "f2", "f3"]
    e = client.explain("py-xgb-arrays", x[50:53])
    want = model.get_booster().predict(xgb.DMatrix(x[50:53]), pred_contribs=True)[:, :-1]
    assert_close(np.asarray(e.values), want, 1e-5)


@pytest.mark.parametrize("library", ["xgboost", "lightgbm"])
def test_pandas_category_columns_are_sent_by_name(client: Client, library: str) -> None:
    # Trained on a DataFrame with `category` columns, the model file keeps the
    # categories' names; rows name them, as the DataFrame does.
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(6)
    n = 400
    df = pd.DataFrame({
        "size": rng.normal(100, 20, n),
        "region": pd.Categorical(rng.choice(["east", "north", "south"], n)),
        "heat": pd.Categorical(rng.choice(["gas", "oil"], n)),
    })
    y = df["size"] * 0.5 + (df["region"] == "north") * 10 + (df["heat"] == "gas") * 3
    if library == "xgboost":
        xgb = pytest.importorskip("xgboost")
        model: Any = xgb.XGBRegressor(n_estimators=20, max_depth=3, enable_categorical=True,
                                      tree_method="hist").fit(df, y)
        contribs = model.get_booster().predict(xgb.DMatrix(df.iloc[:5], enable_categorical=True),
                                               pred_contribs=True)[:, :-1]
    else:
        lgb = pytest.importorskip("lightgbm")
        model = lgb.LGBMRegressor(n_estimators=20, min_data_per_group=5, cat_smooth=1,
                                  verbose=-1).fit(df, y)
        contribs = model.predict(df.iloc[:5], pred_contrib=True)[:, :-1]
    info = client.register(f"py-{library}-categories", model, background=df.iloc[:30])
    kinds = {f["name"]: f["kind"] for f in info["raw_features"]}
    assert kinds == {"size": "numeric", "region": "categorical", "heat": "categorical"}
    got = client.predict(f"py-{library}-categories", df.iloc[:20])
    np.testing.assert_allclose(got[:, 0], model.predict(df.iloc[:20]), rtol=1e-5)
    e = client.explain(f"py-{library}-categories", df.iloc[:5])
    assert_close(np.asarray(e.values), contribs, 1e-5)


def test_classifiers_are_named_by_their_classes(client: Client) -> None:
    # Outputs take the estimator's own labels (they were class_0…, or "positive"
    # and "not positive"), so `output=` takes a label and a data set of the
    # training labels registers.
    pd = pytest.importorskip("pandas")
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    three = np.array(["high", "low", "mid"])[np.digitize(X.a, [-0.5, 0.5])]
    two = np.where(X.b > 0, "yes", "no")
    model = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, three)
    info = client.register("py-named-3", model, background=X.iloc[:30])
    assert info["output_names"] == ["high", "low", "mid"]
    e = client.explain("py-named-3", X.iloc[:2], output="mid")
    assert e.output_names == "mid"
    np.testing.assert_allclose(client.predict("py-named-3", X.iloc[:2]), model.predict_proba(X.iloc[:2]),
                               rtol=1e-6)
    binary = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(X, two)
    info = client.register("py-named-2", binary, background=X.iloc[:30])
    assert info["output_names"] == ["yes"]
    stored = client.register_dataset("py-named-2", "train", X, two)
    assert [c["class"] for c in stored["class_counts"]] == ["no", "yes"]
    coded = xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(X, (X.a > 0).astype(int))
    assert client.register("py-named-xgb", coded, background=X.iloc[:30])["output_names"] == ["1"]
