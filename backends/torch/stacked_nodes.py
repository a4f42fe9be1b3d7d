"""The autograd nodes of the stacked pass (:mod:`plnet.backends.torch.stacked`).

Each writes its result and its input's gradient once, in the rows' memory layout: the
generic graph of slices, products and sums would zero-fill and copy them several times,
and mix the channels-last rows of a convolution with default-layout copies.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable


def per_point(rows, b):
    """Shared ``[B + k, *shape]`` rows -> ``[B, 1 + k, *shape]``."""
    return _PerPoint.apply(rows, b)


def _stacked_empty(rows, b):
    """Uninitialized ``[B, 1 + k, *shape]`` for shared ``rows [B + k, *shape]``, laid out
    as ``rows`` (see :func:`_empty_laid_out_as`)."""
    return _empty_laid_out_as(rows, (b, rows.shape[0] - b + 1))


def _empty_laid_out_as(rows, lead):
    """Uninitialized ``[*lead, *shape]`` for ``rows [m, *shape]``, each image laid out in
    memory as in ``rows`` (channels-last after a convolution: torch's cat or empty would
    return the default layout, the next convolution would copy it back, and an
    elementwise op between two layouts runs several times slower than within one)."""
    n = len(lead)
    order = list(range(n)) + [d - 1 + n for d in _layout(rows)]
    shape = tuple(lead) + tuple(rows.shape[1:])
    return rows.new_empty([shape[d] for d in order]).permute(
        [order.index(d) for d in range(len(shape))])


def _layout(rows):
    """The order in memory of ``rows``' axes after the first, outermost first (a tie, as
    a size-1 axis makes, keeps the axes' order)."""
    return sorted(range(1, rows.dim()), key=lambda d: -rows.stride(d))


def _shared_gradient(g, b):
    """The gradient of shared rows from the gradient ``g [B, 1 + k, *shape]`` of their
    per-point copies: forward rows as they are, tangent rows summed over the points."""
    g_rows = _empty_laid_out_as(g[:, 0], (g.shape[1] - 1 + b,))
    g_rows[:b] = g[:, 0]
    torch.sum(g[:, 1:], dim=0, out=g_rows[b:])
    return g_rows


class _PerPoint(torch.autograd.Function):
    """Shared rows copied to every point (generic autograd would zero-fill and copy)."""

    @staticmethod
    def forward(ctx, rows, b):
        out = _stacked_empty(rows, b)
        out[:, 0] = rows[:b]
        out[:, 1:] = rows[b:].unsqueeze(0)
        ctx.b = b
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        return _shared_gradient(g, ctx.b), None


def with_offset(y, ins, offset, forward_rows):
    """``y`` with the op's constant added to its forward rows (in place when ``y`` is a
    fresh tensor; a view of an input, such as a reshape's, is copied first)."""
    if offset is None:
        return y
    if any(y.untyped_storage().data_ptr() == t.untyped_storage().data_ptr() for t in ins):
        y = y.clone()
    return _AddToRows.apply(y, offset, forward_rows)


class _AddToRows(torch.autograd.Function):
    """``y[rows] += offset`` in place; backward passes ``y``'s gradient through as it is.

    ``y`` is not marked dirty: it is usually a view (a convolution's ``[B * (1 + k), ...]``
    result seen as ``[B, 1 + k, ...]``), and autograd's node for an in-place change of a
    view copies the whole gradient three times and clones it once more. Returned unmarked,
    ``y`` comes back as an alias with this node as its history, which is exact here: its
    gradient is ``y``'s own. Nothing saves ``y`` for backward (it is a fresh affine result;
    if something did, autograd's version check would refuse the backward, not compute a
    wrong gradient)."""

    @staticmethod
    def forward(ctx, y, offset, rows):
        y[rows].add_(offset)
        ctx.rows, ctx.shape = rows, offset.shape
        return y

    @staticmethod
    def backward(ctx, g):
        g_offset = None
        if ctx.needs_input_grad[1]:
            part = g[ctx.rows]
            lead = part.dim() - len(ctx.shape)
            g_offset = part.sum(dim=tuple(range(lead)))
            keep = [d for d, n in enumerate(ctx.shape) if n == 1 and g_offset.shape[d] != 1]
            if keep:
                g_offset = g_offset.sum(dim=keep, keepdim=True)
        return g, g_offset, None


class SharedElementwise(torch.autograd.Function):
    """:class:`Elementwise` on shared rows ``[B + k, *shape]`` (the first pattern op),
    without writing the unmasked per-point copies first."""

    @staticmethod
    def forward(ctx, rows, slopes, b, scale):
        ctx.set_materialize_grads(False)
        out = _stacked_empty(rows, b)
        fwd, tangents = rows[:b], rows[b:]
        slopes = slopes.squeeze(1)
        torch.mul(fwd, slopes, out=out[:, 0])
        torch.mul(tangents.unsqueeze(0), slopes.unsqueeze(1), out=out[:, 1:])
        z = fwd.reshape(b, -1)
        sq = tangents.square().sum(dim=0).mul_(scale).reshape(1, -1).expand(b, -1)
        ctx.save_for_backward(rows, slopes)
        ctx.b, ctx.scale = b, scale
        return out, z, sq

    @staticmethod
    @once_differentiable
    def backward(ctx, g_out, g_z, g_sq):
        rows, slopes = ctx.saved_tensors
        b = ctx.b
        g_rows = _empty_laid_out_as(rows, (rows.shape[0],))
        fwd, tangents = g_rows[:b], g_rows[b:]
        if g_out is None:
            g_rows.zero_()
        else:  # forward rows: one product in place; tangent rows: summed over the points
            torch.mul(g_out[:, 0], slopes, out=fwd)
            product = torch.empty_like(fwd)  # one tangent row at a time: a cache-sized buffer
            for j in range(tangents.shape[0]):
                torch.sum(torch.mul(g_out[:, 1 + j], slopes, out=product), dim=0,
                          out=tangents[j])
        if g_z is not None:
            fwd.add_(g_z.reshape(fwd.shape))
        if g_sq is not None:
            total = g_sq.sum(dim=0).reshape(rows.shape[1:])
            tangents.addcmul_(rows[b:], (2 * ctx.scale * total).unsqueeze(0))
        return g_rows, None, None, None


class Elementwise(torch.autograd.Function):
    """A frozen elementwise pattern op on stacked rows ``[B, 1 + k, *shape]``:
    ``(rows * slopes, z [B, n], sum of the tangent rows' squares [B, n])``.

    One node with a hand-written backward that writes the input's gradient once: the
    generic graph (slices of the rows, squares, sums) zero-fills and copies it several
    times. The result keeps the rows' memory layout (channels-last after a convolution).
    """

    @staticmethod
    def forward(ctx, rows, slopes, scale):
        ctx.set_materialize_grads(False)  # an unused output: None, not zeros (a slope
        b = rows.shape[0]                 # that shapes no used output gets no gradient)
        out = torch.mul(rows, slopes, out=torch.empty_like(rows))
        z = rows[:, 0].reshape(b, -1)
        sq = rows[:, 1].square()  # k axes: k passes over [B, *shape] (a norm over the
        for j in range(2, rows.shape[1]):  # strided axis 1 is far slower)
            sq.addcmul_(rows[:, j], rows[:, j])
        sq = sq.mul_(scale).reshape(b, -1)
        ctx.save_for_backward(rows, slopes)
        ctx.scale = scale
        return out, z, sq

    @staticmethod
    @once_differentiable
    def backward(ctx, g_out, g_z, g_sq):
        rows, slopes = ctx.saved_tensors
        shape = (rows.shape[0],) + rows.shape[2:]
        g = torch.empty_like(rows)
        if g_out is not None:
            torch.mul(g_out, slopes, out=g)
        else:
            g.zero_()
        if g_z is not None:
            g[:, 0].add_(g_z.reshape(shape))
        if g_sq is not None:
            if g_sq.stride(1) == 0:  # one value per point (a mean over the units)
                factor = g_sq[:, :1].reshape((-1, 1) + (1,) * (rows.dim() - 2))
            else:
                factor = g_sq.reshape(shape).unsqueeze(1)
            g[:, 1:].addcmul_(rows[:, 1:], factor, value=2 * ctx.scale)
        g_slopes = None
        if ctx.needs_input_grad[1] and g_out is not None:
            g_slopes = (g_out * rows).sum_to_size(slopes.shape)
        return g, g_slopes, None
