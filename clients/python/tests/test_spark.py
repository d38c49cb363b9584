"""explaind.spark on a real Spark (``local[2]``, needs pyspark and a JRE; skipped
without them): the distributed frame equals ``Client.explain`` on the whole frame
row for row, through a URL and with ``local=True``; seeds follow the whole frame."""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any, Iterator

import numpy as np
import pandas as pd
import pytest

from conftest import Server, explaind_bin
from explaind import Client

pyspark_sql = pytest.importorskip("pyspark.sql")
if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
    pytest.skip("Spark needs a JRE (apt-get install -y default-jre-headless)", allow_module_level=True)
from explaind.spark import explain  # noqa: E402

pytestmark = pytest.mark.spark
HOUSE = "house-prices"


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    # The Python workers run this interpreter (the one with explaind installed).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (pyspark_sql.SparkSession.builder.master("local[2]").appName("explaind-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true").getOrCreate())
    yield session
    session.stop()


def frame(spark: Any, house: pd.DataFrame, partitions: int) -> Any:
    """The houses with an ``id`` column, in ``partitions`` partitions in row order."""
    rows = house.reset_index(drop=True).assign(id=np.arange(len(house)))
    return spark.createDataFrame(rows).coalesce(1).repartitionByRange(partitions, "id")


def test_url_mode_equals_direct_call(spark: Any, client: Client, server: Server, house: pd.DataFrame) -> None:
    got = explain(frame(spark, house, 3), HOUSE, url=server.url, keep=["id"]).toPandas()
    got = got.sort_values("id").reset_index(drop=True)
    want = client.explain(HOUSE, house)
    assert list(got.columns) == ["id", *want.feature_names, "base_value", "prediction", "output"]
    np.testing.assert_array_equal(got["id"], np.arange(len(house)))
    np.testing.assert_array_equal(got[list(want.feature_names)].to_numpy(), want.values)
    np.testing.assert_array_equal(got["base_value"], want.base_values)
    np.testing.assert_array_equal(got["prediction"], want.predictions)


def test_local_mode_and_seeds_follow_the_whole_frame(spark: Any, server: Server, house: pd.DataFrame) -> None:
    xgb = pytest.importorskip("xgboost")
    X = house.drop(columns=["aircon"])
    model = xgb.XGBRegressor(n_estimators=20, max_depth=3, random_state=0).fit(X, house["aircon"])
    opts = dict(method="kernel_shap", seed=5, n_samples=64, max_background=8)
    with Client(server.url, progress=False, max_rows=100) as c:
        c.register("spark-xgb", model, background=X.iloc[:40])
        want = c.explain("spark-xgb", X, **opts)
    df = frame(spark, X, 2)
    counts = df.rdd.mapPartitions(lambda it: [sum(1 for _ in it)]).collect()
    got = explain(df, model, local=True, binary=str(explaind_bin()), background=X.iloc[:40],
                  keep=["id"], client_options={"max_rows": 100}, **opts).toPandas()
    got = got.sort_values("id").reset_index(drop=True)
    values = got[list(want.feature_names)].to_numpy()
    # Rows from each partition's first multiple of 100 on are the whole-frame call's.
    start, same = 0, np.ones(len(X), dtype=bool)
    for n in counts:
        if start % 100:
            same[start:min(-(-start // 100) * 100, start + n)] = False
        start += n
    assert same.sum() > len(X) / 2
    np.testing.assert_array_equal(values[same], want.values[same])
    if not same.all():  # a partition started inside a request: its rows there differ
        assert not np.allclose(values[~same], want.values[~same])


def test_errors_name_the_row_of_the_table(spark: Any, server: Server, house: pd.DataFrame) -> None:
    # A missing value in row 300 of 3 partitions: the executor's error names the
    # table's row (it named the row within its request), with no index label (a
    # batch's index counts from 0 in each batch and names nothing of the table).
    rows = house.reset_index(drop=True).assign(id=np.arange(len(house)))
    rows.loc[300, "lotsize"] = np.nan  # a missing value, which the linear model refuses
    df = spark.createDataFrame(rows).coalesce(1).repartitionByRange(3, "id")
    with pytest.raises(Exception, match=r"instance 300, feature 'lotsize'") as info:
        explain(df, HOUSE, url=server.url, keep=["id"], client_options={"max_rows": 50}).toPandas()
    assert "(index" not in str(info.value)
