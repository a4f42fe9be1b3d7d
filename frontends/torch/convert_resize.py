"""Resizing: ``F.interpolate`` and ``nn.Upsample``, in every mode torch has.

Each mode is a constant linear map along each spatial axis (torch resizes axis by axis), so
the map is read from torch itself: resize a batch of one-hot inputs along one axis (constant
along the others) and the outputs are that axis's matrix, with torch's exact index and
weight arithmetic (``align_corners``, ``scale_factor`` vs ``size``,
``recompute_scale_factor``). A matrix whose rows each hold a single 1 is a gather (nearest
modes); any other becomes a dense on that axis.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from plnet.frontends.torch.axis_maps import gather_along, linear_along
from plnet.frontends.torch.registry import converts_function, converts_module
from plnet.frontends.torch.values import TensorValue


def axis_matrix(spatial: tuple[int, ...], axis: int, resize) -> np.ndarray:
    """The matrix ``resize`` applies along spatial ``axis`` (``[out, in]``), read off one-hot
    inputs that are constant along the other spatial axes."""
    length = spatial[axis]
    probe = torch.zeros((length, 1) + tuple(spatial), dtype=torch.float64)
    for k in range(length):
        index = [k, 0] + [slice(None)] * len(spatial)
        index[2 + axis] = k
        probe[tuple(index)] = 1.0
    with torch.no_grad():
        out = resize(probe)
    first = [0] * len(spatial)
    first[axis] = slice(None)
    columns = out[(slice(None), 0) + tuple(first)]  # [in, out]
    return columns.T.numpy().copy()


def resize_axes(lower, node, x, resize, what):
    tv = lower.tensor(x)
    shape = lower.shape(tv)
    if len(shape) not in (2, 3):
        raise lower.unsupported(f"{what} expects a batched input [B, C, L] or [B, C, H, W], "
                                f"got per-sample shape {shape}")
    spatial = shape[1:]
    name = lower.node_name(node)
    cur = tv.node
    for axis in range(len(spatial)):
        matrix = axis_matrix(spatial, axis, resize)
        step = name if axis == len(spatial) - 1 else f"{name}.axis{axis}"
        ones = matrix == 1.0
        if (ones.sum(axis=1) == 1).all() and ((matrix == 0.0) | ones).all():
            cur = gather_along(lower, cur, axis + 1, ones.argmax(axis=1), step)
        else:
            cur = linear_along(lower, cur, axis + 1, matrix, step)
    return TensorValue(cur)


@converts_function(F.interpolate, F.upsample)
def convert_interpolate(lower, node, x, size=None, scale_factor=None, mode="nearest",
                        align_corners=None, recompute_scale_factor=None, antialias=False):
    def resize(probe):
        return F.interpolate(probe, size=size, scale_factor=scale_factor, mode=mode,
                             align_corners=align_corners,
                             recompute_scale_factor=recompute_scale_factor, antialias=antialias)

    return resize_axes(lower, node, x, resize, f"interpolate(mode={mode!r})")


@converts_module(nn.Upsample)
def convert_upsample(lower, node, module, x):
    def resize(probe):
        return F.interpolate(probe, size=module.size, scale_factor=module.scale_factor,
                             mode=module.mode, align_corners=module.align_corners,
                             recompute_scale_factor=module.recompute_scale_factor)

    return resize_axes(lower, node, x, resize, f"Upsample(mode={module.mode!r})")
