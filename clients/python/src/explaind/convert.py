"""Registration documents from the models users hold.

Each converter returns ``(document, feature_names)``: the JSON body of
``PUT /models/{name}`` without background, and the feature names the model file
carries (``None`` when it carries none). Libraries are recognised by the module
their classes come from, so none of them is imported unless the model is theirs.

What explaind reads natively: ``linear`` and ``logistic`` (scikit-learn's linear
models), ``mlp`` (scikit-learn's MLPs, with a ``StandardScaler`` in front), and
either behind a chain of affine steps (scalers, PCA, TruncatedSVD), folded into
its weights so that it is explained per raw feature,
``xgboost`` (the JSON ``Booster.save_model`` writes), ``lightgbm`` (the model
text) and ``onnx`` (feed-forward networks). Other scikit-learn models and
pipelines are converted to ONNX with skl2onnx; CatBoost models are sent as
CatBoost's JSON export (``kind: "catboost"``). The server refuses what it cannot
read with 422 ``invalid_model``, which the client raises as ``ExplaindError``;
what cannot be converted for it (skl2onnx's failures, and a few pipelines the
server would refuse or misread) raises ``ConversionError``, naming the part.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from .errors import ConversionError

Document = Dict[str, Any]
Converted = Tuple[Document, Optional[List[str]]]

#: scikit-learn's activation names to explaind's.
_ACTIVATIONS = {"logistic": "sigmoid", "relu": "relu", "tanh": "tanh",
                "identity": "identity", "softmax": "softmax"}


def _module(model: Any) -> str:
    return type(model).__module__.split(".")[0]


def _names(values: Any) -> Optional[List[str]]:
    return None if values is None else [str(v) for v in values]


def to_document(model: Any, background: Any = None, pool: Any = None) -> Converted:
    """The registration document for ``model`` (see the module doc for what is read).

    A classifier's outputs are named by its ``classes_`` (scikit-learn, XGBoost,
    LightGBM and CatBoost estimators alike): a binary one's two labels, class 0
    first, so that its output takes the second and data sets its own labels."""
    doc, names = _document(model, background, pool)
    classes = getattr(model, "classes_", None)
    # (A CatBoostRegressor has an empty classes_.)
    if classes is not None and len(classes) > 0 and not isinstance(model, dict) and "output_names" not in doc:
        doc["output_names"] = [str(c) for c in classes]
    return doc, names


def _document(model: Any, background: Any = None, pool: Any = None) -> Converted:
    """``to_document`` before the class names.

    ``background`` (a DataFrame, or ``None``) tells what the export needs of the
    data: a CatBoost model with categorical features is saved with ``pool`` (the
    training ``catboost.Pool``, which maps CatBoost's category hashes back to the
    strings) or else a pool built from ``background``'s rows; a scikit-learn model
    fitted on a DataFrame with string columns is converted with one ONNX input per
    column (strings for those columns).

    # Errors
    ``TypeError`` for an object of no known kind; ``ImportError`` when the
    conversion needs an optional package (skl2onnx) that is not installed.
    """
    if isinstance(model, (str, os.PathLike)):
        return from_path(Path(model))
    if isinstance(model, (bytes, bytearray, memoryview)):
        return from_bytes(bytes(model))
    if isinstance(model, dict) and "kind" in model:
        return dict(model), model.get("feature_names")
    mod = _module(model)
    if mod == "xgboost":
        booster = model.get_booster() if hasattr(model, "get_booster") else model
        doc = {"kind": "xgboost", "model": json.loads(bytes(booster.save_raw("json")))}
        return doc, _names(booster.feature_names)
    if mod == "lightgbm":
        booster = model.booster_ if hasattr(model, "booster_") else model
        return {"kind": "lightgbm", "model": booster.model_to_string()}, _names(booster.feature_name())
    if mod == "catboost":
        return _catboost(model, background, pool)
    if mod == "onnx" and hasattr(model, "SerializeToString"):
        return _onnx(model.SerializeToString()), None
    if mod == "sklearn":
        return _sklearn(model, background)
    raise TypeError(f"cannot register a {type(model).__module__}.{type(model).__name__}")


def from_path(path: Path) -> Converted:
    """A saved model file: XGBoost JSON, LightGBM text, ONNX, CatBoost (``.cbm``) or
    a whole registration document (JSON with a ``kind``)."""
    if path.suffix == ".cbm":
        import catboost  # type: ignore[import-untyped, import-not-found, unused-ignore]

        model = catboost.CatBoost()
        model.load_model(str(path))
        return _catboost(model)
    return from_bytes(path.read_bytes())


def from_bytes(data: bytes) -> Converted:
    """A model file's bytes, its format told by its content."""
    head = data.lstrip()[:64]
    if head.startswith(b"{"):
        doc = json.loads(data)
        if "kind" in doc:
            return doc, doc.get("feature_names")
        if "learner" in doc:
            names = doc["learner"].get("feature_names") or None
            return {"kind": "xgboost", "model": doc}, names
        raise ValueError("a JSON model file must be XGBoost's (with 'learner') or a registration document (with 'kind')")
    if head.startswith(b"tree"):
        text = data.decode()
        names = None
        for line in text.splitlines():
            if line.startswith("feature_names="):
                names = line.split("=", 1)[1].split()
                break
        return {"kind": "lightgbm", "model": text}, names
    return _onnx(data), None


def _onnx(data: bytes) -> Document:
    return {"kind": "onnx", "model": base64.b64encode(data).decode("ascii")}


def _catboost(model: Any, background: Any = None, pool: Any = None) -> Converted:
    """CatBoost's JSON export; with categorical features saved with a pool (CatBoost
    refuses the JSON export of such a model without one)."""
    cats = list(model.get_cat_feature_indices()) if hasattr(model, "get_cat_feature_indices") else []
    if cats and pool is None:
        pool = _catboost_pool(background, cats)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.json")
        if pool is not None:
            model.save_model(path, format="json", pool=pool)
        else:
            model.save_model(path, format="json")
        with open(path) as f:
            doc = json.load(f)
    return {"kind": "catboost", "model": doc}, _names(getattr(model, "feature_names_", None))


def _catboost_pool(background: Any, cats: List[int]) -> Any:
    """A pool of ``background``'s rows (a DataFrame in the model's feature order)
    with the model's categorical columns as strings; rows missing a category are
    left out (CatBoost refuses them in a pool). Only the categories it holds keep
    their names in the export, so pass the training pool when it has more.

    # Errors
    ``ValueError`` when there is no DataFrame background to build it from.
    """
    import catboost
    import pandas as pd

    if not isinstance(background, pd.DataFrame):
        raise ValueError(
            "a CatBoost model with categorical features is exported with its category strings: "
            "pass pool= (the training catboost.Pool) or a DataFrame background")
    df = background.copy()
    names = [str(c) for c in df.columns]
    cat_names = [names[i] for i in cats]
    df.columns = names
    df = df.dropna(subset=cat_names)
    for c in cat_names:
        df[c] = df[c].astype(str)
    return catboost.Pool(df, cat_features=cats)


def _sklearn(model: Any, background: Any = None) -> Converted:
    names = _names(getattr(model, "feature_names_in_", None))
    cls = type(model).__name__
    if cls == "Pipeline":
        native = _scaled_pipeline(model)
        if native is not None:
            return native, names
    elif cls in ("MLPClassifier", "MLPRegressor"):
        return {"kind": "mlp", **_mlp(model, None)}, names
    elif _is_linear(model):
        return _linear(model, None), names
    strings = _string_columns(model, background)
    _refuse_unconvertible(model, strings)
    return _skl2onnx(model, strings, per_column=bool(strings) or _selects_by_name(model)), names


def _string_columns(model: Any, background: Any) -> List[str]:
    """The columns of the DataFrame ``model`` was fitted on that hold strings: by the
    background's dtypes when it is a DataFrame, else the columns of the fitted
    encoders whose categories are strings; ``[]`` for a model fitted on an array."""
    import numpy as np
    import pandas as pd

    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return []
    names = [str(n) for n in names]
    if isinstance(background, pd.DataFrame):
        return [str(c) for c, t in background.dtypes.items() if str(c) in names
                and not (pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t))]
    found: List[str] = []
    for ct in _column_transformers(model):
        for _, step, cols in getattr(ct, "transformers_", []):
            enc = step.steps[-1][1] if type(step).__name__ == "Pipeline" else step
            cats = getattr(enc, "categories_", None)
            if cats is None or isinstance(cols, slice) or isinstance(cols, str):
                continue
            col_names = [names[c] if isinstance(c, (int, np.integer)) else str(c) for c in cols]
            found += [c for c, cat in zip(col_names, cats) if np.asarray(cat).dtype.kind in "OUS"]
    return [n for n in names if n in found]


#: What the client registers, for the messages of models it cannot convert.
SUPPORTED = (
    "The client registers XGBoost, LightGBM and CatBoost models; scikit-learn linear and "
    "logistic models and MLPs, alone or behind scalers, PCA or TruncatedSVD; and other "
    "scikit-learn models and pipelines that skl2onnx converts into operators explaind reads "
    "(tree ensembles, ColumnTransformer with OneHotEncoder on string columns, ...); "
    "see 'What register accepts' in the client's README")


def _refuse_unconvertible(model: Any, strings: List[str]) -> None:
    """Refuse, before skl2onnx runs, what it would convert into a graph explaind
    refuses or misreads: a HistGradientBoosting model with native categorical
    features (skl2onnx writes its category splits as thresholds: predictions off
    with a numeric category column, a converter error with a string one), and a
    ColumnTransformer that drops a string column of the fitted frame (its ONNX
    input would be read by nothing, which explaind refuses).

    # Errors
    ``ConversionError`` naming the step and the columns."""
    import numpy as np

    for step in _steps(model):
        if type(step).__name__.startswith("HistGradientBoosting"):
            cats = getattr(step, "is_categorical_", None)
            if cats is not None and bool(np.any(cats)):
                names = _names(getattr(step, "feature_names_in_", None))
                which = [names[i] if names else str(i) for i in np.flatnonzero(cats)]
                raise ConversionError(
                    f"cannot convert {type(step).__name__} with native categorical features "
                    f"({which}): skl2onnx does not convert its category splits. Fit it with "
                    "categorical_features=None (one-hot or ordinal encode those columns in the "
                    f"pipeline), or use LightGBM or CatBoost. {SUPPORTED}", part=repr(step))
    first = model.steps[0][1] if type(model).__name__ == "Pipeline" else model
    names = _names(getattr(model, "feature_names_in_", None))
    if type(first).__name__ != "ColumnTransformer" or not names or not strings:
        return
    read = set()
    for _, step, cols in getattr(first, "transformers_", []):
        if not (isinstance(step, str) and step == "drop"):
            read.update(_column_names(cols, names))
    dropped = [c for c in strings if c not in read]
    if dropped:
        raise ConversionError(
            f"the ColumnTransformer drops the string column(s) {dropped} of the frame the "
            "model was fitted on, and explaind reads every column a model is registered with: "
            f"fit the pipeline on the columns it uses (X.drop(columns={dropped})). {SUPPORTED}",
            part=repr(first))


def _steps(model: Any) -> List[Any]:
    """``model`` and every estimator inside it (pipeline steps, ColumnTransformer parts)."""
    out = [model]
    if type(model).__name__ == "Pipeline":
        for _, step in model.steps:
            out += _steps(step)
    elif type(model).__name__ == "ColumnTransformer":
        for _, step, _ in getattr(model, "transformers_", []):
            if not isinstance(step, str):
                out += _steps(step)
    return out


def _column_names(cols: Any, names: List[str]) -> List[str]:
    """A ColumnTransformer's column selection (a name, names, indices, a slice or a
    boolean mask) as names of the fitted frame's columns."""
    import numpy as np

    if isinstance(cols, str):
        return [cols]
    if isinstance(cols, slice):
        return names[cols]
    picked = list(np.asarray(cols).reshape(-1)) if not callable(cols) else []
    if picked and all(isinstance(c, (bool, np.bool_)) for c in picked):
        return [n for n, keep in zip(names, picked) if keep]
    return [names[int(c)] if isinstance(c, (int, np.integer)) else str(c) for c in picked]


def _selects_by_name(model: Any) -> bool:
    """Whether a ColumnTransformer of ``model`` picks columns by name, which skl2onnx
    converts only with one input per column (even when every column is numeric)."""
    for ct in _column_transformers(model):
        for _, _, cols in getattr(ct, "transformers_", []):
            if isinstance(cols, str):
                return True
            if isinstance(cols, (list, tuple)) and any(isinstance(c, str) for c in cols):
                return True
    return False


def _column_transformers(model: Any) -> List[Any]:
    if type(model).__name__ == "ColumnTransformer":
        return [model]
    if type(model).__name__ == "Pipeline":
        return [t for _, step in model.steps for t in _column_transformers(step)]
    return []


def _is_linear(model: Any) -> bool:
    """A linear regression, or a logistic regression (whose probabilities explaind
    reproduces); other linear classifiers (ridge, SGD hinge) go through ONNX."""
    if not type(model).__module__.startswith("sklearn.linear_model") or not hasattr(model, "coef_"):
        return False
    return not hasattr(model, "classes_") or type(model).__name__ in ("LogisticRegression", "LogisticRegressionCV")


def _linear(model: Any, scaler: Any) -> Document:
    """scikit-learn's linear model; a StandardScaler before it is folded into the
    weights (w/scale, b − Σ w·mean/scale), which leaves every Shapley value as it is."""
    import numpy as np

    coef = np.atleast_1d(np.asarray(model.coef_, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64))
    if scaler is not None:
        mean = np.asarray(scaler.mean_ if scaler.with_mean else np.zeros(coef.shape[-1]))
        scale = np.asarray(scaler.scale_ if scaler.with_std else np.ones(coef.shape[-1]))
        coef = coef / scale
        intercept = intercept - (coef * mean).sum(axis=-1)
    if hasattr(model, "classes_"):
        params = {"coefficients": np.atleast_2d(coef).tolist(), "intercept": intercept.tolist(),
                  "classes": [str(c) for c in model.classes_]}
        return {"kind": "logistic", "params": params}
    if coef.ndim == 1:
        return {"kind": "linear", "params": {"coefficients": coef.tolist(), "intercept": float(intercept[0])}}
    return {"kind": "linear", "params": {"coefficients": coef.tolist(), "intercept": intercept.tolist()}}


def _mlp(model: Any, scaler: Any) -> Document:
    """scikit-learn's MLP in explaind's ``mlp`` params (weights fan_in × fan_out)."""
    n = len(model.coefs_)
    layers = [{"weights": w.tolist(), "bias": b.tolist(),
               "activation": _ACTIVATIONS[model.out_activation_ if i == n - 1 else model.activation]}
              for i, (w, b) in enumerate(zip(model.coefs_, model.intercepts_))]
    params: Document = {"layers": layers}
    if scaler is not None:
        params["scaler"] = {"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist()}
    doc: Document = {"params": params}
    if hasattr(model, "classes_"):
        # A binary MLP has one sigmoid unit, P(classes[1]): both names, class 0
        # first, name its output and its other class.
        doc["output_names"] = [str(c) for c in model.classes_]
    return doc


def _scaled_pipeline(pipe: Any) -> Optional[Document]:
    """Pipelines read natively: ``[StandardScaler,] MLP`` or ``[StandardScaler,]
    linear model``, and any chain of affine steps (``_affine``: scalers, PCA,
    TruncatedSVD) before a linear model or an MLP, folded into its weights (the
    model is then the same function of the raw features, explained per raw
    feature); ``None`` for any other pipeline."""
    steps = [s for _, s in pipe.steps if s is not None and s != "passthrough"]
    scaler = None
    if len(steps) == 2 and type(steps[0]).__name__ == "StandardScaler":
        scaler = steps[0]
        steps = steps[1:]
    if len(steps) != 1:
        return _folded_pipeline(steps if scaler is None else [scaler] + steps)
    last = steps[0]
    if type(last).__name__ in ("MLPClassifier", "MLPRegressor"):
        if scaler is not None and not (scaler.with_mean and scaler.with_std):
            return _folded_pipeline([scaler, last])
        return {"kind": "mlp", **_mlp(last, scaler)}
    if _is_linear(last):
        return _linear(last, scaler)
    return None


def _affine(step: Any) -> Optional[Tuple[Any, Any]]:
    """``(A, c)`` with ``step.transform(x) == x @ A + c`` for scikit-learn's affine
    transformers (StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler, PCA,
    TruncatedSVD), read from their fitted attributes; ``None`` for any other step."""
    import numpy as np

    name = type(step).__name__
    width = int(getattr(step, "n_features_in_", 0))
    if name == "StandardScaler":
        mean = step.mean_ if step.with_mean else np.zeros(width)
        scale = step.scale_ if step.with_std else np.ones(width)
        return np.diag(1.0 / scale), -mean / scale
    if name == "MinMaxScaler" and not getattr(step, "clip", False):
        return np.diag(step.scale_), step.min_
    if name == "MaxAbsScaler":
        return np.diag(1.0 / step.scale_), np.zeros(width)
    if name == "RobustScaler":
        center = step.center_ if step.with_centering else np.zeros(width)
        scale = step.scale_ if step.with_scaling else np.ones(width)
        return np.diag(1.0 / scale), -center / scale
    if name == "PCA":
        a = step.components_.T
        if step.whiten:
            a = a / np.sqrt(step.explained_variance_)
        return a, -step.mean_ @ a
    if name == "TruncatedSVD":
        return step.components_.T, np.zeros(step.components_.shape[0])
    return None


def _folded_pipeline(steps: List[Any]) -> Optional[Document]:
    """Affine steps then a linear model or an MLP as one linear model or MLP of the
    raw features: ``x @ A + c`` composed step by step, then ``(x @ A + c) @ W + b =
    x @ (A W) + (c W + b)`` for the head's weights (the MLP's first layer)."""
    import numpy as np

    *front, last = steps
    folds = [_affine(s) for s in front]
    if not front or any(f is None for f in folds):
        return None
    a = np.eye(int(front[0].n_features_in_))
    c = np.zeros(a.shape[0])
    for step_a, step_c in (f for f in folds if f is not None):
        a, c = a @ step_a, c @ step_a + step_c
    if type(last).__name__ in ("MLPClassifier", "MLPRegressor"):
        doc = _mlp(last, None)
        first = doc["params"]["layers"][0]
        w = np.asarray(first["weights"], dtype=np.float64)
        first["weights"] = (a @ w).tolist()
        first["bias"] = (c @ w + np.asarray(first["bias"], dtype=np.float64)).tolist()
        return {"kind": "mlp", **doc}
    if not _is_linear(last):
        return None
    coef = np.atleast_2d(np.asarray(last.coef_, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(last.intercept_, dtype=np.float64))
    folded = type(last)()
    folded.coef_ = (coef @ a.T).reshape(np.shape(last.coef_)[:-1] + (a.shape[0],))
    folded.intercept_ = intercept + coef @ c
    if np.ndim(last.intercept_) == 0:
        folded.intercept_ = float(folded.intercept_[0])
    if hasattr(last, "classes_"):
        folded.classes_ = last.classes_
    return _linear(folded, None)


def _skl2onnx(model: Any, strings: Optional[List[str]] = None, per_column: bool = False) -> Document:
    """skl2onnx's graph of ``model``: one float input of all features, or, with
    ``per_column`` (columns holding strings, or a ColumnTransformer that picks
    columns by name), one input per DataFrame column (``[None, 1]``, strings for
    those ``strings`` names, floats for the others), which explaind registers as
    raw features."""
    try:
        from skl2onnx import convert_sklearn  # type: ignore[import-untyped, import-not-found, unused-ignore]
        from skl2onnx.common.data_types import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
            FloatTensorType, StringTensorType)
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"registering a {type(model).__name__} needs skl2onnx: pip install 'explaind[onnx]'"
        ) from e
    width = int(model.n_features_in_)
    last = model.steps[-1][1] if type(model).__name__ == "Pipeline" else model
    # Probabilities as a plain tensor: explaind converts that one, not a ZipMap.
    options = {id(last): {"zipmap": False}} if hasattr(last, "classes_") else None
    # A float input: ONNX-ML tree ensembles are defined on float tensors (onnxruntime
    # refuses the file skl2onnx writes for a double input), and explaind compares in
    # float32 as onnxruntime does.
    types = [("input", FloatTensorType([None, width]))]
    if per_column:
        strings = strings or []
        types = [(str(c), StringTensorType([None, 1]) if str(c) in strings else FloatTensorType([None, 1]))
                 for c in model.feature_names_in_]
    try:
        with _int_flags():
            onx = convert_sklearn(model, initial_types=types, options=options)
    except Exception as e:
        part = _failed_part(e) or model
        raise ConversionError(
            f"skl2onnx could not convert {_describe(part, model)}: {type(e).__name__}: "
            f"{str(e).strip()[:400].rstrip('.')}. {SUPPORTED}", part=repr(part)) from e
    return _onnx(onx.SerializeToString())


def _failed_part(error: BaseException) -> Any:
    """The scikit-learn object skl2onnx was converting when it raised ``error``: the
    ``raw_operator`` of the innermost frame with an ``operator`` (its converters and
    shape calculators take one); ``None`` where no frame has one."""
    part = None
    tb = error.__traceback__
    while tb is not None:
        op = tb.tb_frame.f_locals.get("operator")
        raw = getattr(op, "raw_operator", None)
        if raw is not None:
            part = raw
        tb = tb.tb_next
    return part


def _describe(part: Any, model: Any) -> str:
    """``part`` as named in a message: its repr, and the model it is a step of."""
    text = " ".join(repr(part).split())
    if len(text) > 200:
        text = type(part).__name__
    if part is model:
        return f"the {type(model).__name__} ({text})"
    return f"the step {text} of the {type(model).__name__}"


@contextlib.contextmanager
def _int_flags() -> Iterator[None]:
    """While skl2onnx converts: integer attributes given as a mix of ints and bools
    become ints. skl2onnx's converter of scikit-learn's HistGradientBoosting models
    writes ``nodes_missing_value_tracks_true`` as numpy ``uint8`` flags for splits
    and Python ``False`` for leaves, which the protobuf runtime of current onnx
    releases refuses ("Expected an int, got a boolean"). Only that mix is changed;
    ``onnx.helper.make_attribute`` is restored afterwards."""
    import numpy as np
    import onnx.helper  # type: ignore[import-untyped, import-not-found, unused-ignore]

    original = onnx.helper.make_attribute

    def make_attribute(key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, list) and any(isinstance(v, bool) for v in value) \
                and all(isinstance(v, (bool, int, np.integer)) for v in value):
            value = [int(v) for v in value]
        return original(key, value, *args, **kwargs)

    onnx.helper.make_attribute = make_attribute
    try:
        yield
    finally:
        onnx.helper.make_attribute = original
