"""Turning what users hold (data frames, arrays, dicts) into explaind's rows.

Rows go to the server as arrays in the model's feature order; a data frame's
columns are matched to the model's features by name, whatever their order.
``NaN`` and ``None`` become JSON ``null`` (a missing value, tree models only).

All-numeric input becomes a float64 matrix (the fast path); input with strings
(a categorical column of a CatBoost model or of an ONNX pipeline's string input)
becomes an object matrix of raw values: numbers as floats, strings as they are,
``None`` for ``NaN``, ``None``, ``pd.NA`` and ``NaT``.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt
import pandas as pd

#: One row as sent: numbers, strings (categories), ``None`` for missing values.
Row = List[Union[float, str, None]]


def collect(x: Any) -> Any:
    """Bring a dask or Spark data frame into memory as pandas; others pass through."""
    if hasattr(x, "toPandas") and callable(x.toPandas):  # pyspark.sql.DataFrame
        return x.toPandas()
    if type(x).__module__.startswith("dask") and hasattr(x, "compute"):
        return x.compute()
    return x


def to_matrix(x: Any, feature_names: Sequence[str]) -> npt.NDArray[Any]:
    """``x`` as a (rows × features) matrix in the model's feature order: float64
    when every value is a number or missing, else an object matrix of raw values
    (floats, strings, ``None``).

    ``x`` may be a DataFrame (columns matched by name), a Series or a dict for one
    row (keys are feature names; a dict of sequences is a table by column), a 2-D
    array or list of rows in feature order, or a 1-D array for a single row.

    # Errors
    ``ValueError`` naming the missing, unknown or repeated columns, or the wrong
    width; or an infinite value, naming its row (and index label) and feature (JSON
    has no infinity, and explaind takes finite numbers or missing values).
    """
    return to_rows(x, feature_names)[0]


def to_rows(x: Any, feature_names: Sequence[str]) -> Tuple[npt.NDArray[Any], Optional[List[Any]]]:
    """``to_matrix(x, feature_names)`` and, for a DataFrame (or Series, dict), its
    rows' index labels (``None`` for arrays and lists), which errors name."""
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
        matrix = _frame_matrix(x, feature_names)
        labels = x.index.tolist()
        _refuse_infinite(matrix, feature_names, labels)
        return matrix, labels
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        arr = _raw(np.asarray(x, dtype=object))
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != len(feature_names):
        raise ValueError(
            f"X has shape {arr.shape}; the model takes rows of {len(feature_names)} "
            f"features ({', '.join(feature_names)})"
        )
    _refuse_infinite(arr, feature_names, None)
    return arr, None


def _refuse_infinite(arr: npt.NDArray[Any], feature_names: Sequence[str],
                     labels: Optional[List[Any]]) -> None:
    """Refuse an infinite value, naming its row (and index label) and feature: JSON
    has no infinity, and explaind takes finite numbers or missing values."""
    if arr.dtype == object:
        hit = next(((i, j) for i, row in enumerate(arr.tolist()) for j, v in enumerate(row)
                    if isinstance(v, float) and math.isinf(v)), None)
    else:
        found = np.argwhere(np.isinf(arr))
        hit = (int(found[0][0]), int(found[0][1])) if len(found) else None
    if hit is None:
        return
    i, j = hit
    label = f" (index {labels[i]!r})" if labels is not None else ""
    raise ValueError(
        f"row {i}{label}, feature '{feature_names[j]}': {arr[i, j]} is not a finite number; "
        "explaind takes finite numbers, or a missing value (NaN, None)")


def _frame_matrix(df: pd.DataFrame, feature_names: Sequence[str]) -> npt.NDArray[Any]:
    columns = [str(c) for c in df.columns]
    repeated = sorted(c for c, n in Counter(columns).items() if n > 1)
    if repeated:
        raise ValueError(f"X has repeated column(s) {repeated}: each feature must be one column")
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
    df = df.set_axis(columns, axis=1)[list(feature_names)]
    if all(pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t) for t in df.dtypes):
        out: npt.NDArray[Any] = df.to_numpy(dtype=np.float64, na_value=np.nan)
        return out
    return _raw(df.to_numpy(dtype=object))


def is_missing(v: Any) -> bool:
    """``None``, ``NaN``, ``pd.NA`` or ``NaT``."""
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, (float, np.floating)) and math.isnan(v)


def raw_value(v: Any) -> Union[float, str, None]:
    """One value as sent: ``None`` when missing, a string as it is (the category),
    anything else as a float.

    # Errors
    ``ValueError`` naming a value that is neither.
    """
    if is_missing(v):
        return None
    if isinstance(v, (str, np.str_)):
        return str(v)
    try:
        return float(v)
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"cannot send {v!r} ({type(v).__name__}): values are numbers, strings or missing") from e


def _raw(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """An object array of raw values (``raw_value``) with ``arr``'s shape."""
    out = np.empty(arr.shape, dtype=object)
    flat = out.reshape(-1)
    for i, v in enumerate(arr.reshape(-1).tolist()):
        flat[i] = raw_value(v)
    return out


def rows_json_ready(data: npt.NDArray[Any]) -> List[Row]:
    """``data``'s rows as lists ready for ``json.dumps`` (``NaN`` as ``None``)."""
    if data.dtype != object:
        return [[None if math.isnan(v) else v for v in row] for row in data.tolist()]
    return [list(row) for row in data.tolist()]


def row_json(row: npt.NDArray[Any]) -> str:
    """One row as compact JSON, ``NaN`` as ``null``. An object row (from
    ``to_matrix``) holds raw values already; ``to_matrix`` has refused infinities,
    which JSON cannot carry."""
    if row.dtype == object:
        return json.dumps(row.tolist(), separators=(",", ":"))
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
