"""Shared attribute parsing of Conv and the pools: kernel, strides, dilations, pads, auto_pad."""

from __future__ import annotations

import math

from plnet.errors import ShapeError


def spatial_input(node, what: str):
    """The op's input with its batch on ONNX axis 0, and its spatial shape (1-d or 2-d)."""
    ctx = node.ctx
    x = ctx.as_batched(node.tensor(0), 0, node.where, what)
    shape = ctx.shape(x)  # [C, *spatial]
    if len(shape) not in (2, 3):
        raise node.error(f"{what} on a tensor of ONNX rank {len(shape) + 1}: plnet supports "
                         f"1-d and 2-d {what} (input [N, C, L] or [N, C, H, W])")
    return x, tuple(shape[1:])


def geometry(node, spatial, kernel):
    """``(strides, ((begin, end), ...), dilations)`` with auto_pad resolved."""
    n = len(spatial)
    strides = node.ints("strides", [1] * n)
    dilations = node.ints("dilations", [1] * n)
    if len(strides) != n or len(dilations) != n or len(kernel) != n:
        raise node.error(f"kernel {list(kernel)}, strides {strides} and dilations "
                         f"{dilations} must each have {n} entries", ShapeError)
    auto_pad = node.attr("auto_pad", "NOTSET")
    if auto_pad in ("NOTSET", ""):
        pads = node.ints("pads", [0] * (2 * n))
        if len(pads) != 2 * n:
            raise node.error(f"pads {pads} must have {2 * n} entries", ShapeError)
        padding = tuple((pads[i], pads[i + n]) for i in range(n))
    elif auto_pad == "VALID":
        padding = ((0, 0),) * n
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        padding = []
        for length, k, s, d in zip(spatial, kernel, strides, dilations):
            out = math.ceil(length / s)
            total = max(0, (out - 1) * s + (k - 1) * d + 1 - length)
            small, large = total // 2, total - total // 2
            padding.append((small, large) if auto_pad == "SAME_UPPER" else (large, small))
        padding = tuple(padding)
    else:
        raise node.error(f"auto_pad={auto_pad!r} is not an ONNX value (NOTSET, VALID, "
                         f"SAME_UPPER, SAME_LOWER)", ShapeError)
    if any(p < 0 for pair in padding for p in pair):
        raise node.error(f"negative pads {padding} are not supported", ShapeError)
    return tuple(strides), padding, tuple(dilations)
