"""Explain a Dask DataFrame on its workers: ``explaind.dask.explain``.

>>> from explaind.dask import explain
>>> attributions = explain(ddf, model="house-prices", url="http://explaind:8080")  # doctest: +SKIP
>>> attributions = explain(ddf, model=xgb_model, background=X_bg, local=True)       # doctest: +SKIP

Each partition is explained by the worker that holds it (``map_partitions``), with
the rows of ``Client.explain`` on the whole frame: same values, and for sampling
methods the same seeds where the partition boundaries allow (see ``explain``).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, cast

import dask.dataframe as dd
from dask.delayed import delayed
import pandas as pd

from .workers import Target, explain_part, make_target, on_worker

__all__ = ["explain"]


def explain(ddf: dd.DataFrame, model: Any, url: Optional[str] = None, *, local: bool = False,
            binary: Optional[str] = None, background: Any = None,
            feature_names: Optional[Sequence[str]] = None, name: Optional[str] = None,
            token: Optional[str] = None, method: str = "auto", align: bool = True,
            server_args: Sequence[str] = (), client_options: Optional[Dict[str, Any]] = None,
            **options: Any) -> dd.DataFrame:
    """A Dask DataFrame of attributions, one row per row of ``ddf`` (same index).

    Columns (see ``explaind.workers.flatten``): one per feature plus ``base_value``,
    ``prediction`` and ``output``; with ``outputs="all"``, ``{feature}:{output}``,
    ``base_value:{output}`` and ``prediction:{output}`` per output.

    ``model``: the name (``str``) of a model the server holds (with ``local=True``,
    the demo ``house-prices`` or one in ``server_args``' store), or anything
    ``Client.register`` accepts (a ``pathlib.Path`` for a file), which is turned into
    a registration document here, once (with ``background``, ``feature_names``),
    and registered by each worker process as ``name`` (default: ``dist-`` and a
    digest of the document); workers need no model library.

    ``url``: the explaind every worker reaches. ``local=True``: each worker process
    starts its own explaind from ``binary`` (default ``$EXPLAIND_BIN``, else
    ``explaind`` on ``PATH``, resolved on the worker) with ``server_args``, once,
    and stops it when the process exits. ``options``: ``Client.explain``'s
    (``outputs``, ``seed``, ``n_samples``, ...); ``client_options``: ``Client``'s
    (``max_rows``, ``timeout``, ...).

    Seeds: with ``align`` (the default) the partitions' lengths are computed first
    (one pass over ``ddf``) and each partition's requests are cut and seeded as
    ``Client.explain`` on the whole frame would cut and seed them; a partition
    that starts at a multiple of ``max_rows`` (default 1,000) gets exactly the
    numbers of the whole-frame call, one that starts inside a request differs on
    its rows up to the next multiple (they are seeded as a request of their own).
    ``align=False`` skips the pass: partition ``p`` is seeded as rows from
    ``p * 2**32`` on, distinct draws but not the whole-frame call's.

    # Errors
    ``ValueError`` when neither or both of ``url`` and ``local`` are given; the
    workers' ``ExplaindError`` and ``ValueError`` (columns) when computed.
    """
    target = make_target(model, url, local, binary, background, feature_names, name, token,
                         server_args, client_options)
    if align:
        lengths = ddf.map_partitions(len).compute()  # type: ignore[no-untyped-call]
        offsets = [0]
        for n in list(lengths)[:-1]:
            offsets.append(offsets[-1] + int(n))
    else:
        offsets = [p << 32 for p in range(ddf.npartitions)]
    opts = dict(options)
    sample = ddf.head(1, compute=True)
    if len(sample) == 0:
        sample = ddf.head(1, npartitions=-1)
    if len(sample) == 0:
        raise ValueError("explaind.dask.explain: the frame has no rows")
    meta = delayed(_part)(target, sample, 0, method, opts, None).compute().iloc[:0]
    # One task holds the target (the model's document may weigh megabytes): each worker
    # fetches it once instead of every partition's task carrying a copy.
    shared = delayed(target, pure=True)
    out = ddf.map_partitions(_partition, shared, offsets, method, opts,  # type: ignore[no-untyped-call]
                             list(meta.columns), meta=meta, align_dataframes=False,
                             enforce_metadata=False)
    return cast(dd.DataFrame, out)


def _part(target: Target, part: pd.DataFrame, offset: int, method: str, options: Dict[str, Any],
          columns: Optional[List[str]]) -> pd.DataFrame:
    return explain_part(on_worker(target), part, offset, method, options, columns)


def _partition(part: pd.DataFrame, target: Target, offsets: List[int], method: str,
               options: Dict[str, Any], columns: List[str],
               partition_info: Optional[Dict[str, Any]] = None) -> pd.DataFrame:
    number = 0 if partition_info is None else int(partition_info["number"])
    return _part(target, part, offsets[number], method, options, columns)
