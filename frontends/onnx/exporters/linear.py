"""Dense as MatMul (+ Add)."""

from __future__ import annotations

from plnet.frontends.onnx.export_registry import exports
from plnet.ops import Dense


@exports(Dense)
def export_dense(ctx, node, op):
    """``x W^T + b``: MatMul with the stored transpose of W, then Add of the bias."""
    weight = ctx.const(f"{op.weight}.T", ctx.net.params[op.weight].T)
    out = node.output
    y = ctx.emit("MatMul", [node.inputs[0], weight], out if op.bias is None else f"{out}.matmul")
    if op.bias is not None:
        ctx.emit("Add", [y, ctx.param(op.bias)], out)
