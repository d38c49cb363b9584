"""``Client``: explaind's HTTP API as Python calls.

Models and data are sent as JSON; explain and predict split large ``X`` into
requests under the server's limits, send them concurrently over one connection
pool and put the answers back in row order. Every error answer is raised as
``ExplaindError`` with the server's code and message.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional, Sequence, TypedDict, cast

import numpy as np
import pandas as pd
import requests
from requests.adapters import HTTPAdapter

from . import convert, explanation, frames
from .batches import Batcher
from .errors import ExplaindError, from_response
from .progress import job_bar

__all__ = ["Client", "ModelInfo", "registration"]


class ModelInfo(TypedDict, total=False):
    """What explaind knows of a registered model (``GET /models/{name}``)."""

    name: str
    kind: str
    version: int
    created_at: str
    description: Optional[str]
    feature_names: List[str]
    output_names: List[str]
    background_rows: int
    background_summary: Optional[str]
    groups: Optional[List[Dict[str, Any]]]


def registration(model: Any, background: Any = None, feature_names: Optional[Sequence[str]] = None,
                 pool: Any = None, **options: Any) -> Dict[str, Any]:
    """The registration document (``PUT /models/{name}``'s body) ``Client.register``
    sends for these arguments (see there)."""
    background = frames.collect(background)
    doc, file_names = convert.to_document(model, background, pool)
    names = list(feature_names) if feature_names is not None else file_names
    if names is None and isinstance(background, pd.DataFrame):
        names = [str(c) for c in background.columns]
    if names is None and background is not None and doc.get("kind") in _NAMED_BY_DOCUMENT:
        # A linear model or MLP fitted on arrays, with an array background: its
        # document carries no names of its own, so the columns get the
        # placeholders f0, f1, ... (as shap's).
        names = _width(background)
    if names is not None:
        doc["feature_names"] = names
    if background is not None:
        bg = frames.to_matrix(background, names if names is not None else _width(background))
        doc["background"] = frames.rows_json_ready(bg)
    doc.update(options)
    return doc


#: Document kinds whose features are named by the document alone (model files name
#: their own, or the server does).
_NAMED_BY_DOCUMENT = ("linear", "logistic", "mlp")


def _width(background: Any) -> List[str]:
    """Placeholder names for a background given without names: as many as its columns."""
    shape = np.shape(frames.collect(background))
    return [f"f{i}" for i in range(shape[-1] if shape else 0)]


class Client:
    """A connection to one explaind server.

    ``token`` is sent as ``Authorization: Bearer`` on every request; ``timeout``
    (seconds) bounds each HTTP request. Large inputs go in requests of at most
    ``max_rows`` rows and ``max_body_bytes`` bytes (the server's defaults are
    10,000 instances and 2 MiB; a 413 answer splits the request further), with
    up to ``max_workers`` in flight. ``progress`` shows tqdm bars: ``None`` when a
    call takes several requests (and tqdm is installed), ``True`` always, ``False``
    never. ``use_shap=False`` answers with ``explaind.Explanation`` even where shap
    is installed.
    """

    def __init__(
        self,
        url: str = "http://127.0.0.1:8080",
        token: Optional[str] = None,
        timeout: float = 60.0,
        *,
        max_rows: int = 1000,
        max_body_bytes: int = 1_900_000,
        max_workers: int = 4,
        progress: Optional[bool] = None,
        use_shap: Optional[bool] = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.progress = progress
        self.use_shap = use_shap
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(1, max_workers))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self._pool = ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="explaind")
        self._batcher = Batcher(self._send, self._pool, max_rows, max_body_bytes)

    # ---- plumbing

    def close(self) -> None:
        """Close the connection pool and the worker threads."""
        self._pool.shutdown(wait=True)
        self.session.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, method: str, path: str, body: Optional[bytes] = None,
              params: Optional[Dict[str, Any]] = None, content_type: str = "application/json") -> Any:
        """One request; the decoded JSON answer (``None`` for an empty one).

        A 503 with ``Retry-After`` (the server's queue is full) is retried up to
        three times after the delay it asks for (at most 5 s each).
        """
        headers = {"Content-Type": content_type} if body is not None else {}
        for attempt in range(4):
            r = self.session.request(method, self.url + path, data=body, params=params,
                                     headers=headers, timeout=self.timeout)
            if r.status_code == 503 and attempt < 3 and "Retry-After" in r.headers:
                time.sleep(min(5.0, float(r.headers["Retry-After"] or 1)))
                continue
            break
        if r.status_code >= 400:
            raise from_response(r.status_code, r.text)
        return r.json() if r.content else None

    def _json(self, method: str, path: str, doc: Any = None, params: Optional[Dict[str, Any]] = None) -> Any:
        body = None if doc is None else json.dumps(doc, separators=(",", ":")).encode()
        return self._send(method, path, body, params)

    # ---- models

    def health(self) -> bool:
        """Whether ``/readyz`` says the server is ready."""
        try:
            return bool(self._json("GET", "/readyz").get("ready"))
        except ExplaindError:
            return False

    def models(self) -> List[ModelInfo]:
        """Every registered model, sorted by name."""
        return cast(List[ModelInfo], self._json("GET", "/models")["models"])

    def model(self, name: str) -> ModelInfo:
        """One model's description.

        # Errors
        ``ExplaindError`` ``model_not_found`` (404).
        """
        return cast(ModelInfo, self._json("GET", f"/models/{name}"))

    def register(self, name: str, model: Any, background: Any = None,
                 feature_names: Optional[Sequence[str]] = None, pool: Any = None,
                 **options: Any) -> ModelInfo:
        """Register ``model`` as ``name`` (or replace it: the version grows by one).

        ``model``: an ``xgboost.Booster`` or ``XGBModel``, a ``lightgbm.Booster`` or
        ``LGBMModel``, a CatBoost model, a scikit-learn linear model, MLP, other
        estimator or ``Pipeline`` (others than ``[StandardScaler,] linear/MLP`` through
        skl2onnx), an ONNX ``ModelProto``, a model file's bytes, a path to a saved file,
        or a registration document (a dict with ``kind``). ``background``: the rows
        explanations are computed against (DataFrame, matched by column name, or
        array). ``feature_names``: defaults to the model file's names, else the
        background's columns, else (a linear model or MLP fitted on arrays)
        ``f0``, ``f1``, ... . Values may be numbers, strings (categories) or
        missing (``NaN``, ``None``, ``pd.NA``). ``pool``: for a CatBoost model with
        categorical features, the training ``catboost.Pool``; CatBoost's JSON keeps
        the category strings only of the pool it is saved with, so without it a
        pool is built from the background DataFrame (the categories it holds). A
        scikit-learn model fitted on a DataFrame with string columns, or with a
        ColumnTransformer that picks columns by name, is converted with one ONNX
        input per column (strings for the string columns; which ones the
        background's dtypes tell, else the fitted encoders), so its raw values
        are explained. ``options`` go into the registration document as they
        are (``description``, ``output_names``, ``groups``, ...).

        # Errors
        ``ExplaindError`` (422 ``invalid_model``, ``invalid_name``, 413, ...);
        ``TypeError`` for an object of no known kind; ``ConversionError`` for a
        scikit-learn model skl2onnx cannot convert (naming the step, the
        converter's exception as its cause) or whose conversion explaind would
        refuse or misread (a HistGradientBoosting model with native categorical
        features, a ColumnTransformer that drops a string column).
        """
        doc = registration(model, background, feature_names, pool, **options)
        return cast(ModelInfo, self._json("PUT", f"/models/{name}", doc))

    def delete(self, name: str) -> None:
        """Remove a model. # Errors: ``ExplaindError`` ``model_not_found``."""
        self._json("DELETE", f"/models/{name}")

    # ---- predictions and explanations

    def predict(self, name: str, X: Any, output_space: Optional[str] = None,
                progress: Optional[bool] = None) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Predictions as a (rows × outputs) array (probabilities for classifiers
        unless ``output_space="raw"``)."""
        data, labels = frames.to_rows(X, self.model(name)["feature_names"])
        extra = {} if output_space is None else {"output_space": output_space}
        answers = self._batcher.run(f"/models/{name}/predict", data, extra, self._show(progress),
                                    labels=labels)
        rows = [p for a in answers for p in a["predictions"]]
        return np.asarray(rows, dtype=np.float64).reshape(len(data), -1)

    def explain(self, name: str, X: Any, method: str = "auto", progress: Optional[bool] = None,
                row_offset: int = 0, **options: Any) -> Any:
        """Explain the rows of ``X``: a ``shap.Explanation`` (``explaind.Explanation``
        without shap) whose ``values``, ``base_values``, ``data`` and ``feature_names``
        are the server's, with ``quality``, ``predictions`` and ``error_std`` beside.

        ``X``: a DataFrame (columns matched to the model's features by name), an
        array or list of rows in feature order, or a dict (one row, or columns).
        ``options``: the explain request's fields (``output``, ``outputs``,
        ``output_space``, ``seed``, ``n_samples``, ``group_by``, ``quality``, ...).
        Requests of several chunks with a sampling method: chunk ``c > 0`` is sent
        with a seed derived from ``seed`` and ``c``, so no two rows share draws;
        ``explanation.seed`` is the seed asked for. ``row_offset``: the index of
        ``X``'s first row in a larger table explained in parts (``explaind.dask``):
        requests are cut and seeded as the whole table's would be from the first
        multiple of ``max_rows`` on.

        # Errors
        ``ExplaindError`` with the server's code, its ``instance N`` made the
        row of ``X`` (not of the request it went in) and followed by the row's
        index label where ``X`` is a DataFrame whose label is another;
        ``ValueError`` when ``X``'s columns or width do not fit the model, or it
        holds an infinite value.
        """
        data, labels = frames.to_rows(X, self.model(name)["feature_names"])
        extra = dict(options)
        extra["method"] = method
        answers = self._batcher.run(f"/models/{name}/explain", data, extra, self._show(progress),
                                    reseed=True, offset=row_offset, labels=labels)
        exp = explanation.build(answers, data, self.use_shap)
        if "seed" in options:
            exp.seed = options["seed"]
        return exp

    def _show(self, progress: Optional[bool]) -> Optional[bool]:
        return self.progress if progress is None else progress

    # ---- global summaries

    def global_importance(self, name: str) -> pd.DataFrame:
        """``/models/{name}/global`` as a DataFrame indexed by feature, most important
        first (``importance`` is mean |SHAP| over the background); the whole answer is
        in ``df.attrs["response"]``.

        # Errors
        ``ExplaindError`` (422 for a model without background).
        """
        answer = self._json("GET", f"/models/{name}/global")
        df = pd.DataFrame(answer["features"]).set_index("name")
        df.attrs["response"] = answer
        return df

    def dependence(self, name: str, feature: str, **params: Any) -> Dict[str, Any]:
        """Partial dependence and ICE curves of one feature (``grid``, ``ice``,
        ``dataset``, ``output``, ``output_space``): the server's answer."""
        query = {k: v for k, v in params.items() if v is not None}
        query["feature"] = feature
        return cast(Dict[str, Any], self._json("GET", f"/models/{name}/global/dependence", params=query))

    # ---- data sets

    def datasets(self, name: str) -> List[Dict[str, Any]]:
        """The model's data sets (metadata, never rows)."""
        return cast(List[Dict[str, Any]], self._json("GET", f"/models/{name}/datasets")["datasets"])

    def register_dataset(self, name: str, dataset_id: str, X: Any, target: Any,
                         description: Optional[str] = None) -> Dict[str, Any]:
        """Store labelled rows for ``name`` (columns matched by name like ``explain``);
        ``target``: numbers for regressions, class names or indices for classifiers."""
        data = frames.to_matrix(X, self.model(name)["feature_names"])
        target_list = [t.item() if hasattr(t, "item") else t for t in list(target)]
        doc: Dict[str, Any] = {"rows": frames.rows_json_ready(data),
                               "target": target_list}
        if description is not None:
            doc["description"] = description
        return cast(Dict[str, Any], self._json("PUT", f"/models/{name}/datasets/{dataset_id}", doc))

    def dataset(self, name: str, dataset_id: str) -> Dict[str, Any]:
        """One data set's description."""
        return cast(Dict[str, Any], self._json("GET", f"/models/{name}/datasets/{dataset_id}"))

    def delete_dataset(self, name: str, dataset_id: str) -> None:
        """Remove a data set."""
        self._json("DELETE", f"/models/{name}/datasets/{dataset_id}")

    # ---- jobs

    def submit_job(self, name: str, kind: str, **fields: Any) -> Dict[str, Any]:
        """Queue a data-summary job (``permutation_importance``, ``dependence``,
        ``mean_abs_attribution``) and return it as queued (its ``id`` included)."""
        doc = {k: v for k, v in fields.items() if v is not None}
        doc["kind"] = kind
        return cast(Dict[str, Any], self._json("POST", f"/models/{name}/global/jobs", doc))

    def job(self, job_id: str, wait: bool = True, progress: Optional[bool] = None,
            poll_interval: float = 0.2, timeout: Optional[float] = None) -> Dict[str, Any]:
        """A job as ``GET /jobs/{id}`` shows it; with ``wait`` (the default) once it has
        finished, with a progress bar while it runs.

        # Errors
        ``ExplaindError`` ``job_failed`` (status 0) with the job's error when it
        failed; ``TimeoutError`` past ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with job_bar(job_id, self._show(progress) is not False) as bar:
            while True:
                view = cast(Dict[str, Any], self._json("GET", f"/jobs/{job_id}"))
                bar(float(view.get("progress") or 0.0))
                if not wait or view["state"] in ("succeeded", "failed"):
                    break
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"job {job_id} still {view['state']} after {timeout} s")
                time.sleep(poll_interval)
        if view["state"] == "failed":
            raise ExplaindError(0, "job_failed", str(view.get("error")), view)
        return view

    def run_job(self, name: str, kind: str, progress: Optional[bool] = None,
                timeout: Optional[float] = None, **fields: Any) -> Dict[str, Any]:
        """Submit a job and wait for it: its ``result`` once succeeded."""
        queued = self.submit_job(name, kind, **fields)
        return cast(Dict[str, Any], self.job(queued["id"], progress=progress, timeout=timeout)["result"])

    def jobs(self, name: str) -> List[Dict[str, Any]]:
        """A model's jobs still kept, newest first, without results."""
        return cast(List[Dict[str, Any]], self._json("GET", f"/models/{name}/global/jobs")["jobs"])
