"""The linear views: Flatten, Reshape, Transpose, Slice, Take (Gather), Concat, Pad.

IR attributes are per sample; ONNX axes count the batch axis in front, hence the ``+ 1``.
"""

from __future__ import annotations

import numpy as np

from plnet.frontends.onnx.export_registry import exports
from plnet.ops import Concat, Flatten, Pad, Reshape, Slice, Take, Transpose


def _ints(ctx, values) -> str:
    values = [int(v) for v in values]
    return ctx.const(f"i64{values}", values, np.int64)


@exports(Flatten)
def export_flatten(ctx, node, op):
    ctx.emit("Flatten", node.inputs, node.output, axis=1)


@exports(Reshape)
def export_reshape(ctx, node, op):
    ctx.emit("Reshape", [node.inputs[0], _ints(ctx, [-1, *op.shape])], node.output)


@exports(Transpose)
def export_transpose(ctx, node, op):
    ctx.emit("Transpose", node.inputs, node.output, perm=[0] + [a + 1 for a in op.perm])


@exports(Slice)
def export_slice(ctx, node, op):
    axis = op.axis % len(node.in_shapes[0]) + 1
    ctx.emit("Slice", [node.inputs[0]] + [_ints(ctx, [v]) for v in
                                          (op.start, op.stop, axis, op.step)], node.output)


@exports(Take)
def export_take(ctx, node, op):
    """Gather with 1-d indices keeps the axis; a scalar index (keepdim=False) drops it."""
    axis = op.axis % len(node.in_shapes[0]) + 1
    if op.keepdim:
        indices = _ints(ctx, op.indices)
    else:
        indices = ctx.const(f"i64:{op.indices[0]}", int(op.indices[0]), np.int64)
    ctx.emit("Gather", [node.inputs[0], indices], node.output, axis=axis)


@exports(Concat)
def export_concat(ctx, node, op):
    ctx.emit("Concat", node.inputs, node.output, axis=op.axis % len(node.shape) + 1)


@exports(Pad)
def export_pad(ctx, node, op):
    pads = [0] + [b for b, _ in op.pads] + [0] + [e for _, e in op.pads]
    ctx.pad(node.inputs[0], pads, node.output)
