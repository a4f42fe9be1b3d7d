"""ReLU and LeakyReLU."""

from __future__ import annotations

from plnet.frontends.onnx.export_registry import exports
from plnet.ops import LeakyReLU, ReLU


@exports(ReLU)
def export_relu(ctx, node, op):
    ctx.emit("Relu", node.inputs, node.output)


@exports(LeakyReLU)
def export_leaky_relu(ctx, node, op):
    ctx.emit("LeakyRelu", node.inputs, node.output, alpha=float(op.alpha))
