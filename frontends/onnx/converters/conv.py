"""Conv (1-d and 2-d): pads, strides, dilations, group, auto_pad."""

from __future__ import annotations

import numpy as np

from plnet.errors import ShapeError
from plnet.frontends.onnx.converters.windows import geometry, spatial_input
from plnet.frontends.onnx.registry import converter
from plnet.ops import Conv


@converter("Conv")
def convert_conv(node):
    ctx = node.ctx
    x, spatial = spatial_input(node, "Conv")
    weight = np.asarray(node.const(1, "weight"), np.float64)
    if weight.ndim != len(spatial) + 2:
        raise node.error(f"weight of shape {list(weight.shape)} does not fit a "
                         f"{len(spatial)}-d convolution", ShapeError)
    kernel = node.ints("kernel_shape", list(weight.shape[2:]))
    if list(kernel) != list(weight.shape[2:]):
        raise node.error(f"kernel_shape {kernel} differs from the weight's "
                         f"{list(weight.shape[2:])}", ShapeError)
    strides, padding, dilations = geometry(node, spatial, kernel)
    bias = node.optional_const(2, "bias")
    op = Conv(weight=ctx.param(f"{node.name}.weight", weight),
              bias=None if bias is None else ctx.param(f"{node.name}.bias", bias),
              stride=strides, padding=padding, dilation=dilations,
              groups=int(node.attr("group", 1)))
    return ctx.emit(op, [x], node.name, x)
