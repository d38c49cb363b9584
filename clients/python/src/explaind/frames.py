"""Turning what users hold (data frames, arrays, dicts) into explaind's rows.

Rows go to the server as arrays in the model's feature order; a data frame's
columns are matched to the model's features by name, whatever their order.
``NaN`` and ``None`` become JSON ``null`` (a missing value, tree models only).
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt
import pandas as pd

#: One row as sent: numbers, ``None`` for missing values.
Row = List[Optional[float]]


def collect(x: Any) -> Any:
    """Bring a dask or Spark data frame into memory as pandas; others pass through."""
    if hasattr(x, "toPandas") and callable(x.toPandas):  # pyspark.sql.DataFrame
        return x.toPandas()
    if type(x).__module__.startswith("dask") and hasattr(x, "compute"):
        return x.compute()
    return x


def to_matrix(x: Any, feature_names: Sequence[str]) -> npt.NDArray[np.float64]:
    """``x`` as a (rows × features) float matrix in the model's feature order.

    ``x`` may be a DataFrame (columns matched by name), a Series or a dict for one
    row (keys are feature names; a dict of sequences is a table by column), a 2-D
    array or list of rows in feature order, or a 1-D array for a single row.

    # Errors
    ``ValueError`` naming the missing or unknown columns, or the wrong width.
    """
    x = collect(x)
    if isinstance(x, Mapping):
        values = list(x.values())
        if values and all(np.ndim(v) == 1 for v in values):
            x = pd.DataFrame(dict(x))
        else:
            x = pd.DataFrame([dict(x)])
    if isinstance(x, pd.Series):
        x = x.to_frame().T
    if isinstance(x, pd.DataFrame):
        return _frame_matrix(x, feature_names)
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != len(feature_names):
        raise ValueError(
            f"X has shape {arr.shape}; the model takes rows of {len(feature_names)} "
            f"features ({', '.join(feature_names)})"
        )
    return arr


def _frame_matrix(df: pd.DataFrame, feature_names: Sequence[str]) -> npt.NDArray[np.float64]:
    columns = [str(c) for c in df.columns]
    missing = [f for f in feature_names if f not in columns]
    unknown = [c for c in columns if c not in set(feature_names)]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing column(s) {missing}")
        if unknown:
            parts.append(f"unknown column(s) {unknown}")
        raise ValueError(
            f"X's columns do not match the model's features: {'; '.join(parts)}; "
            f"features: {list(feature_names)}"
        )
    df = df.set_axis(columns, axis=1)
    out: npt.NDArray[np.float64] = df[list(feature_names)].to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def row_json(row: npt.NDArray[np.float64]) -> str:
    """One row as compact JSON, ``NaN`` as ``null``; infinities are sent as they are
    and refused by the server (422 ``invalid_input``)."""
    return json.dumps([None if math.isnan(v) else v for v in row.tolist()], separators=(",", ":"))


def chunks(rows: Sequence[str], max_rows: int, max_bytes: int, offset: int = 0) -> Iterator[Tuple[int, int]]:
    """Split serialised rows into ``[start, end)`` ranges of at most ``max_rows`` rows
    whose comma-joined JSON stays under ``max_bytes`` (a row alone may exceed it).

    ``offset``: the index of ``rows[0]`` in a larger table; the first range then
    ends where the table's ranges of ``max_rows`` would, so the later ones start at
    the same rows as the table's (byte limits aside)."""
    start, size = 0, 0
    room = max_rows - offset % max_rows
    for i, r in enumerate(rows):
        n = len(r) + 1
        if i > start and (i - start >= room or size + n > max_bytes):
            room = max_rows
            yield start, i
            start, size = i, 0
        size += n
    if start < len(rows):
        yield start, len(rows)
