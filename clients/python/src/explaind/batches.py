"""Large inputs in several requests: split under the server's limits, sent
concurrently, answers put back in row order."""

from __future__ import annotations

import json
import re
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt
import requests

from . import frames
from .errors import ExplaindError
from .progress import row_bar

Send = Callable[[str, str, Optional[bytes]], Any]

_MASK64 = (1 << 64) - 1


def _splitmix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def chunk_seed(seed: int, start: int) -> int:
    """The seed of the request whose first row is row ``start`` of the call.

    The server draws row ``i`` of a request from stream ``i`` of the request's seed,
    so chunks sent with one seed would share draws row for row. The first chunk
    keeps the seed (a call of one request is the plain request); the others get
    a mix of seed and start row, below 2^63 as the API's int64 asks.
    """
    if start == 0:
        return seed
    return _splitmix(seed ^ _splitmix(start)) & ((1 << 63) - 1)


#: Offsets from this one on name no row of a table: ``explaind.dask``/``spark``
#: without aligned offsets send partition ``p`` from ``p * 2**32``.
PARTITIONED = 1 << 32


def renumbered(error: ExplaindError, first_row: int, labels: Optional[Sequence[Any]] = None,
               label_start: int = 0) -> ExplaindError:
    """``error`` of a request whose first row is row ``first_row`` of the caller's
    data, with the server's ``instance N`` (counted within the request) made the
    caller's row number, followed by the row's index label where it is another
    (``labels[label_start + N]``: a DataFrame's index). A ``first_row`` of
    ``p * 2**32 + k`` (a partition without aligned offsets) names the row as
    ``instance k + N of partition p``."""
    if first_row == 0 and labels is None:
        return error

    def shift(m: "re.Match[str]") -> str:
        n = int(m.group(1))
        row = first_row + n
        text = f"instance {row}"
        if first_row >= PARTITIONED:
            row = (first_row % PARTITIONED) + n
            text = f"instance {row} of partition {first_row // PARTITIONED}"
        if labels is not None and 0 <= label_start + n < len(labels):
            label = labels[label_start + n]
            if not (isinstance(label, int) and label == row):
                text += f" (index {label!r})"
        return text

    message = re.sub(r"\binstance (\d+)", shift, error.message)
    return ExplaindError(error.status, error.code, message, error.body)


class Batcher:
    """Sends a row matrix as ``{"instances": [...], **extra}`` requests of at most
    ``max_rows`` rows and ``max_body_bytes`` bytes; a 413 answer splits a request
    in two and sends the halves."""

    def __init__(self, send: Send, pool: ThreadPoolExecutor, max_rows: int, max_body_bytes: int) -> None:
        self.send = send
        self.pool = pool
        self.max_rows = max(1, max_rows)
        self.max_body_bytes = max_body_bytes

    def run(self, path: str, data: npt.NDArray[Any], extra: Dict[str, Any],
            show: Optional[bool], reseed: bool = False, offset: int = 0,
            labels: Optional[Sequence[Any]] = None) -> List[Dict[str, Any]]:
        """The answers for ``data``'s rows, in order (one per request sent).

        ``labels``: the rows' index labels (a DataFrame's), which an error answer
        names beside the row's number.

        ``offset``: the index of ``data``'s first row in a larger table this call is
        a part of; requests are cut and (with ``reseed``) seeded as the table's would
        be from the first multiple of ``max_rows`` on."""
        rows = [frames.row_json(r) for r in data]
        overhead = len(json.dumps(extra)) + 32
        ranges = (list(frames.chunks(rows, self.max_rows, self.max_body_bytes - overhead, offset))
                  or [(0, 0)])

        def one(span: Tuple[int, int]) -> List[Dict[str, Any]]:
            return self._send_range(path, rows, span, extra, reseed, offset, labels)

        if len(ranges) == 1:
            return one(ranges[0])
        results: List[Optional[List[Dict[str, Any]]]] = [None] * len(ranges)
        with row_bar(len(rows), show) as bar:
            futures: Dict[Future[List[Dict[str, Any]]], int] = {
                self.pool.submit(one, span): i for i, span in enumerate(ranges)}
            try:
                for fut in as_completed(futures):
                    i = futures[fut]
                    results[i] = fut.result()
                    bar(ranges[i][1] - ranges[i][0])
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        return [a for r in results if r is not None for a in r]

    def _send_range(self, path: str, rows: List[str], span: Tuple[int, int],
                    extra: Dict[str, Any], reseed: bool, offset: int = 0,
                    labels: Optional[Sequence[Any]] = None) -> List[Dict[str, Any]]:
        start, end = span
        fields = dict(extra)
        if reseed and offset + start > 0:
            fields["seed"] = chunk_seed(int(extra.get("seed") or 0), offset + start)
        tail = json.dumps(fields, separators=(",", ":"))
        body = '{"instances":[' + ",".join(rows[start:end]) + "]" + ("," + tail[1:] if fields else "}")
        try:
            return [self.send("POST", path, body.encode())]
        except ExplaindError as e:
            if e.status != 413 or end - start < 2:
                raise renumbered(e, offset + start, labels, start) from None
        except requests.ConnectionError:
            # A server refuses a body over its limit as soon as it has read the
            # headers (413) and closes the connection; a client still writing the
            # body may see only the closed connection. Split as for a 413; a single
            # row that still fails raises.
            if end - start < 2:
                raise
        mid = (start + end) // 2
        return (self._send_range(path, rows, (start, mid), extra, reseed, offset, labels)
                + self._send_range(path, rows, (mid, end), extra, reseed, offset, labels))
