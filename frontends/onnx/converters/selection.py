"""GatherND and Tile with constant indices and repeats: fixed selections, lowered to Take."""

from __future__ import annotations

import numpy as np

from plnet.errors import ShapeError
from plnet.frontends.onnx.converters.gathering import select, take_along
from plnet.frontends.onnx.registry import converter
from plnet.frontends.onnx.tensor import Tensor


def gather_nd(node, data: np.ndarray, indices: np.ndarray, batch_dims: int) -> np.ndarray:
    """ONNX GatherND of a numpy array (negative indices count from the end)."""
    k = indices.shape[-1]
    if indices.ndim < 1 or batch_dims + k > data.ndim or \
            indices.shape[:batch_dims] != data.shape[:batch_dims]:
        raise node.error(f"GatherND indices of shape {list(indices.shape)} (batch_dims "
                         f"{batch_dims}) do not fit data of shape {list(data.shape)}",
                         ShapeError)
    dims = np.asarray(data.shape[batch_dims:batch_dims + k])
    if ((indices < -dims) | (indices >= dims)).any():
        raise node.error(f"GatherND indices {indices.tolist()} are out of range for axes of "
                         f"lengths {dims.tolist()}", ShapeError)
    groups = data.reshape((-1,) + data.shape[batch_dims:])
    rows = indices.reshape((len(groups), -1, k)) % dims
    picked = np.stack([group[tuple(row.T)] for group, row in zip(groups, rows)])
    return picked.reshape(indices.shape[:-1] + data.shape[batch_dims + k:])


@converter("GatherND", opsets=(11, None))
def convert_gather_nd(node):
    """Any constant indices. When they address only axes before the data's batch axis
    (``batch_dims`` 0), each sample is gathered alike and the batch axis stays, moved to
    follow the indices' leading axes (the exporters' adaptive pooling transposes the
    spatial axes first); otherwise the batch axis must be fixed at 1 in the file."""
    indices = np.asarray(node.const(1, "indices"))
    if indices.dtype.kind not in "iu":
        raise node.error(f"GatherND indices have dtype {indices.dtype}; expected integers")
    batch_dims = int(node.attr("batch_dims", 0))
    x = node.tensor(0)
    if batch_dims == 0 and indices.ndim and x.batch_axis is not None \
            and x.batch_axis >= indices.shape[-1]:
        depth = indices.shape[-1]
        out = select(node, x, lambda positions: gather_nd(node, positions, indices, 0))
        return Tensor(out.node, indices.ndim - 1 + x.batch_axis - depth, x.batch_one)
    x = node.ctx.unbatch(x, f"a GatherND (batch_dims={batch_dims}) whose constant indices "
                            f"address the batch axis", node.where)
    return select(node, x, lambda positions: gather_nd(node, positions, indices, batch_dims))


@converter("Tile", opsets=(6, None))
def convert_tile(node):
    ctx = node.ctx
    x = node.tensor(0)
    repeats = [int(r) for r in np.asarray(node.const(1, "repeats")).ravel()]
    rank = len(ctx.onnx_shape(x))
    if len(repeats) != rank or min(repeats) < 1:
        raise node.error(f"repeats {repeats} must be {rank} positive counts (plnet does not "
                         f"represent empty tensors)", ShapeError)
    if x.batch_axis is not None and repeats[x.batch_axis] != 1:
        x = ctx.unbatch(x, "a Tile of the batch axis", node.where)
    for axis, count in enumerate(repeats):
        if count != 1:
            length = ctx.onnx_shape(x)[axis]
            x = take_along(node, x, axis, np.tile(np.arange(length), count),
                           f"{node.name}.{axis}")
    return x
