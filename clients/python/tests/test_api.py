"""The client's calls against the demo model (house-prices, linear): inputs matched
by name, answers equal to the server's JSON, errors with the server's codes, large
inputs split and reassembled in order."""

from __future__ import annotations

from typing import Any, Dict, List

import numpy as np
import pandas as pd
import pytest
import requests

from conftest import Server
from explaind import Client, ExplaindError

HOUSE = "house-prices"


def test_explanation_equals_server_json(client: Client, server: Server, house: pd.DataFrame) -> None:
    rows = house.iloc[:7]
    e = client.explain(HOUSE, rows)
    raw = requests.post(f"{server.url}/models/{HOUSE}/explain",
                        json={"instances": rows.to_numpy().tolist()}, timeout=30).json()
    np.testing.assert_array_equal(e.values, np.asarray(raw["values"]))
    np.testing.assert_array_equal(e.base_values, np.asarray(raw["base_values"]))
    np.testing.assert_array_equal(e.data, rows.to_numpy())
    assert e.feature_names == raw["feature_names"]
    assert e.output_names == "price"
    assert e.method == raw["method"] == "linear_shap"
    assert e.quality == [x["quality"] for x in raw["explanations"]]
    np.testing.assert_array_equal(e.predictions, [x["prediction"] for x in raw["explanations"]])


def test_dataframe_columns_matched_by_name(client: Client, house: pd.DataFrame) -> None:
    rows = house.iloc[:5]
    shuffled = rows[list(reversed(rows.columns))]
    assert list(shuffled.columns) != list(rows.columns)
    by_array = client.explain(HOUSE, rows.to_numpy())
    by_name = client.explain(HOUSE, shuffled)
    np.testing.assert_array_equal(by_name.values, by_array.values)
    np.testing.assert_array_equal(by_name.data, rows.to_numpy())
    np.testing.assert_array_equal(client.predict(HOUSE, shuffled), client.predict(HOUSE, rows.to_numpy()))


def test_dict_inputs(client: Client, house: pd.DataFrame) -> None:
    row = house.iloc[3]
    one = client.explain(HOUSE, {k: row[k] for k in reversed(house.columns)})
    np.testing.assert_array_equal(one.values, client.explain(HOUSE, row.to_numpy()).values)
    cols = client.explain(HOUSE, {k: house[k].iloc[:4].tolist() for k in house.columns})
    np.testing.assert_array_equal(cols.values, client.explain(HOUSE, house.iloc[:4]).values)


def test_columns_that_do_not_fit_are_named(client: Client, house: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"missing column\(s\) \['aircon'\]"):
        client.explain(HOUSE, house.drop(columns=["aircon"]).iloc[:2])
    with pytest.raises(ValueError, match=r"unknown column\(s\) \['colour'\]"):
        client.explain(HOUSE, house.iloc[:2].assign(colour=1.0))
    with pytest.raises(ValueError, match="rows of 11 features"):
        client.explain(HOUSE, np.zeros((2, 3)))
    # A repeated column (the server answered "expected 11 feature values, got 12").
    doubled = pd.concat([house.iloc[:2], house.iloc[:2][["garage"]]], axis=1)
    with pytest.raises(ValueError, match=r"repeated column\(s\) \['garage'\]"):
        client.explain(HOUSE, doubled)
    # An infinity, named by row, index label and feature (JSON has none: the server
    # answered 400 bad_json, with no row or feature).
    rows = house.iloc[3:6].copy()
    rows.loc[rows.index[1], "lotsize"] = np.inf
    with pytest.raises(ValueError, match=r"row 1 \(index 4\), feature 'lotsize': inf"):
        client.explain(HOUSE, rows)
    with pytest.raises(ValueError, match=r"row 0, feature 'lotsize': -inf"):
        client.predict(HOUSE, np.where(np.arange(11) == 0, -np.inf, 1.0))


def test_errors_of_split_requests_name_the_callers_row(server: Server, house: pd.DataFrame) -> None:
    # 30 rows in requests of 10: the bad value in row 25 is instance 5 of the
    # third request, and the error names row 25 (it said 5).
    rows = house.iloc[:30].astype(object)
    rows.iloc[25, 0] = "not a number"
    with Client(server.url, max_rows=10, progress=False) as c:
        with pytest.raises(ExplaindError, match=r"instance 25, feature 'lotsize'"):
            c.explain(HOUSE, rows)
        # A DataFrame's row is named by its index label too, where that is another;
        # predict renumbers as explain does.
        labelled = rows.set_axis([f"h{i}" for i in range(30)])
        with pytest.raises(ExplaindError, match=r"instance 25 \(index 'h25'\), feature 'lotsize'"):
            c.explain(HOUSE, labelled)
        with pytest.raises(ExplaindError, match=r"instance 25 \(index 'h25'\), feature 'lotsize'"):
            c.predict(HOUSE, labelled)
        # A part of a larger table (explaind.dask, explaind.spark): its rows from
        # row_offset on; without aligned offsets (p * 2**32 + k), row k + N of
        # partition p (it was counted within the request).
        with pytest.raises(ExplaindError, match=r"instance 1010 \(index 'h25'\)"):
            c.explain(HOUSE, labelled.iloc[20:], row_offset=1005)
        with pytest.raises(ExplaindError, match=r"instance 12 of partition 3 \(index 'h25'\)"):
            c.explain(HOUSE, labelled.iloc[20:], row_offset=(3 << 32) + 7)
    # One request: only the label is added.
    with pytest.raises(ExplaindError, match=r"instance 2 \(index 'h25'\), feature"):
        Client(server.url, progress=False).explain(HOUSE, labelled.iloc[23:27])


@pytest.mark.parametrize("call, status, code", [
    (lambda c: c.explain("no-such-model", [[1.0]]), 404, "model_not_found"),
    (lambda c: c.explain(HOUSE, [[0.0] * 11], method="no_such_method"), 422, "invalid_argument"),
    (lambda c: c.explain(HOUSE, [[0.0] * 11], output="nope"), 422, "invalid_input"),
    (lambda c: c.explain(HOUSE, [[0.0] * 11], samples_please=3), 422, "invalid_request"),
    (lambda c: c.register("bad name!", {"kind": "linear"}), 422, "invalid_name"),
    (lambda c: c.register("py-bad", {"kind": "linear", "params": {}}), 422, "invalid_model"),
    (lambda c: c.delete("no-such-model"), 404, "model_not_found"),
    (lambda c: c.job("999999"), 404, "job_not_found"),
])
def test_errors_carry_the_server_code(client: Client, call: Any, status: int, code: str) -> None:
    with pytest.raises(ExplaindError) as info:
        call(client)
    assert (info.value.status, info.value.code) == (status, code)
    assert info.value.message and info.value.body["error"]["code"] == code


class Counting(Client):
    """A client that records the size of every explain/predict request it sends."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.sent: List[Dict[str, Any]] = []

    def _send(self, method: str, path: str, body: Any = None, params: Any = None,
              content_type: str = "application/json") -> Any:
        try:
            answer = super()._send(method, path, body, params, content_type)
        except ExplaindError as e:
            self.sent.append({"path": path, "bytes": len(body or b""), "status": e.status})
            raise
        self.sent.append({"path": path, "bytes": len(body or b""), "status": 200})
        return answer


def test_large_input_split_in_order(server: Server, house: pd.DataFrame) -> None:
    big = pd.concat([house] * 4, ignore_index=True)  # 2,184 rows
    with Client(server.url, progress=False) as whole:
        want = whole.explain(HOUSE, big)
    with Counting(server.url, max_rows=250, max_workers=4, progress=False) as c:
        got = c.explain(HOUSE, big)
        posts = [s for s in c.sent if s["path"].endswith("/explain")]
        assert len(posts) == 9  # ceil(2184 / 250)
        np.testing.assert_array_equal(got.values, want.values)
        np.testing.assert_array_equal(got.data, big.to_numpy())
        np.testing.assert_array_equal(c.predict(HOUSE, big), whole_predict(server, big))


def whole_predict(server: Server, x: pd.DataFrame) -> np.ndarray:
    with Client(server.url, max_rows=10_000, progress=False) as c:
        return c.predict(HOUSE, x)


def test_body_limit_splits_requests(server: Server, house: pd.DataFrame) -> None:
    # Long decimals: ~230 bytes a row, 2,000 rows ≈ 460 kB; a 100 kB budget makes 5+ requests.
    rng = np.random.default_rng(1)
    x = house.sample(2000, replace=True, random_state=1).to_numpy() + rng.random((2000, 11))
    with Counting(server.url, max_body_bytes=100_000, progress=False) as c:
        got = c.predict(HOUSE, x)
        assert len(c.sent) >= 6 and all(s["bytes"] <= 100_000 for s in c.sent[1:])
    np.testing.assert_allclose(got, whole_predict(server, pd.DataFrame(x, columns=house.columns)))


def test_payload_too_large_answer_splits_again(house: pd.DataFrame) -> None:
    """A server with a smaller body limit than the client thinks: its 413s are split."""
    small = Server(["--max-body-bytes", "20000"])
    try:
        with Counting(small.url, max_body_bytes=10**9, progress=False) as c:
            got = c.predict(HOUSE, house)
            statuses = [s["status"] for s in c.sent if s["path"].endswith("/predict")]
            assert 413 in statuses and statuses.count(200) >= 2
        with Client(small.url, max_rows=50, progress=False) as c2:
            np.testing.assert_array_equal(got, c2.predict(HOUSE, house))
    finally:
        small.stop()


def test_sampling_chunks_do_not_share_draws(server: Server, house: pd.DataFrame) -> None:
    rows = pd.concat([house.iloc[:2]] * 2, ignore_index=True)  # rows 2, 3 repeat rows 0, 1
    # LIME: random even on a linear model (Shapley samplers are exact there).
    opts = {"method": "lime", "n_samples": 200, "seed": 5}
    with Client(server.url, max_rows=2, progress=False) as c:
        split = c.explain(HOUSE, rows, **opts)
    with Client(server.url, progress=False) as c:
        first = c.explain(HOUSE, rows.iloc[:2], **opts)
        sampled = c.explain(HOUSE, rows, **opts)
    np.testing.assert_array_equal(split.values[:2], first.values)  # chunk 0 keeps the seed
    assert not np.array_equal(split.values[2:], split.values[:2])
    assert split.seed == 5 and sampled.quality[0]["surrogate_r2"] is not None


def test_several_outputs_shape(client: Client) -> None:
    client.register("py-tri", {"kind": "logistic", "feature_names": ["a", "b"],
                               "params": {"coefficients": [[1, 0], [0, 1], [0, 0]], "intercept": [0, 0, 0],
                                          "classes": ["x", "y", "z"]},
                               "background": [[0, 0], [1, 1]]})
    e = client.explain("py-tri", [[2, 0.5], [0, 3]], outputs="all")
    assert e.shape == (2, 2, 3) and list(e.output_names) == ["x", "y", "z"]
    np.testing.assert_array_equal(e.values[:, :, 0], [[1.5, 0.0], [-0.5, 0.0]])
    np.testing.assert_array_equal(e.base_values, [[0.5, 0.5, 0.0]] * 2)
    top = client.explain("py-tri", [[2, 0.5], [0, 3]], outputs="top:2")
    assert top.outputs == [["x", "y"], ["y", "x"]] and top.shape == (2, 2, 2)
    # Rows rank the classes differently: shap's slicing and plots still work, each
    # row naming its own outputs (a list of lists made shap's slicer fail).
    top = client.explain("py-tri", [[2, 0.5], [0, 3], [1, 0]], outputs="top:2")
    assert list(top[1].output_names) == ["y", "x"] and top[1].shape == (2, 2)
    assert top[:, :, 0].shape == (3, 2)
    shap = pytest.importorskip("shap")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    shap.plots.waterfall(top[1, :, 0], show=False)
    import matplotlib.pyplot as plt
    plt.close("all")
    default = client.explain("py-tri", [[2, 0.5], [0, 3]])
    assert default.shape == (2, 2) and default.outputs == ["x", "y"] and default.output_names is None


def test_without_shap(server: Server, house: pd.DataFrame) -> None:
    with Client(server.url, use_shap=False, progress=False) as c:
        e = c.explain(HOUSE, house.iloc[:3], method="kernel_shap")
    assert type(e).__module__ == "explaind.explanation"
    assert e.shape == (3, 11) and e[1].shape == (11,) and e[1].base_values == e.base_values[1]
    assert e.error_std is not None and e[0:2].error_std.shape == (2, 11)
    assert e.quality[0]["samples"] > 0


def test_waterfall_plot(client: Client, house: pd.DataFrame) -> None:
    shap = pytest.importorskip("shap")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    e = client.explain(HOUSE, house.iloc[:2])
    assert isinstance(e, shap.Explanation)
    shap.plots.waterfall(e[0], show=False)
    import matplotlib.pyplot as plt

    labels = [t.get_text() for t in plt.gcf().axes[0].get_yticklabels()]
    plt.close("all")
    assert any("aircon" in t for t in labels)


def test_spark_like_frames_are_collected(client: Client, house: pd.DataFrame) -> None:
    class SparkLike:
        """What the client uses of a pyspark DataFrame: toPandas()."""

        def toPandas(self) -> pd.DataFrame:  # noqa: N802 - pyspark's name
            return house.iloc[:4][list(reversed(house.columns))]

    np.testing.assert_array_equal(client.explain(HOUSE, SparkLike()).values,
                                  client.explain(HOUSE, house.iloc[:4]).values)


def test_chunks_of_a_part_end_where_the_tables_would() -> None:
    from explaind.frames import chunks

    rows = ["[1]"] * 250
    assert list(chunks(rows, 100, 10**6)) == [(0, 100), (100, 200), (200, 250)]
    # Rows 150..399 of a table: the first request ends at the table's row 200.
    assert list(chunks(rows, 100, 10**6, offset=150)) == [(0, 50), (50, 150), (150, 250)]
    assert list(chunks(rows, 100, 10**6, offset=300)) == [(0, 100), (100, 200), (200, 250)]


def test_a_connection_closed_mid_upload_splits_like_a_413() -> None:
    """A server that refuses a body at its headers may close the connection before
    the client has written it: the batcher splits as for a 413, and a single row
    that still fails raises."""
    import json
    from concurrent.futures import ThreadPoolExecutor

    from explaind.batches import Batcher

    sent: list[int] = []

    def send(method: str, path: str, body: bytes | None) -> dict[str, object]:
        assert body is not None
        n = len(json.loads(body)["instances"])
        if n > 2:
            raise requests.ConnectionError("connection reset by peer")
        sent.append(n)
        return {"predictions": [[0.0]] * n}

    data = np.arange(20, dtype=np.float64).reshape(10, 2)
    with ThreadPoolExecutor(2) as pool:
        answers = Batcher(send, pool, max_rows=100, max_body_bytes=10**9).run("/p", data, {}, False)
        assert sum(len(a["predictions"]) for a in answers) == 10 and sum(sent) == 10

        def always_reset(method: str, path: str, body: bytes | None) -> dict[str, object]:
            raise requests.ConnectionError("connection reset by peer")

        with pytest.raises(requests.ConnectionError):
            Batcher(always_reset, pool, max_rows=100, max_body_bytes=10**9).run("/p", data, {}, False)


def test_a_background_summary_registered_with_the_model(client: Client, house: pd.DataFrame) -> None:
    """``background_summary`` goes into the document as given; the server builds the
    k-means summary once and the sampling methods use it unless asked otherwise."""
    doc = requests.get(f"{client.url}/models/{HOUSE}", timeout=30).json()
    assert "background_summary" not in doc
    spec = {"kind": "linear", "feature_names": list(house.columns),
            "params": {"coefficients": [[1.0] * house.shape[1]], "intercept": [0.0]}}
    info = client.register("house-summarised", spec, background=house.iloc[:200],
                           background_summary={"kmeans": 12, "seed": 3})
    try:
        assert info["background_summary"].startswith("registered kmeans: 12 centres of 200")
        e = client.explain("house-summarised", house.iloc[:2], method="kernel_shap", seed=1)
        assert all(q["background"].startswith("registered kmeans: 12") for q in e.quality)
        own = client.explain("house-summarised", house.iloc[:2], method="kernel_shap", seed=1,
                             background={"kmeans": 20})
        assert all(q["background"].startswith("kmeans: 20") for q in own.quality)
        assert not np.allclose(own.base_values, e.base_values)
    finally:
        client.delete("house-summarised")
