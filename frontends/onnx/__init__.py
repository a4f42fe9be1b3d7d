"""The ONNX frontend: ``from_onnx`` loads a model into the IR, ``to_onnx`` exports one.

Converters live in :mod:`plnet.frontends.onnx.converters`, registered by op type and opset
range; exporters in :mod:`plnet.frontends.onnx.exporters`, registered by IR op class (see
``frontends/onnx/README.md``). ``import plnet.frontends.onnx`` does not import
onnx or onnxruntime; they load when a model is read or written.
"""

from __future__ import annotations

from plnet.frontends.onnx.export import to_onnx
from plnet.frontends.onnx.export_registry import exports
from plnet.frontends.onnx.loader import from_onnx
from plnet.frontends.onnx.registry import converter, supported_ops

__all__ = ["converter", "exports", "from_onnx", "supported_ops", "to_onnx"]
