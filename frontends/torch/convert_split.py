"""Splitting and stacking along a per-sample axis: ``chunk``, ``split``, ``unbind`` (slices
and takes, returned as a tuple) and ``stack`` (new axes, then a concat)."""

from __future__ import annotations

import torch

from plnet.frontends.torch.registry import converts_function, converts_method
from plnet.frontends.torch.values import TensorValue


def _slices(lower, node, x, dim, bounds):
    tv = lower.tensor(x)
    axis = lower.per_sample_axis(tv, dim)
    length = lower.shape(tv)[axis]
    name = lower.node_name(node)
    parts = []
    for i, (start, stop) in enumerate(bounds):
        if (start, stop) == (0, length):
            parts.append(tv)
            continue
        parts.append(TensorValue(lower.builder.slice(tv.node, axis, start, stop,
                                                     name=lower.fresh(f"{name}.{i}"))))
    return tuple(parts)


def _bounds(sizes):
    out, start = [], 0
    for size in sizes:
        out.append((start, start + size))
        start += size
    return out


@converts_function(torch.chunk)
@converts_method("chunk")
def convert_chunk(lower, node, x, chunks, dim=0):
    tv = lower.tensor(x)
    length = lower.shape(tv)[lower.per_sample_axis(tv, dim)]
    size = -(-length // int(chunks))  # torch: chunks of ceil(length / chunks), the last shorter
    sizes = [min(size, length - start) for start in range(0, length, size)]
    return _slices(lower, node, tv, dim, _bounds(sizes))


@converts_function(torch.split)
@converts_method("split")
def convert_split(lower, node, x, split_size_or_sections, dim=0):
    tv = lower.tensor(x)
    length = lower.shape(tv)[lower.per_sample_axis(tv, dim)]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        sizes = [min(size, length - start) for start in range(0, length, size)]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != length:
            raise lower.unsupported(f"split sizes {sizes} do not add up to the axis length "
                                    f"{length}")
    return _slices(lower, node, tv, dim, _bounds(sizes))


@converts_function(torch.unbind)
@converts_method("unbind")
def convert_unbind(lower, node, x, dim=0):
    tv = lower.tensor(x)
    axis = lower.per_sample_axis(tv, dim)
    name = lower.node_name(node)
    return tuple(TensorValue(lower.builder.take(tv.node, axis, i, name=lower.fresh(f"{name}.{i}")))
                 for i in range(lower.shape(tv)[axis]))


@converts_function(torch.stack)
def convert_stack(lower, node, tensors, dim=0, *, out=None):
    tvs = [lower.tensor(t, what="stacked tensor") for t in tensors]
    shape = lower.shape(tvs[0])
    if any(lower.shape(t) != shape for t in tvs):
        raise lower.unsupported(f"stack of tensors of per-sample shapes "
                                f"{[lower.shape(t) for t in tvs]}: they must be equal")
    rank = len(shape) + 2
    d = int(dim) % rank
    if d == 0:
        raise lower.unsupported("stack(dim=0) puts the new axis before the batch axis; "
                                "stack along dim >= 1")
    new = list(shape)
    new.insert(d - 1, 1)
    name = lower.node_name(node)
    rows = [lower.builder.reshape(t.node, new, name=lower.fresh(f"{name}.row{i}"))
            for i, t in enumerate(tvs)]
    if len(rows) == 1:
        return TensorValue(rows[0])
    return TensorValue(lower.builder.concat(*rows, axis=d - 1, name=name))
