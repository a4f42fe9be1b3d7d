"""The exporter registry is well formed, complete over the IR's ops, and documented."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import plnet
from plnet.frontends.onnx import export_registry
from plnet.ops import OP_REGISTRY, ReLU

README = Path(__file__).resolve().parents[3] / "frontends" / "onnx" / "README.md"


@pytest.fixture(scope="module")
def exporters():
    export_registry.load_exporters()
    return dict(export_registry.EXPORTERS)


def test_every_exporter_exports_a_registered_ir_op(exporters):
    assert exporters
    for cls, function in exporters.items():
        assert OP_REGISTRY.get(cls.type_name) is cls, cls
        assert function.__name__.startswith("export_") and function.__name__ != "export_"
        assert function.__module__.startswith("plnet.frontends.onnx.exporters.")


def test_every_ir_op_type_has_an_exporter(exporters):
    without = sorted(name for name, cls in OP_REGISTRY.items() if cls not in exporters)
    assert without == [], f"IR op types without an ONNX exporter: {without}"


def test_every_exporter_is_listed_in_the_readme(exporters):
    text = README.read_text()
    for cls, function in exporters.items():
        assert f"`{function.__name__}`" in text, function.__name__


def test_an_op_without_exporter_is_a_clear_error(exporters, monkeypatch):
    monkeypatch.delitem(export_registry.EXPORTERS, ReLU)
    b = plnet.NetworkBuilder((3,))
    net = b.build(b.relu(b.dense(b.input, np.ones((2, 3))), name="act"))
    with pytest.raises(plnet.UnsupportedOpError, match="'act' has op type 'relu'.*no ONNX "
                                                        "exporter.*frontends/onnx/exporters"):
        plnet.to_onnx(net)


def test_registering_a_second_or_badly_named_exporter_fails(exporters):
    with pytest.raises(ValueError, match="two exporters for relu"):
        @export_registry.exports(ReLU)
        def export_relu_again(ctx, node, op):  # pragma: no cover - never called
            return None
    with pytest.raises(ValueError, match="export_<op>"):
        @export_registry.exports(ReLU)
        def write_relu(ctx, node, op):  # pragma: no cover - never called
            return None
    assert export_registry.EXPORTERS[ReLU].__name__ == "export_relu"
