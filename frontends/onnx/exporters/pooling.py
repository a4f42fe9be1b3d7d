"""MaxPool and AveragePool in the form onnxruntime accepts and infers shapes for.

ONNX's ceil_mode output size disagrees with torch's when the last window would start past
the left padding, and onnxruntime wants pads smaller than the kernel. So the windows are
written with ceil_mode=0 and end padding that yields exactly the IR's windows, padding
beyond kernel - 1 goes into an explicit Pad, and an average pool divides by the full kernel
and is rescaled to the IR's divisor.
"""

from __future__ import annotations

import numpy as np

from plnet.errors import UnsupportedOpError
from plnet.frontends.onnx.export_registry import exports
from plnet.ops import AvgPool, MaxPool
from plnet.ops.windows import output_length

#: AveragePool's ``dilations`` attribute appeared in opset 19.
AVERAGE_POOL_DILATION_OPSET = 19


def _window_pads(node, op, is_max: bool):
    """``(begins, ends, explicit)``: ONNX pads per axis and the padding left to a Pad."""
    begins, ends, explicit = [], [], []
    for length, k, s, (pb, pe), d in zip(node.in_shapes[0][1:], op.kernel, op.stride,
                                         op.padding, op.dilation):
        n_out = output_length(length, k, s, pb, pe, d, op.ceil_mode)
        end = max(0, (n_out - 1) * s + d * (k - 1) + 1 - length - pb)
        begin_onnx, end_onnx = min(pb, k - 1), min(end, k - 1)
        if is_max and d != 1 and (pb > begin_onnx or end > end_onnx):
            raise UnsupportedOpError(f"to_onnx: max pool {node.name!r} has padding >= its "
                                     f"kernel and a dilation; onnxruntime has no such pool")
        begins.append(begin_onnx)
        ends.append(end_onnx)
        explicit.append((pb - begin_onnx, end - end_onnx))
    return begins, ends, explicit


def _pool(ctx, node, op, is_max: bool):
    begins, ends, explicit = _window_pads(node, op, is_max)
    x, out = node.inputs[0], node.output
    if any(b or e for b, e in explicit):
        pads = [0, 0] + [b for b, _ in explicit] + [0, 0] + [e for _, e in explicit]
        # a max never picks a repeated edge value it would not pick anyway (dilation 1)
        x = ctx.pad(x, pads, f"{out}.pad", mode="edge" if is_max else "constant")
    attrs = dict(kernel_shape=list(op.kernel), strides=list(op.stride), pads=begins + ends,
                 ceil_mode=0)
    if any(d != 1 for d in op.dilation):
        attrs["dilations"] = list(op.dilation)
    if is_max:
        ctx.emit("MaxPool", [x], out, **attrs)
        return
    _, divisor = op.table(node.in_shapes[0])
    scale = float(np.prod(op.kernel)) / divisor
    pooled = f"{out}.sum" if not np.allclose(scale, 1.0, rtol=0, atol=0) else out
    ctx.emit("AveragePool", [x], pooled, count_include_pad=1, **attrs)
    if pooled != out:
        shape = (1,) + tuple(node.shape[1:])
        ctx.emit("Mul", [pooled, ctx.const(f"{node.name}.divisor", scale.reshape(shape))], out)


@exports(MaxPool)
def export_max_pool(ctx, node, op):
    _pool(ctx, node, op, is_max=True)


def _average_pool_opset(op) -> int:
    return AVERAGE_POOL_DILATION_OPSET if any(d != 1 for d in op.dilation) else 0


@exports(AvgPool, min_opset=_average_pool_opset)
def export_average_pool(ctx, node, op):
    _pool(ctx, node, op, is_max=False)
