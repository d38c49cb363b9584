"""Explain a Spark DataFrame on its executors: ``explaind.spark.explain`` (``mapInPandas``).

>>> from explaind.spark import explain
>>> out = explain(df, model="house-prices", url="http://explaind:8080", keep=["id"])  # doctest: +SKIP

The same as ``explaind.dask.explain`` (columns, ``model=``, ``url=``/``local=True``,
seeds) for Spark: each partition's Arrow batches are explained by the Python worker
that receives them, in order, with the rows' indices in the whole frame counted from
the partitions' lengths (one pass, ``align=True``).
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Sequence

import pandas as pd

from .batches import PARTITIONED
from .workers import Target, explain_part, make_target, on_worker

__all__ = ["explain"]


def explain(df: Any, model: Any, url: Optional[str] = None, *, local: bool = False,
            binary: Optional[str] = None, background: Any = None,
            feature_names: Optional[Sequence[str]] = None, name: Optional[str] = None,
            token: Optional[str] = None, method: str = "auto", keep: Sequence[str] = (),
            align: bool = True, server_args: Sequence[str] = (),
            client_options: Optional[Dict[str, Any]] = None, **options: Any) -> Any:
    """A Spark DataFrame of attributions, one row per row of ``df`` in its order:
    ``keep``'s columns of ``df`` (ids to join on) and then the columns of
    ``explaind.dask.explain`` (``output`` columns are strings, the others doubles).
    The other columns of ``df`` are the features, matched by name.

    Arguments as ``explaind.dask.explain``'s. Seeds: with ``align`` the partitions'
    lengths are counted first, and a partition that starts at a multiple of
    ``max_rows`` gets the whole-frame call's numbers; so does every Arrow batch
    (``spark.sql.execution.arrow.maxRecordsPerBatch``, default 10,000) that starts at
    one. ``align=False``: partition ``p`` is seeded from ``p * 2**32``.
    """
    from pyspark.sql import types as T  # type: ignore[import-not-found, unused-ignore]

    target = make_target(model, url, local, binary, background, feature_names, name, token,
                         server_args, client_options)
    keep = list(keep)
    opts = dict(options)
    if align:
        counts = dict(df.rdd.mapPartitionsWithIndex(lambda i, it: [(i, sum(1 for _ in it))]).collect())
        offsets, total = [], 0
        for p in range(len(counts)):
            offsets.append(total)
            total += counts[p]
    else:
        offsets = [p << 32 for p in range(df.rdd.getNumPartitions())]
    features = [c for c in df.columns if c not in keep]
    first = df.select(*features).limit(1).rdd.mapPartitions(
        lambda rows: [_probe(target, [r.asDict() for r in rows], method, opts)]).collect()
    columns = next((c for c in first if c), None)
    if columns is None:
        raise ValueError("explaind.spark.explain: the frame has no rows")
    kept = [f for f in df.schema.fields if f.name in keep]
    fields = [T.StructField(c, T.StringType() if c == "output" or c.startswith("output:")
                            else T.DoubleType()) for c in columns]
    schema = T.StructType([*kept, *fields])

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        return _partition(batches, target, offsets, method, opts, keep, columns)

    return df.mapInPandas(run, schema)


def _probe(target: Target, rows: List[Dict[str, Any]], method: str,
           options: Dict[str, Any]) -> List[str]:
    if not rows:
        return []
    out = explain_part(on_worker(target), pd.DataFrame(rows), 0, method, options)
    return [str(c) for c in out.columns]


def _partition(batches: Iterator[pd.DataFrame], target: Target, offsets: List[int], method: str,
               options: Dict[str, Any], keep: List[str], columns: List[str]) -> Iterator[pd.DataFrame]:
    from pyspark import TaskContext  # type: ignore[import-not-found, unused-ignore]

    context = TaskContext.get()
    offset = offsets[context.partitionId()] if context is not None else 0
    target = on_worker(target)
    for batch in batches:
        batch = batch.reset_index(drop=True)
        # The features indexed by their rows' numbers (as an error names them: in
        # the table, or in the partition without aligned offsets).
        start = offset % PARTITIONED
        features = batch.drop(columns=keep).set_axis(pd.RangeIndex(start, start + len(batch)))
        out = explain_part(target, features, offset, method, options, columns)
        offset += len(batch)
        yield pd.concat([batch[keep], out[columns].set_axis(batch.index)], axis=1)
