"""Copies and constants shaped like a traced tensor: ``expand``/``expand_as``, ``repeat``
(constant gathers along each axis), ``zeros_like``/``ones_like``/``full_like`` and
``x.new_zeros``/``new_ones``/``new_full`` (``x * 0 + value``, an affine map of ``x`` or of
the network input, so that the constant has a node and a batch axis)."""

from __future__ import annotations

import math

import numpy as np
import torch

from plnet.frontends.torch.axis_maps import gather_along
from plnet.frontends.torch.registry import converts_function, converts_method
from plnet.frontends.torch.values import (BATCH, AffineValue, BatchConstant, ShapeValue,
                                          TensorValue, is_tensor_like, to_numpy)


def _sizes(dims):
    if len(dims) == 1 and isinstance(dims[0], (tuple, list, torch.Size, ShapeValue)):
        dims = dims[0]
    return list(dims.dims if isinstance(dims, ShapeValue) else dims)


def _copies(lower, node, tv, indices_per_axis):
    """Gather each per-sample axis by its indices (None: leave the axis alone)."""
    cur = tv.node
    name = lower.node_name(node)
    for axis, indices in enumerate(indices_per_axis):
        if indices is not None:
            cur = gather_along(lower, cur, axis, indices, f"{name}.axis{axis}")
    return TensorValue(cur)


def _batch_constant(lower, x, counts, what):
    """A constant copied along the batch axis (``counts`` holds BATCH there)."""
    value = to_numpy(x)
    batch = [i for i, c in enumerate(counts) if c is BATCH]
    if len(batch) != 1 or len(counts) != value.ndim or value.shape[batch[0]] != 1:
        raise lower.unsupported(f"{what}{tuple(counts)} of a constant of shape "
                                f"{value.shape}: only an axis of length 1 can be copied "
                                f"along the batch (x.size(0)), once")
    axis = batch[0]
    value = np.squeeze(value, axis)
    rest = [c for i, c in enumerate(counts) if i != axis]
    if what == "repeat":
        return BatchConstant(np.tile(value, [int(c) for c in rest]), axis)
    shape = [n if c == -1 else int(c) for n, c in zip(value.shape, rest)]
    return BatchConstant(np.broadcast_to(value, shape).copy(), axis)


@converts_method("expand")
def convert_expand(lower, node, x, *sizes):
    if not is_tensor_like(x):
        return _batch_constant(lower, x, _sizes(sizes), "expand")
    tv = lower.tensor(x)
    shape = lower.shape(tv)
    sizes = _sizes(sizes)
    if len(sizes) != len(shape) + 1 or sizes[0] not in (BATCH, -1):
        raise lower.unsupported(f"expand to {tuple(sizes)}: give the batch size (-1 or "
                                f"x.size(0)) first and one size per per-sample axis "
                                f"{shape}; new leading axes are not supported")
    gathers = []
    for length, size in zip(shape, sizes[1:]):
        if size in (-1, length):
            gathers.append(None)
        elif length == 1:
            gathers.append([0] * int(size))
        else:
            raise lower.unsupported(f"expand of an axis of length {length} to {size}: only "
                                    f"axes of length 1 expand")
    return _copies(lower, node, tv, gathers)


@converts_method("expand_as")
def convert_expand_as(lower, node, x, other):
    return convert_expand(lower, node, x, [BATCH] + list(lower.shape(other)))


@converts_method("repeat")
def convert_repeat(lower, node, x, *counts):
    if not is_tensor_like(x):
        return _batch_constant(lower, x, _sizes(counts), "repeat")
    tv = lower.tensor(x)
    shape = lower.shape(tv)
    counts = [int(c) for c in _sizes(counts)]
    if len(counts) != len(shape) + 1 or counts[0] != 1:
        raise lower.unsupported(f"repeat{tuple(counts)}: give one count per axis with 1 for "
                                f"the batch axis first (copies across samples and new "
                                f"leading axes are not supported)")
    gathers = [None if c == 1 else list(range(n)) * c for n, c in zip(shape, counts[1:])]
    return _copies(lower, node, tv, gathers)


def _filled(lower, node, like, shape, value):
    """A constant ``value`` of per-sample ``shape``, as an affine map of a traced node."""
    shape = tuple(int(n) for n in shape)
    if tuple(lower.shape(like)) == shape:
        return AffineValue(like, np.zeros(shape), np.full(shape, float(value)))
    # another shape: exact zeros from the input's first entry, padded and sliced (no
    # parameter enters, so training cannot move the constant), then the fill value
    b = lower.builder
    name = lower.node_name(node)
    flat = b.input if len(b.shape(b.input)) == 1 else b.flatten(b.input,
                                                                 name=lower.fresh(f"{name}.flat"))
    size = math.prod(shape)
    first = b.take(flat, 0, [0], name=lower.fresh(f"{name}.first"))
    padded = b.pad(first, ((0, size),), name=lower.fresh(f"{name}.pad"))
    cur = b.slice(padded, 0, 1, 1 + size, name=lower.fresh(f"{name}.zeros"))
    if value != 0:
        cur = b.scale_shift(cur, shift=np.full(size, float(value)),
                            name=lower.fresh(name if shape == (size,) else f"{name}.fill"))
    if shape != (size,):
        cur = b.reshape(cur, shape, name=lower.fresh(name))
    return TensorValue(cur)


def _batched_shape(lower, sizes):
    sizes = _sizes(sizes)
    if not sizes or sizes[0] is not BATCH or any(s is BATCH for s in sizes[1:]):
        raise lower.unsupported(f"a constant of shape {tuple(sizes)} computed from a traced "
                                f"tensor: its first size must be the batch size "
                                f"(x.size(0)); a constant without a batch axis can be a "
                                f"plain torch tensor instead")
    return sizes[1:]


@converts_function(torch.zeros_like, torch.ones_like, torch.full_like)
def convert_like(lower, node, x, fill_value=None, **kwargs):
    tv = lower.tensor(x)
    value = {torch.zeros_like: 0.0, torch.ones_like: 1.0}.get(node.target, fill_value)
    return _filled(lower, node, tv, lower.shape(tv), value)


@converts_method("new_zeros", "new_ones")
def convert_new_constant(lower, node, x, *sizes, **kwargs):
    tv = lower.tensor(x)
    value = 0.0 if node.target == "new_zeros" else 1.0
    return _filled(lower, node, tv, _batched_shape(lower, sizes), value)


@converts_method("new_full")
def convert_new_full(lower, node, x, size, fill_value, **kwargs):
    tv = lower.tensor(x)
    return _filled(lower, node, tv, _batched_shape(lower, (size,)), fill_value)
