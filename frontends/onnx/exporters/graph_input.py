"""The network input: the ONNX graph input itself, written by ``to_onnx``."""

from __future__ import annotations

from plnet.frontends.onnx.export_registry import exports
from plnet.ops import Input


@exports(Input)
def export_input(ctx, node, op):
    """Nothing to write: the graph input carries the input node's name."""
