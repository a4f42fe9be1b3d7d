"""Conv and ConvTranspose (1-d and 2-d): pads, strides, dilations, group, auto_pad."""

from __future__ import annotations

import numpy as np

from plnet.errors import ShapeError
from plnet.frontends.onnx.converters.windows import geometry, spatial_input
from plnet.frontends.onnx.registry import converter
from plnet.ops import Conv, ConvTranspose


@converter("Conv")
def convert_conv(node):
    ctx = node.ctx
    x, spatial = spatial_input(node, "Conv")
    weight = np.asarray(node.const(1, "weight"), np.float64)
    kernel = _kernel(node, weight, len(spatial))
    strides, padding, dilations = geometry(node, spatial, kernel)
    bias = node.optional_const(2, "bias")
    op = Conv(weight=ctx.param(f"{node.name}.weight", weight),
              bias=None if bias is None else ctx.param(f"{node.name}.bias", bias),
              stride=strides, padding=padding, dilation=dilations,
              groups=int(node.attr("group", 1)))
    return ctx.emit(op, [x], node.name, x)


@converter("ConvTranspose")
def convert_conv_transpose(node):
    ctx = node.ctx
    x, spatial = spatial_input(node, "ConvTranspose")
    n = len(spatial)
    weight = np.asarray(node.const(1, "weight"), np.float64)
    kernel = _kernel(node, weight, n)
    strides = node.ints("strides", [1] * n)
    dilations = node.ints("dilations", [1] * n)
    output_padding = node.ints("output_padding", [0] * n)
    if not len(strides) == len(dilations) == len(output_padding) == n:
        raise node.error(f"strides {strides}, dilations {dilations} and output_padding "
                         f"{output_padding} must each have {n} entries", ShapeError)
    padding = _transposed_padding(node, spatial, kernel, strides, dilations, output_padding)
    bias = node.optional_const(2, "bias")
    op = ConvTranspose(weight=ctx.param(f"{node.name}.weight", weight),
                       bias=None if bias is None else ctx.param(f"{node.name}.bias", bias),
                       stride=tuple(strides), padding=padding,
                       output_padding=tuple(output_padding), dilation=tuple(dilations),
                       groups=int(node.attr("group", 1)))
    return ctx.emit(op, [x], node.name, x)


def _kernel(node, weight, n):
    """The kernel shape, checked against the weight's (the same for Conv and ConvTranspose)."""
    if weight.ndim != n + 2:
        raise node.error(f"weight of shape {list(weight.shape)} does not fit a {n}-d "
                         f"{node.op_type}", ShapeError)
    kernel = node.ints("kernel_shape", list(weight.shape[2:]))
    if list(kernel) != list(weight.shape[2:]):
        raise node.error(f"kernel_shape {kernel} differs from the weight's "
                         f"{list(weight.shape[2:])}", ShapeError)
    return kernel


def _transposed_padding(node, spatial, kernel, strides, dilations, output_padding):
    """``((begin, end), ...)`` from pads, auto_pad and output_shape, as the ONNX spec says.

    With ``output_shape`` (or SAME_UPPER / SAME_LOWER, which ask for ``input * stride``)
    the total padding is what makes the full output that long; SAME_UPPER puts its odd
    half at the end, SAME_LOWER and NOTSET at the beginning.
    """
    n = len(spatial)
    auto_pad = node.attr("auto_pad", "NOTSET") or "NOTSET"
    if auto_pad not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
        raise node.error(f"auto_pad={auto_pad!r} is not an ONNX value (NOTSET, VALID, "
                         f"SAME_UPPER, SAME_LOWER)", ShapeError)
    target = node.ints("output_shape")
    if target is not None and len(target) != n:
        raise node.error(f"output_shape {target} must list the {n} spatial sizes (as ONNX's "
                         f"shape inference requires)", ShapeError)
    if target is None and auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        target = [length * s for length, s in zip(spatial, strides)]
    if target is None:
        pads = [0] * (2 * n) if auto_pad == "VALID" else node.ints("pads", [0] * (2 * n))
        if len(pads) != 2 * n or any(p < 0 for p in pads):
            raise node.error(f"pads {pads} must be {2 * n} non-negative entries", ShapeError)
        return tuple((pads[i], pads[i + n]) for i in range(n))
    padding = []
    for length, k, s, d, extra, want in zip(spatial, kernel, strides, dilations,
                                            output_padding, target):
        total = s * (length - 1) + extra + (k - 1) * d + 1 - want
        if total < 0:
            # negative total padding: the spec splits it over both ends, onnxruntime
            # appends it all at the end (and ignores it under auto_pad); no one meaning
            raise node.error(f"the output size {target} (output_shape or auto_pad="
                             f"{auto_pad}) is longer than the full output of an axis of "
                             f"length {length} (kernel {k}, stride {s}, dilation {d}, "
                             f"output_padding {extra}); the ONNX spec and onnxruntime "
                             f"disagree on where the extra positions go. Use output_padding "
                             f"instead", ShapeError)
        small, large = total // 2, total - total // 2
        padding.append((small, large) if auto_pad == "SAME_UPPER" else (large, small))
    return tuple(padding)
