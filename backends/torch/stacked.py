"""Forward and tangent rows in one batched call per layer, for any supported network.

The general engine (:mod:`plnet.backends.torch.perturbation`) runs the forward pass, then
pushes ``k`` one-hot tangents through the frozen network: two calls of every convolution
forward, two more backward. For Eq. 10's few sampled axes this module carries the forward
rows and the tangent rows of every node TOGETHER, as one batch of one call per layer:

- until the first pattern op the tangents are the same for every point; a node holds
  ``[B + k, *shape]`` rows (the B forward rows, then the k shared tangent rows);
- from there on a node holds ``[B, 1 + k, *shape]``: per point its forward row, then its k
  tangent rows. This is the lowerings' tangent layout ``[R, K, *shape]`` with
  ``K = 1 + k``, so every lowering's ``tangent`` runs on it unchanged: a frozen ReLU
  multiplies the forward row by its slopes too (which gives ``relu(z)``), a frozen max
  pool gathers the selected input (the window's maximum).

An affine op's constant (a bias, a shift: :meth:`AffineLowering.offset`) is added to the
forward rows only. Which ops take this path is :func:`unsupported_steps`; a network with
any other op (an affine lowering whose forward adds something without declaring it as its
``offset``) takes the general engine, which gives the same numbers. Dense chains keep
their own, faster single-node pass (:mod:`plnet.backends.torch.fused`).
"""

from __future__ import annotations

import math

import torch
from torch.autograd.function import once_differentiable

from plnet.backends.torch.lowerings.base import AffineLowering
from plnet.backends.torch.perturbation import flatten_dense_fusions


def unsupported_steps(module) -> list[str]:
    """Names of the nodes this pass cannot run (cached on the module; [] when it can)."""
    cached = module.__dict__.get("_stacked_unsupported")
    if cached is None:
        cached = [step.name for step in module.steps if not step.lowering.carries_pattern
                  and not _offset_known(step.lowering)]
        module.__dict__["_stacked_unsupported"] = cached
    return cached


def _offset_known(lowering) -> bool:
    cls = type(lowering)
    return cls.forward is AffineLowering.forward or cls.offset is not AffineLowering.offset


def fits(module, batch: int, num_axes: int) -> bool:
    """Whether every node's ``(1 + k) * B`` rows (with autograd's saved copies) fit the
    engines' budget; many axes go through the general engine, chunked over axes."""
    from plnet.backends.torch.gradients import WORKSPACE_BYTES

    itemsize = torch.empty((), dtype=module.dtype).element_size()
    total = sum(math.prod(s) for s in module.net.shapes.values())
    return 2 * (1 + num_axes) * batch * total * itemsize <= WORKSPACE_BYTES


def stacked_sampled_terms(module, x, columns, scale=1.0):
    """Logits, every unit's value and its squared gradient summed over ``columns``.

    Args:
        module: a compiled network with no :func:`unsupported_steps`.
        x: ``[B, *input_shape]``, already prepared.
        columns: ``[k]`` long tensor of flat input axes.
        scale: factor applied to the sums of squares (Eq. 10's ``D / k``).

    Returns:
        ``(logits [B, *output_shape], z [B, N], sq [B, N])`` with
        ``sq = scale * sum_axes (dz/dx_axis)^2``, differentiable in the parameters (and in
        ``x``).
    """
    params = module.param_tensors()
    b, k = x.shape[0], len(columns)
    env, shared = [None] * len(module.steps), [False] * len(module.steps)
    flattened = flatten_dense_fusions(module)
    values, squares = [], []
    for i, step in enumerate(module.steps):
        low = step.lowering
        if not step.inputs:
            eye = torch.zeros((k, module.input_size), dtype=x.dtype, device=x.device)
            eye[torch.arange(k, device=x.device), columns] = 1
            env[i] = torch.cat([x, eye.reshape((k,) + module.input_shape)])
            shared[i] = True
            continue
        ins = [env[j] for j in step.inputs]
        if i in flattened:  # the dense consumer reads the images as they lie
            env[i], shared[i] = ins[0], shared[step.inputs[0]]
        elif step.inputs[0] in flattened:
            env[i], shared[i] = _dense_of_images(low, ins[0], shared[step.inputs[0]], b,
                                                 params), shared[step.inputs[0]]
        elif low.carries_pattern:
            env[i], z, sq = _pattern_step(low, ins[0], shared[step.inputs[0]], b, params)
            values.append(z)
            squares.append(sq)
        elif all(shared[j] for j in step.inputs):
            env[i] = _with_offset(low.linear(ins, params), ins, low.offset(params),
                                  (slice(0, b),))
            shared[i] = True
        else:
            ins = [r if not shared[j] else _per_point(r, b)
                   for r, j in zip(ins, step.inputs)]
            env[i] = _with_offset(low.tangent(ins, params), ins, low.offset(params),
                                  (slice(None), 0))
        for j in step.free:
            env[j] = None
    out = env[module.output_index]
    logits = out[:b] if shared[module.output_index] else out[:, 0]
    if not values:
        empty = x.new_zeros((b, 0))
        return logits, empty, empty
    return logits, torch.cat(values, dim=1), torch.cat(squares, dim=1).mul(scale)


def _dense_of_images(low, rows, shared, b, params):
    """A dense layer on the flatten of image rows (``[B + k, C, H, W]`` shared or
    ``[B, 1 + k, C, H, W]``), channels-last images read as they lie: a flatten would copy
    them to channels-first order, and its gradient would reach the convolutions and the
    elementwise ops before them in that order, converted back or mixed with the
    channels-last rows (several times slower)."""
    images = rows.unsqueeze(0) if shared else rows
    y = low.image_tangent(images, params)
    y = y.reshape(rows.shape[0], -1) if shared else y
    return _with_offset(y, [rows], low.offset(params),
                        (slice(0, b),) if shared else (slice(None), 0))


def _per_point(rows, b):
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


def _with_offset(y, ins, offset, forward_rows):
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


def _pattern_step(low, rows, shared, b, params):
    """A pattern op on stacked rows: ``(its rows [B, 1 + k, *out], z [B, n], sq [B, n])``
    with ``sq`` the sum over the k tangent rows of the units' squared tangents."""
    frozen = low.indicator(rows[:b] if shared else rows[:, 0])
    if low.elementwise:  # the units are the input's elements
        slopes = low.slopes(frozen, params, rows.dtype)
        if shared and not slopes.requires_grad:
            return _SharedElementwise.apply(rows, slopes, b)
        return _Elementwise.apply(rows if not shared else _per_point(rows, b), slopes)
    if shared:
        rows = _per_point(rows, b)
    units = low.unit_tangents(rows, frozen)
    return low.tangent([rows], params, frozen), units[:, 0], units[:, 1:].square().sum(dim=1)


class _SharedElementwise(torch.autograd.Function):
    """:class:`_Elementwise` on shared rows ``[B + k, *shape]`` (the first pattern op),
    without writing the unmasked per-point copies first."""

    @staticmethod
    def forward(ctx, rows, slopes, b):
        ctx.set_materialize_grads(False)
        out = _stacked_empty(rows, b)
        fwd, tangents = rows[:b], rows[b:]
        slopes = slopes.squeeze(1)
        torch.mul(fwd, slopes, out=out[:, 0])
        torch.mul(tangents.unsqueeze(0), slopes.unsqueeze(1), out=out[:, 1:])
        z = fwd.reshape(b, -1)
        sq = tangents.square().sum(dim=0).reshape(1, -1).expand(b, -1)
        ctx.save_for_backward(rows, slopes)
        ctx.b = b
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
            torch.sum(g_out[:, 1:] * slopes.unsqueeze(1), dim=0, out=tangents)
        if g_z is not None:
            fwd.add_(g_z.reshape(fwd.shape))
        if g_sq is not None:
            total = g_sq.sum(dim=0).reshape(rows.shape[1:])
            tangents.addcmul_(rows[b:], (2 * total).unsqueeze(0))
        return g_rows, None, None


class _Elementwise(torch.autograd.Function):
    """A frozen elementwise pattern op on stacked rows ``[B, 1 + k, *shape]``:
    ``(rows * slopes, z [B, n], sum of the tangent rows' squares [B, n])``.

    One node with a hand-written backward that writes the input's gradient once: the
    generic graph (slices of the rows, squares, sums) zero-fills and copies it several
    times. The result keeps the rows' memory layout (channels-last after a convolution).
    """

    @staticmethod
    def forward(ctx, rows, slopes):
        ctx.set_materialize_grads(False)  # an unused output: None, not zeros (a slope
        b = rows.shape[0]                 # that shapes no used output gets no gradient)
        out = torch.mul(rows, slopes, out=torch.empty_like(rows))
        z = rows[:, 0].reshape(b, -1)
        sq = rows[:, 1].square()  # k axes: k passes over [B, *shape] (a norm over the
        for j in range(2, rows.shape[1]):  # strided axis 1 is far slower)
            sq.addcmul_(rows[:, j], rows[:, j])
        sq = sq.reshape(b, -1)
        ctx.save_for_backward(rows, slopes)
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
            g[:, 1:].addcmul_(rows[:, 1:], (2 * g_sq).reshape(shape).unsqueeze(1))
        g_slopes = None
        if ctx.needs_input_grad[1] and g_out is not None:
            g_slopes = (g_out * rows).sum_to_size(slopes.shape)
        return g, g_slopes
