"""What a worker of a distributed engine (Dask, Spark) needs to explain its part of a
table: an explaind it can reach, the model registered there once per process, and
the answers as a flat pandas frame.

A worker reaches explaind at a ``url`` (a Kubernetes Service, a sidecar) or, with a
``binary``, at an explaind process it starts beside itself on a free loopback port:
one per worker process and binary, stopped when the process exits. A model given as
a registration document is registered once per process and server (again after a
``model_not_found`` answer, for a server that restarted or a Service of replicas).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np
import pandas as pd
import requests

from .client import Client, registration
from .errors import ExplaindError

__all__ = ["Target", "explain_part", "local_servers", "make_target", "model_name", "on_worker"]


@dataclass(frozen=True)
class Target:
    """Where and what a worker explains: built on the driver, pickled to workers."""

    #: The explaind every worker talks to; ``None`` with ``binary``.
    url: Optional[str]
    #: The explaind binary each worker process starts (``local=True``).
    binary: Optional[str]
    #: The model's name on the server.
    name: str
    #: The registration document (JSON text), or ``None`` for a model the server holds.
    document: Optional[str] = None
    token: Optional[str] = None
    #: Extra command-line arguments of a local explaind.
    args: Tuple[str, ...] = ()
    #: ``Client`` keyword arguments (``max_rows``, ``timeout``, ...).
    client_options: Tuple[Tuple[str, Any], ...] = field(default_factory=tuple)


def make_target(model: Any, url: Optional[str], local: bool, binary: Optional[str],
                background: Any, feature_names: Optional[Sequence[str]], name: Optional[str],
                token: Optional[str], server_args: Sequence[str],
                client_options: Optional[Dict[str, Any]]) -> Target:
    """The driver's side of ``explaind.dask.explain``/``explaind.spark.explain``: a
    ``str`` model is a name the server holds, anything else becomes its registration
    document here (see their docs).

    # Errors
    ``ValueError`` when neither or both of ``url`` and ``local`` are given.
    """
    if (url is None) == (not local):
        raise ValueError("give url=... or local=True (one of them)")
    document: Optional[str] = None
    if isinstance(model, str):
        model_id = model
    else:
        document = document_text(registration(model, background, feature_names))
        model_id = name or model_name(document)
    return Target(url=url, binary=(binary or "") if local else None, name=model_id,
                  document=document, token=token, args=tuple(server_args),
                  client_options=tuple(sorted((client_options or {}).items())))


def on_worker(target: Target) -> Target:
    """``target`` with its binary looked up on this machine (see ``resolve_binary``)."""
    if target.binary is None:
        return target
    return Target(target.url, resolve_binary(target.binary or None), target.name, target.document,
                  target.token, target.args, target.client_options)


def model_name(document: str) -> str:
    """The name a registration document is registered under: ``dist-`` and a digest."""
    return "dist-" + hashlib.sha256(document.encode()).hexdigest()[:16]


def resolve_binary(binary: Optional[str]) -> str:
    """The explaind binary's path: ``binary``, else ``$EXPLAIND_BIN``, else ``explaind``
    on ``PATH``. # Errors: ``FileNotFoundError``."""
    path = binary or os.environ.get("EXPLAIND_BIN") or shutil.which("explaind")
    if not path or not os.path.isfile(path):
        raise FileNotFoundError(f"no explaind binary (binary={binary!r}, $EXPLAIND_BIN, PATH)")
    return os.path.abspath(path)


#: Runs explaind ("$@") under a shell that stops it when terminated or when the
#: process that started it is gone: Spark's Python workers and killed Dask workers
#: exit without running ``atexit``.
_WATCH = """"$@" & c=$!
trap 'kill $c 2>/dev/null; wait $c; exit 0' TERM INT
while kill -0 "$EXPLAIND_PARENT" 2>/dev/null && kill -0 $c 2>/dev/null; do sleep 1; done
kill $c 2>/dev/null; wait $c"""


class LocalServer:
    """An explaind process on a free loopback port, ready when constructed, watched by
    a shell (``proc``) that stops it with this process."""

    def __init__(self, binary: str, args: Tuple[str, ...], timeout: float = 60.0) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{port}"
        self.log = tempfile.TemporaryFile(prefix="explaind-")
        env = dict(os.environ, EXPLAIND_PARENT=str(os.getpid()))
        self.proc = subprocess.Popen(["sh", "-c", _WATCH, "explaind-watch", binary,
                                      "--addr", f"127.0.0.1:{port}", *args],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"explaind ({binary}) exited with {self.proc.returncode}: {self._tail()}")
            try:
                if requests.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"explaind ({binary}) not ready after {timeout} s: {self._tail()}")
            time.sleep(0.05)

    def _tail(self) -> str:
        self.log.seek(0)
        return self.log.read()[-2000:].decode(errors="replace")

    def stop(self) -> None:
        """Terminate the process (kill it after 10 s)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


_lock = threading.Lock()
_servers: Dict[Tuple[str, Tuple[str, ...]], LocalServer] = {}
_clients: Dict[Tuple[str, Optional[str], Tuple[Tuple[str, Any], ...]], Client] = {}
_registered: Set[Tuple[str, str]] = set()


def _stop_all() -> None:
    with _lock:
        for server in _servers.values():
            server.stop()
        _servers.clear()


atexit.register(_stop_all)
try:  # multiprocessing children (Dask's nannies, Spark's daemons) may skip atexit
    from multiprocessing import util as _mp_util

    _mp_util.Finalize(None, _stop_all, exitpriority=10)
except Exception:  # pragma: no cover
    pass


def local_servers() -> Dict[str, Tuple[int, str]]:
    """This process's explaind processes: binary → (pid, url)."""
    with _lock:
        return {k[0]: (s.proc.pid, s.url) for k, s in _servers.items()}


def _client(target: Target) -> Client:
    with _lock:
        url = target.url
        if target.binary is not None:
            key = (target.binary, target.args)
            if key not in _servers:
                _servers[key] = LocalServer(target.binary, target.args)
            url = _servers[key].url
        assert url is not None
        ckey = (url, target.token, target.client_options)
        if ckey not in _clients:
            _clients[ckey] = Client(url, target.token, progress=False, use_shap=False,
                                    **dict(target.client_options))
        return _clients[ckey]


def _register(client: Client, target: Target, again: bool = False) -> None:
    if target.document is None:
        return
    key = (client.url, target.name)
    with _lock:
        if key in _registered and not again:
            return
    client._send("PUT", f"/models/{target.name}", target.document.encode())
    with _lock:
        _registered.add(key)


def explain_part(target: Target, part: pd.DataFrame, offset: int, method: str,
                 options: Dict[str, Any], columns: Optional[List[str]] = None) -> pd.DataFrame:
    """Explain one partition (its rows start at row ``offset`` of the table) and flatten
    the answer with :func:`flatten`, keeping ``part``'s index."""
    client = _client(target)
    _register(client, target)
    try:
        exp = client.explain(target.name, part, method, row_offset=offset, **options) if len(part) else None
    except ExplaindError as e:
        if e.code != "model_not_found" or target.document is None:
            raise
        _register(client, target, again=True)
        exp = client.explain(target.name, part, method, row_offset=offset, **options)
    return flatten(exp, part.index, options, columns)


def flatten(exp: Any, index: pd.Index, options: Dict[str, Any],
            columns: Optional[List[str]] = None) -> pd.DataFrame:
    """An explanation as a frame, one row per instance.

    One output per row: a column per feature (or group), ``base_value``,
    ``prediction`` and ``output`` (the output explained). Several (``outputs="all"``):
    ``{feature}:{output}``, ``base_value:{output}`` and ``prediction:{output}`` per
    output; with ``outputs="top:K"`` the suffix is the rank (``top1``, ...) and
    ``output:top{k}`` names the output. ``exp=None`` (an empty part) needs ``columns``.
    """
    if exp is None:
        assert columns is not None
        return _empty(columns, index)
    names = list(exp.feature_names)
    if exp.values.ndim == 2:
        frame = pd.DataFrame(exp.values, index=index, columns=names)
        frame["base_value"] = np.asarray(exp.base_values, dtype=np.float64)
        frame["prediction"] = np.asarray(exp.predictions, dtype=np.float64)
        frame["output"] = pd.Series([str(o) for o in exp.outputs], index=index, dtype=object)
        return frame
    ranked = str(options.get("outputs", "")).startswith("top:")
    k = exp.values.shape[2]
    suffixes = [f"top{j + 1}" for j in range(k)] if ranked else [str(o) for o in exp.outputs[0]]
    parts: Dict[str, Any] = {}
    for j, suffix in enumerate(suffixes):
        for f, name in enumerate(names):
            parts[f"{name}:{suffix}"] = exp.values[:, f, j]
        parts[f"base_value:{suffix}"] = exp.base_values[:, j]
        parts[f"prediction:{suffix}"] = exp.predictions[:, j]
        if ranked:
            parts[f"output:{suffix}"] = pd.Series([str(r[j]) for r in exp.outputs], index=index, dtype=object)
    return pd.DataFrame(parts, index=index)


def _empty(columns: List[str], index: pd.Index) -> pd.DataFrame:
    text = {c for c in columns if c == "output" or c.startswith("output:")}
    return pd.DataFrame({c: pd.Series([], index=index, dtype=object if c in text else np.float64)
                         for c in columns})


def document_text(doc: Dict[str, Any]) -> str:
    """A registration document as compact JSON (what workers send)."""
    return json.dumps(doc, separators=(",", ":"))
