"""ReLU, LeakyReLU and PReLU."""

from __future__ import annotations

from plnet.frontends.onnx.export_registry import exports
from plnet.ops import LeakyReLU, PReLU, ReLU


@exports(ReLU)
def export_relu(ctx, node, op):
    ctx.emit("Relu", node.inputs, node.output)


@exports(LeakyReLU)
def export_leaky_relu(ctx, node, op):
    ctx.emit("LeakyRelu", node.inputs, node.output, alpha=float(op.alpha))


@exports(PReLU)
def export_prelu(ctx, node, op):
    """The slope initializer broadcasts against ``[N, *shape]`` as against the per-sample
    shape: it has at most the sample's rank and is right-aligned (ONNX PRelu, opset 7+)."""
    ctx.emit("PRelu", [node.inputs[0], ctx.param(op.slope)], node.output)
