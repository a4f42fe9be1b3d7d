"""Split: consecutive slices of one axis, one per output.

The sizes are the ``split`` attribute up to opset 12 and an input from opset 13; without
them the axis is split equally among the outputs, and from opset 18 ``num_outputs`` splits
it into chunks of ``ceil(n / num_outputs)`` (the last one smaller), like ``torch.chunk``.
"""

from __future__ import annotations

import math

import numpy as np

from plnet.errors import ShapeError
from plnet.frontends.onnx.registry import converter
from plnet.ops import Slice


def _split(node, sizes):
    ctx = node.ctx
    x = node.tensor(0)
    axis = node.axis(x, int(node.attr("axis", 0)))
    x, sample_axis = node.sample_axis(x, axis, "a Split of the batch axis")
    length = ctx.shape(x)[sample_axis]
    outputs = len(node.proto.output)
    if sizes is None:
        count = node.attr("num_outputs")
        if count is not None:
            if int(count) != outputs:
                raise node.error(f"num_outputs={count} but the node has {outputs} outputs",
                                 ShapeError)
            chunk = math.ceil(length / outputs)
            sizes = [min(chunk, length - i * chunk) for i in range(outputs)]
        elif length % outputs:
            raise node.error(f"an axis of length {length} does not split equally into "
                             f"{outputs} outputs; give the sizes (split)", ShapeError)
        else:
            sizes = [length // outputs] * outputs
    sizes = [int(s) for s in sizes]
    if len(sizes) != outputs or sum(sizes) != length or min(sizes) < 0:
        raise node.error(f"split sizes {sizes} must be {outputs} non-negative sizes adding up "
                         f"to the axis length {length}", ShapeError)
    if 0 in sizes:
        raise node.error(f"split sizes {sizes} make an empty output; plnet does not "
                         f"represent empty tensors", ShapeError)
    starts = np.cumsum([0] + sizes)
    if outputs == 1:
        return [x]
    return [ctx.emit(Slice(axis=sample_axis, start=int(a), stop=int(b)), [x],
                     f"{node.name}.{i}", x) for i, (a, b) in enumerate(zip(starts, starts[1:]))]


@converter("Split", opsets=(1, 12))
def convert_split_attribute(node):
    if node.has_input(1):  # opset 1's optional split input
        return _split(node, np.asarray(node.const(1, "split")).ravel().tolist())
    return _split(node, node.ints("split"))


@converter("Split", opsets=(13, None))
def convert_split(node):
    sizes = node.optional_const(1, "split")
    return _split(node, None if sizes is None else np.asarray(sizes).ravel().tolist())
