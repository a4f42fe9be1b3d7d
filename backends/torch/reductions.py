"""Per-unit reductions of gradients over the input axes, in cache-sized blocks.

The norm sinks reduce tangents ``[A, K, E]`` over ``K`` three ways (sum of squares, sum of
absolute values, max of absolute values). Run whole, each reduction is a pass over memory
and the temporaries of ``|t|`` and ``t^2`` two more: six passes over a tensor of tens of MB
(on resnet_2b's certificates a quarter of the call). Run block by block on the CPU, a block
is read from memory once and every later pass finds it in the cache: four times faster
there. An accelerator takes the whole tensor as one block.
"""

from __future__ import annotations

import torch

#: bytes of one block on the CPU: half of a core's L2 on common server parts
BLOCK_BYTES = 1 << 20
KINDS = ("sq", "abs", "max")


def axis_reductions(t: torch.Tensor, kinds) -> dict:
    """``{kind: [A, E]}``: the reductions ``kinds`` (a subset of :data:`KINDS`) of ``t``
    ``[A, K, E]`` over its middle axis, without autograd (values only).

    Sums add each block's partial sum, so their rounding differs from one pass's by a few
    units in the last place, as any change of summation order does.
    """
    kinds = tuple(kinds)
    a, k, e = t.shape
    out = {kind: t.new_zeros((a, e)) for kind in kinds}
    if k == 0 or a == 0 or e == 0:
        return out
    rows, axes = _block(t)
    scratch = t.new_empty((rows, axes, e))
    for lo in range(0, a, rows):
        for start in range(0, k, axes):
            block = t[lo:lo + rows, start:start + axes]
            done = {kind: value[lo:lo + rows] for kind, value in out.items()}
            _reduce_block(block, scratch[:block.shape[0], :block.shape[1]], done,
                          first=start == 0)
    return out


def _block(t):
    """``(rows of A, axes of K)`` per block: the whole tensor off the CPU."""
    a, k, e = t.shape
    if t.device.type != "cpu":
        return a, k
    row_bytes = e * t.element_size()
    slab = k * row_bytes  # one A-row, all K axes
    if slab >= BLOCK_BYTES:
        return 1, min(k, max(1, BLOCK_BYTES // row_bytes))
    return min(a, max(1, BLOCK_BYTES // slab)), k


def _reduce_block(block, scratch, done, first):
    """Reduce ``block`` into ``done`` (write when ``first``, else accumulate)."""
    if "abs" in done or "max" in done:
        magnitude = torch.abs(block, out=scratch)
        if "abs" in done:
            _accumulate(done["abs"], magnitude.sum(dim=1), first, torch.add)
        if "max" in done:
            _accumulate(done["max"], magnitude.amax(dim=1), first, torch.maximum)
        squares = torch.mul(magnitude, magnitude, out=scratch) if "sq" in done else None
    else:
        squares = torch.mul(block, block, out=scratch) if "sq" in done else None
    if squares is not None:
        _accumulate(done["sq"], squares.sum(dim=1), first, torch.add)


def _accumulate(target, value, first, combine):
    if first:
        target.copy_(value)
    else:
        combine(target, value, out=target)
