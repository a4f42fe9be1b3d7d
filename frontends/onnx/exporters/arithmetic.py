"""ScaleShift as Mul/Add and the n-ary Add as Add/Sum."""

from __future__ import annotations

from plnet.frontends.onnx.export_registry import exports
from plnet.ops import Add, ScaleShift


@exports(ScaleShift)
def export_scale_shift(ctx, node, op):
    """``x * scale + shift``; an op with neither is an Identity."""
    y, out = node.inputs[0], node.output
    if op.scale is not None:
        y = ctx.emit("Mul", [y, ctx.param(op.scale)], out if op.shift is None else f"{out}.mul")
    if op.shift is not None:
        y = ctx.emit("Add", [y, ctx.param(op.shift)], out)
    if y != out:
        ctx.emit("Identity", [y], out)


@exports(Add)
def export_add(ctx, node, op):
    count = len(node.inputs)
    ctx.emit("Sum" if count > 2 else ("Add" if count == 2 else "Identity"), node.inputs,
             node.output)
