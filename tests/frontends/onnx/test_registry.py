"""The converter registry is well formed and documented."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from plnet.frontends.onnx import registry, supported_ops

README = Path(__file__).resolve().parents[3] / "frontends" / "onnx" / "README.md"


def test_every_converter_is_named_after_its_op_and_ranges_do_not_overlap():
    ops = supported_ops()
    assert ops
    for op_type, entries in registry.REGISTRY.items():
        spans = sorted((e.first, e.last if e.last is not None else 10**9) for e in entries)
        for (a_first, a_last), (b_first, _) in zip(spans, spans[1:]):
            assert a_last < b_first, op_type
        for entry in entries:
            assert entry.function.__name__.startswith("convert_")
            assert entry.function.__name__ != "convert_"
            assert entry.function.__module__.startswith("plnet.frontends.onnx.converters.")


def test_every_registered_op_is_a_real_onnx_op_and_listed_in_the_readme():
    text = README.read_text()
    for op_type in supported_ops():
        assert onnx.defs.has(op_type), op_type
        assert op_type in text, f"{op_type} missing from frontends/onnx/README.md"


def test_non_piecewise_linear_ops_are_not_also_converted():
    assert not set(registry.NOT_PIECEWISE_LINEAR) & set(supported_ops())


def test_registering_an_overlapping_or_badly_named_converter_fails():
    with pytest.raises(ValueError, match="overlap"):
        @registry.converter("Relu", opsets=(7, 8))
        def convert_relu_again(node):  # pragma: no cover - never called
            return None
    with pytest.raises(ValueError, match="convert_"):
        @registry.converter("NewOp")
        def _(node):  # pragma: no cover - never called
            return None
