"""Models, global importance, data sets, dependence, jobs and tokens."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import requests

from conftest import ROOT, Server
from explaind import Client, ExplaindError

HOUSE = "house-prices"


def test_models_and_delete(client: Client) -> None:
    names = [m["name"] for m in client.models()]
    assert HOUSE in names and names == sorted(names)
    client.register("py-gone", {"kind": "linear", "feature_names": ["a"], "params": {"coefficients": [1.0],
                                                                                   "intercept": 0.0}})
    assert client.model("py-gone")["version"] == 1
    client.delete("py-gone")
    with pytest.raises(ExplaindError) as e:
        client.model("py-gone")
    assert e.value.code == "model_not_found"


def test_global_importance_frame(client: Client, server: Server) -> None:
    df = client.global_importance(HOUSE)
    raw = requests.get(f"{server.url}/models/{HOUSE}/global", timeout=30).json()
    assert list(df.index) == [f["name"] for f in raw["features"]]
    np.testing.assert_array_equal(df["importance"].to_numpy(), [f["importance"] for f in raw["features"]])
    assert df["importance"].is_monotonic_decreasing and df.attrs["response"]["kind"] == "linear"


def test_dataset_dependence_and_job(client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    sold = pd.read_csv(ROOT / "data" / "house_prices.csv").astype(float)
    x = sold.drop(columns=["price"])
    info = client.register_dataset(HOUSE, "py-sold", x[list(reversed(x.columns))], sold["price"],
                                   description="the 546 sales")
    assert (info["rows"], info["features"], info["task"]) == (546, 11, "regression")
    assert info["target_stats"]["mean"] == pytest.approx(sold["price"].mean())
    assert [d["id"] for d in client.datasets(HOUSE)] == ["py-sold"]
    assert client.dataset(HOUSE, "py-sold")["description"] == "the 546 sales"

    dep = client.dependence(HOUSE, "lotsize", grid=5, ice=2, dataset="py-sold")
    assert dep["grid"] == sorted(dep["grid"]) and len(dep["grid"]) == 5 and dep["rows"] == 546

    with Client(client.url, progress=True) as shown:
        result = shown.run_job(HOUSE, "permutation_importance", dataset="py-sold", repeats=2, seed=1)
    assert "job" in capsys.readouterr().err  # the tqdm bar
    assert result["loss"] == "rmse" and result["repeats"] == 2
    assert {f["name"] for f in result["features"]} == set(x.columns)
    assert client.jobs(HOUSE)[0]["state"] == "succeeded"

    client.delete_dataset(HOUSE, "py-sold")
    assert client.datasets(HOUSE) == []


def test_failed_job_submission_carries_code(client: Client) -> None:
    with pytest.raises(ExplaindError) as e:
        client.submit_job(HOUSE, "dependence", feature="size")
    assert (e.value.status, e.value.code) == (422, "invalid_argument") and "'size'" in e.value.message
    with pytest.raises(ExplaindError) as e:
        client.submit_job(HOUSE, "permutation_importance", dataset="no-such-set")
    assert (e.value.status, e.value.code) == (404, "dataset_not_found")


def test_bearer_token() -> None:
    guarded = Server(["--admin-token", "py-client-secret-token-0123"])
    try:
        with Client(guarded.url) as anonymous, pytest.raises(ExplaindError) as e:
            anonymous.models()
        assert (e.value.status, e.value.code) == (401, "unauthorized")
        with Client(guarded.url, token="py-client-secret-token-0123") as admin:
            assert [m["name"] for m in admin.models()] == [HOUSE]
    finally:
        guarded.stop()


def test_trained_xgboost_equals_shap_tree_explainer(client: Client) -> None:
    shap = pytest.importorskip("shap")
    xgb = pytest.importorskip("xgboost")
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(300, 4)), columns=["age", "income", "debt", "tenure"])
    y = (x["income"] - x["debt"] + 0.5 * x["age"] * x["tenure"] > 0).astype(int)
    model = xgb.XGBClassifier(n_estimators=20, max_depth=3, random_state=0).fit(x, y)
    client.register("py-trained-xgb", model)
    rows = x.iloc[:25][["tenure", "debt", "age", "income"]]  # columns matched by name
    got = client.explain("py-trained-xgb", rows)
    want = shap.TreeExplainer(model)(x.iloc[:25])
    scale = np.abs(want.values).max()
    np.testing.assert_allclose(got.values, want.values, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(got.base_values, want.base_values, rtol=1e-5, atol=1e-5 * scale)
    assert got.feature_names == list(x.columns)


def test_trained_lightgbm_equals_shap_tree_explainer(client: Client) -> None:
    shap = pytest.importorskip("shap")
    lgb = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(1)
    x = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
    y = x["a"] * 2 + np.sin(x["b"]) + x["b"] * x["c"]
    model = lgb.LGBMRegressor(n_estimators=15, num_leaves=7, verbose=-1).fit(x, y)
    client.register("py-trained-lgb", model)
    got = client.explain("py-trained-lgb", x.iloc[:20])
    want = shap.TreeExplainer(model)(x.iloc[:20])
    np.testing.assert_allclose(got.values, want.values, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(got.base_values, want.base_values, rtol=1e-9, atol=1e-9)
