"""Padding: ``F.pad`` in every mode and the padding modules (``ZeroPad*``,
``ConstantPad*``, ``ReflectionPad*``, ``ReplicationPad*``, ``CircularPad*``).

Zero padding is the IR's pad; a non-zero constant adds the constant on the padded border
(a scale/shift whose shift is zero inside); reflect, replicate and circular padding gather
each padded axis by constant indices. Negative amounts crop (a slice).
"""

from __future__ import annotations

import numpy as np
import torch.nn.functional as F
from torch import nn

from plnet.frontends.torch.axis_maps import gather_along
from plnet.frontends.torch.registry import converts_function, converts_module
from plnet.frontends.torch.values import TensorValue


def _source_index(j: int, length: int, mode: str) -> int:
    """The input position that padded position ``j`` (``-begin <= j < length + end``) reads."""
    if mode == "replicate":
        return min(max(j, 0), length - 1)
    if mode == "circular":
        return j % length
    if j < 0:  # reflect: mirror about the first and last element (not repeating them)
        return -j
    return 2 * (length - 1) - j if j >= length else j


def pad_tensor(lower, node, x, pad, mode="constant", value=None):
    """Lower ``F.pad(x, pad, mode, value)``."""
    tv = lower.tensor(x)
    b = lower.builder
    shape = lower.shape(tv)
    pad = [int(p) for p in pad]
    if len(pad) % 2 or len(pad) // 2 > len(shape):
        raise lower.unsupported(f"pad {pad}: expected (begin, end) pairs for at most the "
                                f"{len(shape)} per-sample axes (padding the batch axis is "
                                f"not supported)")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise lower.unsupported(f"pad(mode={mode!r}): plnet supports 'constant', 'reflect', "
                                f"'replicate' and 'circular'")
    pairs = [(0, 0)] * len(shape)
    for i in range(len(pad) // 2):
        pairs[len(shape) - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    name = lower.node_name(node)
    cur = tv.node
    for axis, (begin, end) in enumerate(pairs):  # crop first: negative amounts
        length = b.shape(cur)[axis]
        if begin < 0 or end < 0:
            cur = b.slice(cur, axis, max(-begin, 0), length - max(-end, 0),
                          name=lower.fresh(f"{name}.crop{axis}"))
    pairs = [(max(begin, 0), max(end, 0)) for begin, end in pairs]
    if not any(begin or end for begin, end in pairs):
        return TensorValue(cur)
    if mode != "constant":
        for axis, (begin, end) in enumerate(pairs):
            length = b.shape(cur)[axis]
            if not (begin or end):
                continue
            if mode == "reflect" and max(begin, end) >= length:
                raise lower.unsupported(f"reflect padding by {max(begin, end)} on an axis of "
                                        f"length {length}: torch needs it below the length")
            if mode == "circular" and max(begin, end) > length:
                raise lower.unsupported(f"circular padding by {max(begin, end)} on an axis "
                                        f"of length {length}: torch needs it at most the "
                                        f"length")
            indices = [_source_index(j, length, mode) for j in range(-begin, length + end)]
            cur = gather_along(lower, cur, axis, indices, f"{name}.axis{axis}")
        return TensorValue(cur)
    value = 0.0 if value is None else float(value)
    padded = b.pad(cur, pairs, name=lower.fresh(name if value == 0 else f"{name}.zeros"))
    if value == 0:
        return TensorValue(padded)
    inside = np.pad(np.zeros(b.shape(cur)), pairs, constant_values=1.0)
    return TensorValue(b.scale_shift(padded, None, inside * value, name=lower.fresh(name)))


@converts_function(F.pad)
def convert_pad(lower, node, x, pad, mode="constant", value=None):
    return pad_tensor(lower, node, x, pad, mode, value)


_MODES = {nn.ReflectionPad1d: "reflect", nn.ReflectionPad2d: "reflect",
          nn.ReplicationPad1d: "replicate", nn.ReplicationPad2d: "replicate",
          nn.CircularPad1d: "circular", nn.CircularPad2d: "circular"}


@converts_module(nn.ZeroPad1d, nn.ZeroPad2d, nn.ConstantPad1d, nn.ConstantPad2d)
def convert_constant_pad_module(lower, node, module, x):
    return pad_tensor(lower, node, x, module.padding, "constant", module.value)


@converts_module(*_MODES)
def convert_mode_pad_module(lower, node, module, x):
    return pad_tensor(lower, node, x, module.padding, _MODES[type(module)])
