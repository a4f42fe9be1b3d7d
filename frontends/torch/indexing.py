"""Basic indexing of a traced tensor (``x[:, -1]``, ``x[:, 1:5, None]``, ``x[..., 0]``).

Integers become a take, slices a slice, ``None`` a new axis. The batch axis must be taken
whole (``:``). Advanced indexing (tensors or lists as indices) is not supported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plnet.frontends.torch.values import BATCH, TensorValue

if TYPE_CHECKING:  # for annotations only: fx_to_ir imports the converters that use this
    import torch.fx

    from plnet.frontends.torch.fx_to_ir import FxToIR


def _expand(lower, index, rank):
    index = index if isinstance(index, tuple) else (index,)
    for item in index:
        if not (item is None or item is Ellipsis or isinstance(item, (int, slice))):
            raise lower.unsupported(f"indexing with {type(item).__name__} entries (advanced "
                                    f"indexing) is not supported; use ints, slices, None "
                                    f"and ...")
    if sum(item is Ellipsis for item in index) > 1:
        raise lower.unsupported("an index may hold at most one Ellipsis")
    used = sum(1 for item in index if item is not None and item is not Ellipsis)
    if used > rank:
        raise lower.unsupported(f"too many indices ({used}) for a tensor of rank {rank}")
    out = []
    for item in index:
        if item is Ellipsis:
            out.extend([slice(None)] * (rank - used))
        else:
            out.append(item)
    if Ellipsis not in index:
        out.extend([slice(None)] * (rank - used))
    return out


def index_tensor(lower: FxToIR, node: torch.fx.Node, x: object, index: object) -> TensorValue:
    """Lower ``x[index]`` for a traced tensor ``x`` (batch axis anywhere)."""
    tv = lower.tensor(x, batch_first=False)
    dims = [BATCH if d is None else d for d in lower.full_shape(tv)]
    entries = _expand(lower, index, len(dims))
    b = lower.builder
    cur, batch = tv.node, tv.batch_axis
    pos = 0  # axis of the current (partially indexed) torch tensor
    base = lower.node_name(node)
    step = 0

    def name():
        nonlocal step
        step += 1
        return lower.fresh(base if step == 1 else f"{base}.{step}")

    def sample_axis(p):
        return p if p < batch else p - 1

    for item in entries:
        if item is None:
            shape = list(b.shape(cur))
            if pos <= batch:
                batch += 1
                shape.insert(pos, 1)
            else:
                shape.insert(pos - 1, 1)
            cur = b.reshape(cur, shape, name=name())
            pos += 1
            continue
        if pos == batch:
            if not (isinstance(item, slice) and item == slice(None)):
                raise lower.unsupported(f"index {item!r} on the batch axis: plnet networks "
                                        f"act on every sample, so the batch axis must be "
                                        f"indexed with ':'")
            pos += 1
            continue
        axis = sample_axis(pos)
        length = b.shape(cur)[axis]
        if isinstance(item, int):
            if not -length <= item < length:
                raise lower.unsupported(f"index {item} is out of range for an axis of "
                                        f"length {length}")
            cur = b.take(cur, axis, item % length, name=name())
            if pos < batch:
                batch -= 1
            continue
        start, stop, stride = item.indices(length)
        if stride < 1:
            raise lower.unsupported("slices with a negative step are not supported")
        if (start, stop, stride) != (0, length, 1):
            cur = b.slice(cur, axis, start, stop, stride, name=name())
        pos += 1
    return TensorValue(cur, batch)
