"""explaind.dask on a real Dask cluster (LocalCluster: 2 worker processes, one
thread each) against real explaind processes: the distributed frame equals
``Client.explain`` on the whole frame row for row, through a URL and with one
explaind per worker process (``local=True``); several outputs as columns; the
seeds of sampling methods as the whole-frame call's where partitions allow."""

from __future__ import annotations

import os
import time
from typing import Any, Iterator

import numpy as np
import pandas as pd
import pytest

from conftest import Server, explaind_bin
from explaind import Client

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("dask.distributed")
xgb = pytest.importorskip("xgboost")
from explaind.dask import explain  # noqa: E402
from explaind.workers import local_servers  # noqa: E402

pytestmark = pytest.mark.dask
HOUSE = "house-prices"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=":0") as lc, distributed.Client(lc) as dc:
        yield dc


@pytest.fixture(scope="module")
def booster(house: pd.DataFrame) -> Any:
    """A small XGBoost regression of the price on the houses (10 features)."""
    X = house.drop(columns=["aircon"])
    return xgb.XGBRegressor(n_estimators=20, max_depth=3, random_state=0).fit(X, house["aircon"])


def features(frame: pd.DataFrame, names: Any) -> np.ndarray:
    return frame[list(names)].to_numpy()


def test_url_mode_equals_direct_call(cluster: Any, client: Client, server: Server, house: pd.DataFrame) -> None:
    ddf = dd.from_pandas(house, npartitions=3)
    got = explain(ddf, HOUSE, url=server.url).compute()
    want = client.explain(HOUSE, house)
    assert got.index.equals(house.index)
    assert list(got.columns) == [*want.feature_names, "base_value", "prediction", "output"]
    np.testing.assert_array_equal(features(got, want.feature_names), want.values)
    np.testing.assert_array_equal(got["base_value"], want.base_values)
    np.testing.assert_array_equal(got["prediction"], want.predictions)
    assert set(got["output"]) == {"price"}


def test_empty_partitions_keep_the_columns(cluster: Any, client: Client, server: Server,
                                           house: pd.DataFrame) -> None:
    ddf = dd.from_pandas(house, npartitions=4)
    kept = ddf.map_partitions(lambda p: p[p.index >= 300])  # the first two partitions are empty
    assert kept.map_partitions(len).compute().tolist()[:2] == [0, 0]
    got = explain(kept, HOUSE, url=server.url).compute()
    want = client.explain(HOUSE, house.iloc[300:])
    assert got.index.equals(house.index[300:])
    np.testing.assert_array_equal(features(got, want.feature_names), want.values)
    assert got["output"].dtype == object and got["base_value"].dtype == np.float64


def test_local_mode_registers_model_per_worker_and_equals_direct_call(
        cluster: Any, client: Client, house: pd.DataFrame, booster: Any) -> None:
    X = house.drop(columns=["aircon"])
    ddf = dd.from_pandas(X, npartitions=4)
    binary = str(explaind_bin())
    bg = X.iloc[:50]
    got = explain(ddf, booster, local=True, binary=binary, background=bg, name="dask-xgb").compute()
    again = explain(ddf, booster, local=True, binary=binary, background=bg, name="dask-xgb").compute()
    client.register("dask-xgb-direct", booster, background=bg)
    want = client.explain("dask-xgb-direct", X)
    np.testing.assert_array_equal(features(got, want.feature_names), want.values)
    np.testing.assert_array_equal(got["base_value"], want.base_values)
    np.testing.assert_array_equal(got["prediction"], want.predictions)
    pd.testing.assert_frame_equal(got, again)
    # One explaind per worker process, the model registered once in each.
    servers = cluster.run(local_servers)
    assert len(servers) == 2
    pids = {pid for s in servers.values() for pid, _ in s.values()}
    assert len(pids) == 2
    for s in servers.values():
        for _, url in s.values():
            with Client(url, progress=False) as c:
                assert c.model("dask-xgb")["version"] == 1


def test_several_outputs_are_columns_per_output(cluster: Any, client: Client, server: Server,
                                                house: pd.DataFrame) -> None:
    X = house.drop(columns=["bedrooms"])
    y = house["bedrooms"].clip(2, 4).astype(int)
    model = xgb.XGBClassifier(n_estimators=10, max_depth=3, random_state=0).fit(X, y - 2)
    client.register("dask-multi", model, background=X.iloc[:30])
    ddf = dd.from_pandas(X, npartitions=2)
    want = client.explain("dask-multi", X, outputs="all")
    names = list(want.output_names)
    assert len(names) == 3
    got = explain(ddf, "dask-multi", url=server.url, outputs="all").compute()
    for j, out in enumerate(names):
        cols = [f"{f}:{out}" for f in want.feature_names]
        np.testing.assert_array_equal(got[cols].to_numpy(), want.values[:, :, j])
        np.testing.assert_array_equal(got[f"base_value:{out}"], want.base_values[:, j])
        np.testing.assert_array_equal(got[f"prediction:{out}"], want.predictions[:, j])
    top = explain(ddf, "dask-multi", url=server.url, outputs="top:2").compute()
    want_top = client.explain("dask-multi", X, outputs="top:2")
    assert [str(o) for o in top["output:top1"]] == [r[0] for r in want_top.outputs]
    np.testing.assert_array_equal(top[[f"{f}:top2" for f in want_top.feature_names]].to_numpy(),
                                  want_top.values[:, :, 1])


def test_errors_name_the_row_of_the_table(cluster: Any, server: Server, house: pd.DataFrame) -> None:
    # A bad value in row 300 of 4 partitions of 137 rows: the worker's error names
    # the table's row (aligned offsets), or its row in its partition and the
    # index label (align=False); it named the row within the worker's request.
    import dask

    X = house.astype(object).set_axis([f"h{i}" for i in range(len(house))])
    X.iloc[300, 0] = "oops"
    opts = dict(url=server.url, client_options={"max_rows": 50})
    # (Object columns stay objects: dask would make them strings, numbers included.)
    with dask.config.set({"dataframe.convert-string": False}):
        ddf = dd.from_pandas(X, npartitions=4, sort=False)
        with pytest.raises(Exception, match=r"instance 300 \(index 'h300'\), feature 'lotsize'"):
            explain(ddf, HOUSE, **opts).compute()
        ends = list(ddf.map_partitions(len).compute().cumsum())
        p = next(i for i, end in enumerate(ends) if end > 300)
        k = 300 - (int(ends[p - 1]) if p else 0)
        with pytest.raises(Exception, match=rf"instance {k} of partition {p} \(index 'h300'\)"):
            explain(ddf, HOUSE, align=False, **opts).compute()


SAMPLING = dict(method="kernel_shap", seed=11, n_samples=64, max_background=8)


def test_sampling_seeds_follow_the_whole_frame(cluster: Any, server: Server, house: pd.DataFrame,
                                               booster: Any) -> None:
    X = house.drop(columns=["aircon"])
    with Client(server.url, progress=False, max_rows=100) as c:
        c.register("dask-seeded", booster, background=X.iloc[:40])
        want = c.explain("dask-seeded", X, **SAMPLING)
    opts = dict(client_options={"max_rows": 100}, **SAMPLING)
    names = want.feature_names
    # Partitions starting at multiples of max_rows: the whole-frame call's numbers.
    aligned = explain(dd.from_pandas(X, chunksize=200), "dask-seeded", url=server.url, **opts).compute()
    np.testing.assert_array_equal(features(aligned, names), want.values)
    # Partitions at 0, 150, 300, 450: rows 150-199 and 450-499 are requests of their
    # own (other draws), the others the whole-frame call's.
    shifted = explain(dd.from_pandas(X, chunksize=150), "dask-seeded", url=server.url, **opts).compute()
    own = np.r_[150:200, 450:500]
    rest = np.setdiff1d(np.arange(len(X)), own)
    np.testing.assert_array_equal(features(shifted, names)[rest], want.values[rest])
    assert not np.allclose(features(shifted, names)[own], want.values[own])


def test_local_servers_stop_with_the_workers(server: Server, house: pd.DataFrame) -> None:
    with distributed.LocalCluster(n_workers=1, processes=True, threads_per_worker=1,
                                  dashboard_address=":0") as lc, distributed.Client(lc) as dc:
        explain(dd.from_pandas(house, npartitions=2), HOUSE, local=True, binary=str(explaind_bin())).compute()
        (pid, _), = next(iter(dc.run(local_servers).values())).values()
        assert os.path.exists(f"/proc/{pid}")
    deadline = time.monotonic() + 15
    while os.path.exists(f"/proc/{pid}") and "State:\tZ" not in open(f"/proc/{pid}/status").read():
        assert time.monotonic() < deadline, f"explaind {pid} still running"
        time.sleep(0.1)


def test_local_server_stops_when_its_process_dies_without_atexit() -> None:
    """Spark's Python workers (and killed Dask workers) exit without atexit: the
    explaind a process started is stopped by its watcher all the same."""
    import subprocess
    import sys

    import requests

    code = ("import os, sys; from explaind.workers import LocalServer; "
            f"s = LocalServer({str(explaind_bin())!r}, ()); print(s.url, flush=True); os._exit(0)")
    url = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         check=True).stdout.strip()
    deadline = time.monotonic() + 10
    while True:
        try:
            requests.get(url + "/readyz", timeout=1)
        except requests.ConnectionError:
            break
        assert time.monotonic() < deadline, f"explaind at {url} still answers"
        time.sleep(0.2)
