"""Average pooling, max pooling and adaptive pooling (any output size)."""

from __future__ import annotations

import numpy as np
import torch.nn.functional as F
from torch import nn

from plnet.frontends.torch.axis_maps import adaptive_windows, linear_along, max_over_windows
from plnet.frontends.torch.registry import converts_function, converts_module
from plnet.frontends.torch.values import TensorValue


def _spatial(lower, tv, n: int, what: str):
    shape = lower.shape(tv)
    if len(shape) != n + 1:
        raise lower.unsupported(f"{what} expects a batched input [B, C, *{n} spatial dims], "
                                f"got per-sample shape {shape} (unbatched inputs are not "
                                f"supported)")
    return shape


def _ints(value, n):
    if isinstance(value, int):
        return (value,) * n
    value = tuple(int(v) for v in value)
    return value * n if len(value) == 1 else value


def _avg_pool(lower, node, x, n, kernel, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    if divisor_override is not None:
        raise lower.unsupported(f"divisor_override={divisor_override} is not supported (the "
                                f"IR's average pool divides by the window's size)")
    tv = lower.tensor(x)
    _spatial(lower, tv, n, f"avg_pool{n}d")
    kernel = _ints(kernel, n)
    stride = _ints(stride if stride not in (None, ()) else kernel, n)
    return TensorValue(lower.builder.avg_pool(
        tv.node, kernel, stride, _ints(padding, n), 1, bool(ceil_mode), bool(count_include_pad),
        name=lower.node_name(node)))


@converts_module(nn.AvgPool1d, nn.AvgPool2d)
def convert_avg_pool(lower, node, module, x):
    n = 1 if isinstance(module, nn.AvgPool1d) else 2
    return _avg_pool(lower, node, x, n, module.kernel_size, module.stride, module.padding,
                     module.ceil_mode, module.count_include_pad,
                     getattr(module, "divisor_override", None))


@converts_function(F.avg_pool1d)
def convert_avg_pool1d(lower, node, x, kernel_size, stride=None, padding=0, ceil_mode=False,
                       count_include_pad=True):
    return _avg_pool(lower, node, x, 1, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


@converts_function(F.avg_pool2d)
def convert_avg_pool2d(lower, node, x, kernel_size, stride=None, padding=0, ceil_mode=False,
                       count_include_pad=True, divisor_override=None):
    return _avg_pool(lower, node, x, 2, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def _adaptive(lower, node, x, n, output_size, kind):
    """Adaptive pooling: one pooling when every size divides, else torch's variable windows
    (``[floor(i L / out), ceil((i + 1) L / out))``) axis by axis: an average is a constant
    linear map per axis, a maximum a max over gathered windows per axis (both separable)."""
    tv = lower.tensor(x)
    shape = _spatial(lower, tv, n, f"adaptive_{kind}_pool{n}d")
    sizes = (output_size,) * n if isinstance(output_size, int) or output_size is None \
        else tuple(output_size)
    sizes = tuple(length if out is None else int(out) for length, out in zip(shape[1:], sizes))
    name = lower.node_name(node)
    if all(length % out == 0 for length, out in zip(shape[1:], sizes)):
        kernel = tuple(length // out for length, out in zip(shape[1:], sizes))
        make = lower.builder.avg_pool if kind == "avg" else lower.builder.max_pool
        return TensorValue(make(tv.node, kernel, kernel, 0, name=name))
    cur = tv.node
    for axis, (length, out) in enumerate(zip(shape[1:], sizes)):
        if length == out:
            continue
        windows = adaptive_windows(length, out)
        step = lower.fresh(f"{name}.axis{axis}")
        if kind == "avg":
            matrix = np.zeros((out, length))
            for i, (start, end) in enumerate(windows):
                matrix[i, start:end] = 1.0 / (end - start)
            cur = linear_along(lower, cur, axis + 1, matrix, step)
        else:
            cur = max_over_windows(lower, cur, axis + 1, windows, step)
    return TensorValue(cur)


@converts_module(nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)
def convert_adaptive_avg_pool(lower, node, module, x):
    n = 1 if isinstance(module, nn.AdaptiveAvgPool1d) else 2
    return _adaptive(lower, node, x, n, module.output_size, "avg")


@converts_function(F.adaptive_avg_pool1d)
def convert_adaptive_avg_pool1d(lower, node, x, output_size):
    return _adaptive(lower, node, x, 1, output_size, "avg")


@converts_function(F.adaptive_avg_pool2d)
def convert_adaptive_avg_pool2d(lower, node, x, output_size):
    return _adaptive(lower, node, x, 2, output_size, "avg")


@converts_function(F.adaptive_max_pool1d, F.adaptive_max_pool2d)
def convert_functional_adaptive_max_pool(lower, node, x, output_size, return_indices=False):
    if return_indices:
        raise lower.unsupported("return_indices=True: plnet networks return one tensor")
    n = 1 if node.target is F.adaptive_max_pool1d else 2
    return _adaptive(lower, node, x, n, output_size, "max")


@converts_module(nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)
def convert_adaptive_max_pool(lower, node, module, x):
    if module.return_indices:
        raise lower.unsupported("return_indices=True: plnet networks return one tensor")
    n = 1 if isinstance(module, nn.AdaptiveMaxPool1d) else 2
    return _adaptive(lower, node, x, n, module.output_size, "max")


def _max_pool(lower, node, x, n, kernel, stride, padding, dilation, ceil_mode, return_indices):
    if return_indices:
        raise lower.unsupported("return_indices=True: plnet networks return one tensor "
                                "(max unpooling is not supported)")
    tv = lower.tensor(x)
    _spatial(lower, tv, n, f"max_pool{n}d")
    kernel = _ints(kernel, n)
    stride = _ints(stride if stride not in (None, ()) else kernel, n)
    return TensorValue(lower.builder.max_pool(
        tv.node, kernel, stride, _ints(padding, n), _ints(dilation, n), bool(ceil_mode),
        name=lower.node_name(node)))


@converts_module(nn.MaxPool1d, nn.MaxPool2d)
def convert_max_pool(lower, node, module, x):
    n = 1 if isinstance(module, nn.MaxPool1d) else 2
    return _max_pool(lower, node, x, n, module.kernel_size, module.stride, module.padding,
                     module.dilation, module.ceil_mode, module.return_indices)


@converts_function(F.max_pool1d, F.max_pool2d)
def convert_functional_max_pool(lower, node, x, kernel_size, stride=None, padding=0,
                                dilation=1, ceil_mode=False, return_indices=False):
    n = 1 if node.target is F.max_pool1d else 2
    return _max_pool(lower, node, x, n, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)
