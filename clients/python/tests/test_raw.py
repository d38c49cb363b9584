"""Raw feature values: category strings and missing values sent as they are to
models with categorical raw features (a CatBoost model with categorical
features, a scikit-learn ColumnTransformer pipeline through skl2onnx with one
input per column), checked against the libraries' own predictions; numeric
input keeps the float64 fast path."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from explaind import Client, frames
from explaind.client import registration

REGIONS = ["north", "south", "east", "west"]
PURPOSES = ["car", "home", "other"]


def loans(n: int, seed: int) -> "tuple[pd.DataFrame, np.ndarray]":
    """A seeded table with two string columns; the label depends on both kinds."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "income": rng.normal(50, 15, n).round(1),
        "age": rng.integers(20, 70, n).astype(float),
        "region": rng.choice(REGIONS, n),
        "purpose": rng.choice(PURPOSES, n),
    })
    logit = (0.05 * (df["income"] - 50) + np.where(df["region"] == "west", 1.5, -0.5)
             + np.where(df["purpose"] == "home", 1.0, 0.0) + rng.normal(0, 0.5, n))
    return df, (logit > 0).astype(int).to_numpy()


def test_numeric_frame_keeps_the_float_path() -> None:
    df = pd.DataFrame({"b": [1.5, np.nan], "a": [2, 3]})
    m = frames.to_matrix(df, ["a", "b"])
    assert m.dtype == np.float64
    assert [frames.row_json(r) for r in m] == ["[2.0,1.5]", "[3.0,null]"]
    doc = registration({"kind": "linear", "params": {"coefficients": [1.0, 2.0], "intercept": 0.0}},
                       background=df[["a", "b"]])
    assert doc["background"] == [[2.0, 1.5], [3.0, None]]


def test_raw_values_become_numbers_strings_and_null() -> None:
    df = pd.DataFrame({"x": [1, 2, 3], "c": pd.Series(["a", None, pd.NA], dtype=object),
                       "y": [np.nan, 0.5, 1.0]})
    m = frames.to_matrix(df, ["c", "x", "y"])
    assert m.dtype == object
    assert [frames.row_json(r) for r in m] == ['["a",1.0,null]', "[null,2.0,0.5]", "[null,3.0,1.0]"]
    rows = frames.to_matrix([[1, "a"], [None, "b"]], ["x", "c"])
    assert rows.tolist() == [[1.0, "a"], [None, "b"]]
    with pytest.raises(ValueError, match="cannot send"):
        frames.to_matrix(pd.DataFrame({"x": [object()]}), ["x"])


def test_catboost_categorical_strings(client: Client) -> None:
    catboost = pytest.importorskip("catboost")
    x, y = loans(400, 1)
    model = catboost.CatBoostClassifier(iterations=20, depth=4, one_hot_max_size=10, verbose=False,
                                        allow_writing_files=False, random_seed=0,
                                        cat_features=[2, 3]).fit(x, y)
    info = client.register("py-cb-cat", model, background=x.iloc[:40])
    assert info["feature_names"] == list(x.columns)
    kinds = {f["name"]: f["kind"] for f in client.model("py-cb-cat").get("raw_features") or []}
    assert kinds.get("region") == "categorical" and kinds.get("income") == "numeric"
    rows = x.iloc[40:50].astype(object).copy()
    rows.iloc[0, 2] = None          # a missing category: CatBoost's unseen category
    rows.iloc[1, 0] = np.nan        # a missing number
    rows.iloc[2, 3] = "boat"        # a category never seen in training
    e = client.explain("py-cb-cat", rows, output_space="raw")
    assert e.data[0, 2] is None and e.data[2, 3] == "boat"
    seen = rows.copy()
    seen.iloc[0, 2] = "never-seen"
    seen["income"] = seen["income"].astype(float)
    seen["age"] = seen["age"].astype(float)
    want = model.predict(seen, prediction_type="RawFormulaVal")
    np.testing.assert_allclose(e.predictions.reshape(-1), want, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(e.values.sum(axis=1) + e.base_values.reshape(-1), want, rtol=1e-9, atol=1e-9)
    raw = client.predict("py-cb-cat", rows, output_space="raw")
    np.testing.assert_allclose(raw[:, -1], want, rtol=1e-9, atol=1e-9)


def test_catboost_pool_argument(client: Client) -> None:
    catboost = pytest.importorskip("catboost")
    x, y = loans(200, 2)
    pool = catboost.Pool(x, y, cat_features=["region", "purpose"])
    model = catboost.CatBoostClassifier(iterations=10, depth=3, one_hot_max_size=10, verbose=False,
                                        allow_writing_files=False, random_seed=0).fit(pool)
    doc = registration(model, background=x.iloc[:10].to_numpy(dtype=object),
                       feature_names=list(x.columns), pool=pool)
    assert doc["background"][0][2] in REGIONS
    with pytest.raises(ValueError, match="pool="):
        registration(model, background=x.iloc[:10].to_numpy(dtype=object), feature_names=list(x.columns))
    client.register("py-cb-pool", model, background=x.iloc[:20], pool=pool)
    want = model.predict(x.iloc[20:30], prediction_type="RawFormulaVal")
    got = client.predict("py-cb-pool", x.iloc[20:30], output_space="raw")
    np.testing.assert_allclose(got[:, -1], want, rtol=1e-9, atol=1e-9)


def test_sklearn_column_transformer_with_strings(client: Client) -> None:
    pytest.importorskip("skl2onnx")
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    x, _ = loans(300, 3)
    target = x["income"] * 2 + np.where(x["region"] == "west", 30.0, 0.0) + x["age"]
    pre = ColumnTransformer([("num", StandardScaler(), ["income", "age"]),
                             ("cat", OneHotEncoder(handle_unknown="ignore"), ["region", "purpose"])])
    pipe = Pipeline([("pre", pre), ("rf", RandomForestRegressor(n_estimators=8, max_depth=4,
                                                                 random_state=0))]).fit(x, target)
    doc = registration(pipe)  # no background: the string columns told by the fitted encoder
    assert doc["kind"] == "onnx"
    info = client.register("py-sk-ct", pipe, background=x.iloc[:30])
    assert info["feature_names"] == ["income", "age", "region", "purpose"]
    raw = {f["name"]: f for f in client.model("py-sk-ct").get("raw_features") or []}
    assert raw["purpose"]["kind"] == "categorical" and sorted(raw["purpose"]["categories"]) == PURPOSES
    rows = x.iloc[30:45][["purpose", "region", "age", "income"]]  # matched by name
    e = client.explain("py-sk-ct", rows)
    want = pipe.predict(x.iloc[30:45])
    np.testing.assert_allclose(e.predictions.reshape(-1), want, rtol=1e-5)
    np.testing.assert_allclose(e.values.sum(axis=1) + e.base_values.reshape(-1), want, rtol=1e-5)
    assert list(e.data[0, 2:]) == list(x.iloc[30][["region", "purpose"]])
    np.testing.assert_allclose(client.predict("py-sk-ct", rows).reshape(-1), want, rtol=1e-5)
    assert json.dumps(frames.rows_json_ready(e.data))  # raw values serialise again
