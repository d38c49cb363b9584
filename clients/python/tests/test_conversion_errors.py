"""Models the client cannot convert for explaind raise ``ConversionError`` at
``register``, naming the part at fault and what the client registers, with the
converter's exception as the cause (they raised skl2onnx's own exceptions, or
registered and then failed or answered wrong numbers)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from explaind import Client, ConversionError, ExplaindError

pytest.importorskip("sklearn")
pytest.importorskip("skl2onnx")
from sklearn.compose import make_column_transformer  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest, RandomForestClassifier  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder  # noqa: E402

SUPPORTED = "The client registers XGBoost, LightGBM and CatBoost models"


def frame(n: int = 200) -> "tuple[pd.DataFrame, pd.Series]":
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=n), "age": rng.integers(1, 5, n).astype(float),
                      "region": rng.choice(["n", "s", "e"], n)})
    return X, (X.x > 0).astype(int)


def refused(client: Client, model: Any, background: pd.DataFrame) -> ConversionError:
    with pytest.raises(ConversionError) as info:
        client.register("py-unconvertible", model, background=background)
    assert SUPPORTED in str(info.value)
    return info.value


def test_a_step_skl2onnx_cannot_convert_is_named(client: Client) -> None:
    # skl2onnx's imputer converter takes strings only with a string missing value:
    # it raised NotImplementedError, naming neither the step nor the model.
    X, y = frame()
    imputer = SimpleImputer(strategy="most_frequent")
    model = make_pipeline(
        make_column_transformer((make_pipeline(imputer, OneHotEncoder()), ["region"]),
                                ("passthrough", ["x", "age"])),
        RandomForestClassifier(n_estimators=3, random_state=0)).fit(X, y)
    err = refused(client, model, X.iloc[:20])
    assert "skl2onnx could not convert the step SimpleImputer(strategy='most_frequent') of the Pipeline" \
        in str(err)
    assert err.part == repr(imputer)
    assert isinstance(err.__cause__, NotImplementedError)


def test_a_model_skl2onnx_cannot_convert_is_named(client: Client) -> None:
    # IsolationForest: skl2onnx raised a RuntimeError about target_opset, which a
    # user of register cannot set.
    X, _ = frame()
    model = IsolationForest(n_estimators=3, random_state=0).fit(X[["x", "age"]])
    err = refused(client, model, X[["x", "age"]].iloc[:20])
    assert "skl2onnx could not convert the IsolationForest (IsolationForest(" in str(err)
    assert isinstance(err.__cause__, RuntimeError) and "target_opset" in str(err)


@pytest.mark.parametrize("column", ["string", "numeric"])
def test_hist_gradient_boosting_with_native_categories_is_refused(client: Client, column: str) -> None:
    # A string category column: skl2onnx raised InvalidInputLengthException (3
    # inputs for 1). A numeric one registered, and predicted the wrong numbers:
    # skl2onnx writes category splits as thresholds.
    X, y = frame()
    if column == "string":
        X = X.assign(region=X.region.astype("category"))
        model = HistGradientBoostingClassifier(max_iter=5).fit(X, y)
        which = "['region']"
    else:
        X = X.drop(columns=["region"])
        y = ((X.age % 2 == 0) ^ (X.x > 0)).astype(int)
        model = HistGradientBoostingClassifier(max_iter=5, categorical_features=[1]).fit(X, y)
        which = "['age']"
    err = refused(client, model, X.iloc[:20])
    assert f"HistGradientBoostingClassifier with native categorical features ({which})" in str(err)
    # The same model without native categories registers.
    plain = HistGradientBoostingClassifier(max_iter=5, categorical_features=None)
    client.register("py-hgb-plain", plain.fit(X.drop(columns=["region"], errors="ignore"), y))


def test_a_column_transformer_that_drops_a_string_column_is_refused(client: Client) -> None:
    # The server answered 422 "string input 'cust_id' is read by no OneHotEncoder
    # ...: export with initial_types", which a user of register cannot do.
    X, y = frame()
    X = X.assign(cust_id=[f"c{i}" for i in range(len(X))])
    ct = make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["region"]), ("passthrough", ["x"]))
    model = make_pipeline(ct, RandomForestClassifier(n_estimators=3, random_state=0)).fit(X, y)
    err = refused(client, model, X.iloc[:20])
    assert "drops the string column(s) ['cust_id']" in str(err)
    assert "X.drop(columns=['cust_id'])" in str(err)
    # Fitted without it (the numeric 'age' dropped all the same), it registers.
    X = X.drop(columns=["cust_id"])
    model = make_pipeline(ct, RandomForestClassifier(n_estimators=3, random_state=0)).fit(X, y)
    client.register("py-ct-drop", model, background=X.iloc[:20])
    np.testing.assert_allclose(client.predict("py-ct-drop", X.iloc[:10])[:, -1],
                               model.predict_proba(X.iloc[:10])[:, 1], atol=1e-6)


def test_server_refusals_stay_explaind_errors(client: Client) -> None:
    # What the client converts and the server refuses is still the server's answer.
    with pytest.raises(ExplaindError) as info:
        client.register("py-bad-doc", {"kind": "linear", "params": {}})
    assert info.value.code == "invalid_model"
