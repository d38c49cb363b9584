"""Models given as files, bytes or ONNX objects, checked against the outputs the
fixtures' generators recorded (onnxruntime's for ONNX, the library's for trees)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from conftest import FIXTURES
from explaind import Client


def onnx_case(name: str) -> Any:
    return json.loads((FIXTURES / "onnx" / f"{name}.json").read_text())


@pytest.mark.parametrize("how", ["path", "str", "bytes"])
@pytest.mark.parametrize("name", ["sk_regressor", "sk_classifier", "torch_f64"])
def test_onnx_file_forms(client: Client, name: str, how: str) -> None:
    path = FIXTURES / "onnx" / f"{name}.onnx"
    model: Any = {"path": lambda: path, "str": lambda: str(path), "bytes": path.read_bytes}[how]()
    case = onnx_case(name)
    info = client.register(f"py-onnx-{name}-{how}".replace("_", "-"), model)
    assert info["kind"] == "mlp"  # explaind hosts an ONNX network as an mlp
    got = client.predict(info["name"], case["inputs"])
    np.testing.assert_allclose(got, np.asarray(case["outputs"]).reshape(got.shape), rtol=1e-6, atol=1e-9)
    client.delete(info["name"])


def test_onnx_model_proto(client: Client) -> None:
    onnx = pytest.importorskip("onnx")
    proto = onnx.load(str(FIXTURES / "onnx" / "sk_regressor.onnx"))
    case = onnx_case("sk_regressor")
    info = client.register("py-onnx-proto", proto, feature_names=[f"v{i}" for i in range(10)])
    assert info["feature_names"] == [f"v{i}" for i in range(10)]
    got = client.predict("py-onnx-proto", case["inputs"])
    np.testing.assert_allclose(got[:, 0], np.asarray(case["outputs"])[:, 0], rtol=1e-6)


@pytest.mark.parametrize("reader", [lambda p: p, lambda p: p.read_bytes()], ids=["path", "bytes"])
@pytest.mark.parametrize("model", ["xgb_reg.json", "lgb_reg.txt"])
def test_tree_files_as_path_or_bytes(client: Client, model: str, reader: Callable[[Path], Any]) -> None:
    path = FIXTURES / "trees" / model
    case = json.loads(path.with_name(model.split(".")[0] + ".case.json").read_text())
    info = client.register("py-file-" + model.split(".")[0].replace("_", "-"), reader(path))
    assert info["kind"] == case["kind"]
    got = client.predict(info["name"], case["rows"], output_space="raw")
    rtol = 1e-5 if case["kind"] == "xgboost" else 1e-9
    np.testing.assert_allclose(got, case["raw"], rtol=rtol, atol=rtol * np.abs(case["raw"]).max())


def test_registration_document_as_dict(client: Client) -> None:
    doc = json.loads((FIXTURES / "linear" / "iris_multinomial.json").read_text())["spec"]
    info = client.register("py-doc", doc, description="iris, from its document")
    assert info["kind"] == "logistic" and info["description"] == "iris, from its document"
    assert info["background_rows"] == len(doc["background"])


def test_unknown_object_is_a_type_error(client: Client) -> None:
    with pytest.raises(TypeError, match="cannot register"):
        client.register("py-nothing", object())
