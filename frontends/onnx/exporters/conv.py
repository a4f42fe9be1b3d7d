"""Conv (1-d and 2-d) with explicit pads."""

from __future__ import annotations

from plnet.frontends.onnx.export_registry import exports
from plnet.ops import Conv


@exports(Conv)
def export_conv(ctx, node, op):
    inputs = [node.inputs[0], ctx.param(op.weight)]
    if op.bias is not None:
        inputs.append(ctx.param(op.bias))
    ctx.emit("Conv", inputs, node.output, strides=list(op.stride),
             dilations=list(op.dilation), group=op.groups,
             pads=[b for b, _ in op.padding] + [e for _, e in op.padding],
             kernel_shape=list(ctx.net.params[op.weight].shape[2:]))
