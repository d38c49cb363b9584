"""Explain answers as ``shap.Explanation`` objects (or a small stand-in without shap).

One row per instance. With one output per row (the default: the only output, or
each row's predicted class) ``values`` is (rows × features) and ``base_values``
(rows,); with ``outputs="all"`` or ``"top:K"`` they are (rows × features × K) and
(rows × K), shap's layout for several outputs, and ``output_names`` names the K.
Besides shap's fields, the object carries the server's numbers that shap has no
field for: ``quality`` (each explanation's quality block), ``predictions``,
``method``, ``seed``, ``model_version``, ``output_space`` and ``outputs`` (the
output each row explains). Standard errors of sampling methods are shap's
``error_std``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Union, cast

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


class Explanation:
    """The fields of ``shap.Explanation`` that explaind fills, for use without shap.

    Indexing with a row number (``e[0]``) or a slice gives the explanation of those
    rows, as shap's does.
    """

    def __init__(
        self,
        values: Array,
        base_values: Array,
        data: Optional[npt.NDArray[Any]],
        feature_names: List[str],
        output_names: Optional[Union[str, List[str], List[List[str]]]] = None,
        error_std: Optional[Array] = None,
    ) -> None:
        #: Attributions: (rows × features) or (rows × features × outputs).
        self.values = values
        #: Where the attributions start: (rows,) or (rows × outputs).
        self.base_values = base_values
        #: The rows explained, in feature order (an object array when some are strings).
        self.data = data
        #: Feature (or group) names, aligned with the attributions.
        self.feature_names = feature_names
        #: The outputs explained, where the answer names them.
        self.output_names = output_names
        #: Standard errors of the attributions (sampling methods), same shape as values.
        self.error_std = error_std

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``values``."""
        return tuple(self.values.shape)

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def __getitem__(self, item: Union[int, slice]) -> "Explanation":
        def pick(a: Optional[Array]) -> Optional[Array]:
            return None if a is None else a[item]

        names = self.output_names
        if isinstance(names, list) and names and isinstance(names[0], list):
            names = cast(Any, names)[item]
        return Explanation(self.values[item], self.base_values[item],
                           pick(self.data), self.feature_names, names, pick(self.error_std))

    def __repr__(self) -> str:
        return f"explaind.Explanation(shape={self.shape}, feature_names={self.feature_names})"


def build(answers: Sequence[Dict[str, Any]], data: npt.NDArray[Any], use_shap: Optional[bool] = None) -> Any:
    """One explanation object from the answers of consecutive chunks of rows.

    ``use_shap``: ``None`` uses shap when it imports, ``False`` never does.
    """
    first = answers[0]
    feature_names = [str(f) for f in first["feature_names"]]
    items = [e for a in answers for e in a["explanations"]]
    n = data.shape[0]
    per_row = len(items) // n if n else 1
    several = any(e.get("instance") is not None for e in items)
    values = np.asarray([e["attributions"] for e in items], dtype=np.float64).reshape(n, per_row, -1)
    base = np.asarray([e["base_value"] for e in items], dtype=np.float64).reshape(n, per_row)
    preds = np.asarray([e["prediction"] for e in items], dtype=np.float64).reshape(n, per_row)
    outputs = [str(e["output"]) for e in items]
    quality: List[Any] = [e["quality"] for e in items]
    errs = [e["quality"].get("standard_errors") for e in items]
    error_std = (np.asarray(errs, dtype=np.float64).reshape(values.shape)
                 if items and all(s is not None for s in errs) else None)
    inter = [e.get("interactions") for e in items]
    interactions = (np.asarray(inter, dtype=np.float64) if items and all(i is not None for i in inter)
                    else None)
    output_names: Optional[Union[str, List[str], List[List[str]]]]
    if several:
        values = values.transpose(0, 2, 1)
        error_std = None if error_std is None else error_std.transpose(0, 2, 1)
        by_row = [outputs[i * per_row:(i + 1) * per_row] for i in range(n)]
        quality = [quality[i * per_row:(i + 1) * per_row] for i in range(n)]
        output_names = by_row[0] if all(r == by_row[0] for r in by_row) else by_row
        row_outputs: List[Any] = by_row
    else:
        values, base, preds = values[:, 0, :], base[:, 0], preds[:, 0]
        error_std = None if error_std is None else error_std[:, 0, :]
        same = all(o == outputs[0] for o in outputs)
        output_names = outputs[0] if outputs and same and first.get("output") is not None else None
        row_outputs = outputs
    # Grouped answers attribute to groups: the per-feature rows no longer align.
    shown = data if data.ndim == 2 and data.shape[1] == len(feature_names) else None
    exp = _construct(values, base, shown, feature_names, output_names, error_std, use_shap)
    extras = {
        "quality": quality, "predictions": preds, "outputs": row_outputs,
        "method": first.get("method"), "seed": first.get("seed"), "note": first.get("note"),
        "model_version": first.get("version"), "output_space": first.get("output_space"),
        "interactions": interactions,
    }
    for key, value in extras.items():
        setattr(exp, key, value)
    return exp


def _construct(values: Array, base: Array, data: Optional[npt.NDArray[Any]], feature_names: List[str],
               output_names: Optional[Union[str, List[str], List[List[str]]]],
               error_std: Optional[Array], use_shap: Optional[bool]) -> Any:
    if use_shap is not False:
        try:
            import shap  # type: ignore[import-untyped, import-not-found, unused-ignore]
        except ImportError:
            if use_shap:
                raise
        else:
            names: Any = output_names
            if isinstance(names, list) and names and isinstance(names[0], list):
                # Rows that rank their outputs differently (``top:K``): shap's slicer
                # indexes a (rows × K) array of names with the values, not a list of
                # lists, so ``e[0]`` and ``e[:, :, 0]`` keep working. With as many
                # rows as features shap would read that array as (features × K):
                # no names then (each row's are in ``outputs``).
                names = np.array(names, dtype=object) if values.shape[0] != values.shape[1] else None
            return shap.Explanation(values, base_values=base, data=data, feature_names=feature_names,
                                    output_names=names, error_std=error_std)
    return Explanation(values, base, data, feature_names, output_names, error_std)
