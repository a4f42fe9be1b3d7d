"""Linear views (flatten, view/reshape, permute/transpose, squeeze/unsqueeze, indexing,
concatenation) and shapes (``x.shape``, ``x.size()``).

The batch axis must stay where it is, with one exception that ``nn.RNN`` needs: a
transpose or permute may move it, and a later one (or the RNN) moves it back.
"""

from __future__ import annotations

import math
import operator

import torch
from torch import nn

from plnet.frontends.torch.registry import converts_function, converts_method, converts_module
from plnet.frontends.torch.values import BATCH, AffineValue, ShapeValue, TensorValue


def _flat_dims(dims):
    if len(dims) == 1 and isinstance(dims[0], (tuple, list, torch.Size, ShapeValue)):
        dims = dims[0]
    return tuple(dims.dims if isinstance(dims, ShapeValue) else dims)


def _reshape(lower, node, x, dims):
    tv = lower.tensor(x)
    shape = lower.shape(tv)
    dims = list(_flat_dims(dims))
    size = math.prod(shape)
    if dims and dims[0] is BATCH:
        rest = dims[1:]
    elif dims and dims[0] == -1 and -1 not in dims[1:] and all(isinstance(d, int)
                                                               for d in dims[1:]) \
            and math.prod(dims[1:]) == size:
        rest = dims[1:]
    else:
        raise lower.unsupported(f"reshape to {tuple(dims)}: the first dimension must be the "
                                f"batch size (x.size(0), x.shape[0], or -1 followed by the "
                                f"per-sample sizes); a reshape that mixes samples, or one "
                                f"with a batch size hard-coded from the example, is not "
                                f"supported")
    if any(d is BATCH for d in rest) or not all(isinstance(d, int) for d in rest):
        raise lower.unsupported(f"reshape to {tuple(dims)}: only the first entry may be the "
                                f"batch size, the others must be ints")
    if tuple(rest) == shape:
        return tv
    return TensorValue(lower.builder.reshape(tv.node, rest, name=lower.node_name(node)))


@converts_method("view", "reshape")
def convert_view(lower, node, x, *dims):
    if dims and isinstance(dims[0], torch.dtype):
        raise lower.unsupported("view(dtype) reinterprets bits; it is not supported")
    return _reshape(lower, node, x, dims)


@converts_function(torch.reshape)
def convert_reshape(lower, node, x, shape):
    return _reshape(lower, node, x, (shape,))


@converts_function(torch.flatten)
@converts_method("flatten")
def convert_flatten(lower, node, x, start_dim=0, end_dim=-1):
    tv = lower.tensor(x)
    shape = lower.shape(tv)
    rank = len(shape) + 1
    start, end = start_dim % rank, end_dim % rank
    if start == 0:
        raise lower.unsupported(f"flatten(start_dim={start_dim}) merges the batch axis into "
                                f"the features; use start_dim=1 (or nn.Flatten())")
    if start > end:
        return tv
    if start == 1 and end == rank - 1:
        if len(shape) == 1:
            return tv
        return TensorValue(lower.builder.flatten(tv.node, name=lower.node_name(node)))
    merged = math.prod(shape[start - 1:end])
    new = shape[:start - 1] + (merged,) + shape[end:]
    return TensorValue(lower.builder.reshape(tv.node, new, name=lower.node_name(node)))


@converts_module(nn.Flatten)
def convert_flatten_module(lower, node, module, x):
    return convert_flatten(lower, node, x, module.start_dim, module.end_dim)


@converts_module(nn.Unflatten)
def convert_unflatten_module(lower, node, module, x):
    return convert_unflatten(lower, node, x, module.dim, module.unflattened_size)


@converts_function(torch.unflatten)
@converts_method("unflatten")
def convert_unflatten(lower, node, x, dim, sizes):
    tv = lower.tensor(x)
    shape = list(lower.shape(tv))
    axis = lower.per_sample_axis(tv, dim)
    sizes = [int(n) for n in sizes]
    if sizes.count(-1) == 1:
        known = math.prod(n for n in sizes if n != -1)
        sizes[sizes.index(-1)] = shape[axis] // known
    new = shape[:axis] + sizes + shape[axis + 1:]
    return _reshape(lower, node, tv, ([BATCH] + new,))


def _permute(lower, node, x, perm):
    value = lower.materialize(x) if isinstance(x, AffineValue) else x
    tv = lower.tensor(value, batch_first=False)
    rank = len(lower.shape(tv)) + 1
    perm = [int(p) % rank for p in perm]
    if sorted(perm) != list(range(rank)):
        raise lower.unsupported(f"permute {perm} is not a permutation of {rank} dims")
    new_batch = perm.index(tv.batch_axis)

    def per_sample(d):
        return d if d < tv.batch_axis else d - 1

    sample_perm = [per_sample(p) for p in perm if p != tv.batch_axis]
    if sample_perm == sorted(sample_perm):
        return TensorValue(tv.node, new_batch)
    node_name = lower.builder.transpose(tv.node, sample_perm, name=lower.node_name(node))
    return TensorValue(node_name, new_batch)


@converts_function(torch.permute)
@converts_method("permute")
def convert_permute(lower, node, x, *dims):
    return _permute(lower, node, x, _flat_dims(dims))


@converts_function(torch.transpose, torch.swapaxes, torch.swapdims)
@converts_method("transpose", "swapaxes", "swapdims")
def convert_transpose(lower, node, x, dim0, dim1):
    tv = lower.tensor(x, batch_first=False)
    rank = len(lower.shape(tv)) + 1
    perm = list(range(rank))
    a, b = dim0 % rank, dim1 % rank
    perm[a], perm[b] = perm[b], perm[a]
    return _permute(lower, node, tv, perm)


def _sample_reshape(lower, node, tv, shape, batch_axis):
    """Reshape per sample (the batch axis may sit anywhere: squeeze on an RNN's h_n)."""
    if tuple(shape) == lower.shape(tv):
        return TensorValue(tv.node, batch_axis)
    return TensorValue(lower.builder.reshape(tv.node, shape, name=lower.node_name(node)),
                       batch_axis)


@converts_function(torch.squeeze)
@converts_method("squeeze")
def convert_squeeze(lower, node, x, dim=None):
    tv = lower.tensor(x, batch_first=False)
    shape = lower.shape(tv)
    if dim is None:
        axes = [i for i, n in enumerate(shape) if n == 1]
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        axes = [lower.per_sample_axis(tv, d) for d in dims]
        axes = [a for a in axes if shape[a] == 1]  # torch leaves other sizes alone
    new = [n for i, n in enumerate(shape) if i not in axes]
    batch = tv.batch_axis - sum(1 for a in axes if a < tv.batch_axis)
    return _sample_reshape(lower, node, tv, new, batch)


@converts_function(torch.unsqueeze)
@converts_method("unsqueeze")
def convert_unsqueeze(lower, node, x, dim):
    tv = lower.tensor(x, batch_first=False)
    shape = list(lower.shape(tv))
    d = int(dim) % (len(shape) + 2)
    if d <= tv.batch_axis:
        if d == 0 and tv.batch_axis == 0:
            raise lower.unsupported("unsqueeze(0) would put a new axis before the batch axis")
        shape.insert(d, 1)
        return _sample_reshape(lower, node, tv, shape, tv.batch_axis + 1)
    shape.insert(d - 1, 1)
    return _sample_reshape(lower, node, tv, shape, tv.batch_axis)


@converts_function(torch.cat, torch.concat, torch.concatenate)
def convert_cat(lower, node, tensors, dim=0, *, axis=None):
    dim = axis if axis is not None else dim
    tvs = [lower.tensor(t, what="concatenated tensor") for t in tensors]
    axis = lower.per_sample_axis(tvs[0], dim)
    if len(tvs) == 1:
        return tvs[0]
    return TensorValue(lower.builder.concat(*[t.node for t in tvs], axis=axis,
                                            name=lower.node_name(node)))


@converts_method("size")
def convert_size(lower, node, x, dim=None):
    dims = _shape_dims(lower, x)
    return ShapeValue(dims) if dim is None else dims[int(dim)]


@converts_method("dim", "ndimension")
def convert_dim(lower, node, x):
    return len(_shape_dims(lower, x))


def _shape_dims(lower, x):
    return tuple(BATCH if d is None else d for d in lower.full_shape(x))


@converts_function(getattr)
def convert_getattr(lower, node, x, name):
    if isinstance(x, tuple) and name in ("values", "indices"):  # torch.max(x, dim)
        return x[0 if name == "values" else 1]
    if name == "shape":
        return ShapeValue(_shape_dims(lower, x))
    if name == "ndim":
        return len(_shape_dims(lower, x))
    if name == "dtype":  # for constants made alike (torch.zeros(..., dtype=x.dtype))
        return torch.float64
    if name == "device":
        return torch.device("cpu")
    if name == "T" or name == "mT":
        raise lower.unsupported(f"x.{name} moves the batch axis; use x.transpose(1, 2)")
    raise lower.unsupported(f"tensor attribute .{name} is not supported")


@converts_function(operator.getitem)
def convert_getitem(lower, node, x, index):
    if isinstance(x, ShapeValue):
        got = x.dims[index]
        return ShapeValue(got) if isinstance(index, slice) else got
    if isinstance(x, (tuple, list)):
        return x[index]
    from plnet.frontends.torch.indexing import index_tensor

    return index_tensor(lower, node, x, index)
