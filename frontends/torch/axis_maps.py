"""Maps along one per-sample axis, as IR ops: a constant linear map (a dense on that axis),
a constant gather (a take), and the maximum over windows (a max pool).

Reductions, resizing, adaptive pooling and padding modes lower to these: each is exact,
and each puts the axis last (a transpose) only when it is not last already.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:  # for annotations only
    from plnet.frontends.torch.fx_to_ir import FxToIR


def _to_last(lower: FxToIR, node: str, axis: int, name: str) -> tuple[str, list[int] | None]:
    rank = len(lower.builder.shape(node))
    if axis == rank - 1:
        return node, None
    perm = [a for a in range(rank) if a != axis] + [axis]
    return lower.builder.transpose(node, perm, name=lower.fresh(f"{name}.to_last")), perm


def _back(lower: FxToIR, node: str, perm: list[int] | None, name: str) -> str:
    if perm is None:
        return node
    inverse = list(np.argsort(perm))
    return lower.builder.transpose(node, inverse, name=lower.fresh(name))


def linear_along(lower: FxToIR, node: str, axis: int, matrix: np.ndarray, name: str) -> str:
    """``y[..., i, ...] = sum_j matrix[i, j] * x[..., j, ...]`` on per-sample ``axis``."""
    last, perm = _to_last(lower, node, axis, name)
    dense_name = lower.fresh(name if perm is None else f"{name}.dense")
    out = lower.builder.dense(last, np.asarray(matrix, dtype=np.float64), name=dense_name)
    return _back(lower, out, perm, name)


def gather_along(lower: FxToIR, node: str, axis: int, indices: Sequence[int],
                 name: str) -> str:
    """``x`` indexed by the constant ``indices`` on per-sample ``axis`` (a take)."""
    indices = [int(i) for i in indices]
    if indices == list(range(lower.builder.shape(node)[axis])):
        return node
    return lower.builder.take(node, axis, indices, keepdim=True, name=lower.fresh(name))


def max_over_windows(lower: FxToIR, node: str, axis: int,
                     windows: Sequence[tuple[int, int]], name: str) -> str:
    """``y[i] = max(x[start_i:end_i])`` on per-sample ``axis`` (windows of any sizes).

    The windows are gathered into equal lengths (repeating an element of a shorter window
    does not change its maximum) and reduced by one max pool over the flattened axis.
    """
    width = max(end - start for start, end in windows)
    indices = [start + min(k, end - start - 1) for start, end in windows for k in range(width)]
    gathered = gather_along(lower, node, axis, indices, f"{name}.windows")
    last, perm = _to_last(lower, gathered, axis, name)
    shape = lower.builder.shape(last)
    rows = lower.builder.reshape(last, (math.prod(shape[:-1]), shape[-1]),
                                 name=lower.fresh(f"{name}.rows"))
    pooled = lower.builder.max_pool(rows, (width,), (width,), name=lower.fresh(f"{name}.max"))
    out = lower.builder.reshape(pooled, shape[:-1] + (len(windows),),
                                name=lower.fresh(name if perm is None else f"{name}.max_rows"))
    return _back(lower, out, perm, name)


def adaptive_windows(length: int, out: int) -> list[tuple[int, int]]:
    """torch's adaptive pooling windows: ``[floor(i L / out), ceil((i + 1) L / out))``."""
    return [((i * length) // out, -((-(i + 1) * length) // out)) for i in range(out)]
