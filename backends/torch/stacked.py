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

On images (:func:`plnet.backends.torch.cones.usable`) the pass starts with forward cones
instead (:mod:`plnet.backends.torch.cones`): each axis's tangents only on the window of
positions its pixel reaches, until an op without a cone rule or a window too wide for its
grid turns them into the rows above.

An affine op's constant (a bias, a shift: :meth:`AffineLowering.offset`) is added to the
forward rows only. Which ops take this path is :func:`unsupported_steps`; a network with
any other op (an affine lowering whose forward adds something without declaring it as its
``offset``) takes the general engine, which gives the same numbers. Dense chains keep
their own, faster single-node pass (:mod:`plnet.backends.torch.fused`).
"""

from __future__ import annotations

import math

import torch

from plnet.backends.torch import cones
from plnet.backends.torch.lowerings.base import AffineLowering
from plnet.backends.torch.perturbation import flatten_dense_fusions
from plnet.backends.torch.stacked_nodes import (Elementwise, SharedElementwise, per_point,
                                                with_offset)


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


def stacked_sampled_terms(module, x, columns, scale=1.0, with_cones=None, budget=None):
    """:func:`_stacked_terms`, or None when an op on cones would allocate past the
    ``budget`` (:class:`cones.OverBudget`, raised before allocating)."""
    try:
        return _stacked_terms(module, x, columns, scale, with_cones, budget)
    except cones.OverBudget:
        return None


def _stacked_terms(module, x, columns, scale=1.0, with_cones=None, budget=None):
    """Logits, every unit's value and its squared gradient summed over ``columns``.

    Args:
        module: a compiled network with no :func:`unsupported_steps`.
        x: ``[B, *input_shape]``, already prepared.
        columns: ``[k]`` long tensor of flat input axes.
        scale: factor applied to the sums of squares (Eq. 10's ``D / k``).
        with_cones: start with forward cones (default: when :func:`cones.usable`).
        budget: None, or bytes: give up (return None) once the nodes made so far, counted
            twice for autograd's saved copies and gradients, exceed it.

    Returns:
        ``(logits [B, *output_shape], z [B, N], sq [B, N])`` with
        ``sq = scale * sum_axes (dz/dx_axis)^2``, differentiable in the parameters (and in
        ``x``); None past the ``budget``.
    """
    params = module.param_tensors()
    b, k = x.shape[0], len(columns)
    env, shared = [None] * len(module.steps), [False] * len(module.steps)
    flattened = flatten_dense_fusions(module)
    values, squares = [], []
    start_with_cones = cones.usable(module, k) if with_cones is None else with_cones
    used = 0
    for i, step in enumerate(module.steps):
        if budget is not None and i:
            used += _bytes(env[i - 1])
            if 2 * used > budget:
                return None
            for j in step.inputs:  # what this step's ops on cones may allocate
                if isinstance(env[j], cones.Cone):
                    env[j].limit = budget / 2 - used
        low = step.lowering
        if not step.inputs and start_with_cones:
            env[i] = cones.input_cone(x, columns, module.input_shape)
            continue
        if not step.inputs:
            eye = torch.zeros((k, module.input_size), dtype=x.dtype, device=x.device)
            eye[torch.arange(k, device=x.device), columns] = 1
            env[i] = torch.cat([x, eye.reshape((k,) + module.input_shape)])
            shared[i] = True
            continue
        if any(isinstance(env[j], cones.Cone) for j in step.inputs):
            done = _cone_step(i, step, [env[j] for j in step.inputs], flattened, b, params,
                              scale)
            if done is None:  # no rule for the op: full-size rows from here on
                for j in step.inputs:
                    if isinstance(env[j], cones.Cone):
                        env[j], shared[j] = cones.to_rows(env[j], b)
                        used += _bytes(env[j])
            else:
                env[i], shared[i], terms = done
                if terms is not None:
                    values.append(terms[0])
                    squares.append(terms[1])
                for j in step.free:
                    env[j] = None
                continue
        ins = [env[j] for j in step.inputs]
        if i in flattened:  # the dense consumer reads the images as they lie
            env[i], shared[i] = ins[0], shared[step.inputs[0]]
        elif step.inputs[0] in flattened:
            env[i], shared[i] = _dense_of_images(low, ins[0], shared[step.inputs[0]], b,
                                                 params), shared[step.inputs[0]]
        elif low.carries_pattern:
            env[i], z, sq = _pattern_step(low, ins[0], shared[step.inputs[0]], b, params,
                                          scale)
            values.append(z)
            squares.append(sq)
        elif all(shared[j] for j in step.inputs):
            env[i] = with_offset(low.linear(ins, params), ins, low.offset(params),
                                 (slice(0, b),))
            shared[i] = True
        else:
            ins = [r if not shared[j] else per_point(r, b)
                   for r, j in zip(ins, step.inputs)]
            env[i] = with_offset(low.tangent(ins, params), ins, low.offset(params),
                                 (slice(None), 0))
        for j in step.free:
            env[j] = None
    out = env[module.output_index]
    if isinstance(out, cones.Cone):
        logits = out.fwd
    else:
        logits = out[:b] if shared[module.output_index] else out[:, 0]
    if not values:
        empty = x.new_zeros((b, 0))
        return logits, empty, empty
    return logits, torch.cat(values, dim=1), torch.cat(squares, dim=1)


def _bytes(node) -> int:
    """Memory of a node's rows or cone (0 for a node already freed)."""
    if node is None:
        return 0
    if isinstance(node, cones.Cone):
        return node.t.numel() * node.t.element_size() + _bytes(node.fwd)
    return node.numel() * node.element_size()


def _cone_step(i, step, ins, flattened, b, params, scale):
    """A step on forward cones (:mod:`plnet.backends.torch.cones`): ``(its node, shared,
    (z, sq) of a pattern op or None)``, or None when the op has no cone rule."""
    low = step.lowering
    if i in flattened:  # the dense consumer reads the windows
        return ins[0], False, None
    if step.inputs[0] in flattened:
        rows, shared = cones.dense_rows(low, ins[0], params, b)
        return rows, shared, None
    if not hasattr(low, "cone_tangent") or not all(isinstance(c, cones.Cone) for c in ins) \
            or (low.carries_pattern and not low.elementwise):
        return None
    frozen = low.indicator(ins[0].fwd) if low.carries_pattern else None
    result = low.cone_tangent(ins, params, frozen)
    if result is None:
        return None
    node = cones.Cone(low.forward([c.fwd for c in ins], params), *result)
    terms = None
    if low.carries_pattern:  # elementwise: the units are the input's elements
        terms = ins[0].fwd.reshape(b, -1), cones.squares(ins[0], b, scale)
    if cones.too_wide(node):
        return (*cones.to_rows(node, b), terms)
    return node, False, terms


def _dense_of_images(low, rows, shared, b, params):
    """A dense layer on the flatten of image rows (``[B + k, C, H, W]`` shared or
    ``[B, 1 + k, C, H, W]``), channels-last images read as they lie: a flatten would copy
    them to channels-first order, and its gradient would reach the convolutions and the
    elementwise ops before them in that order, converted back or mixed with the
    channels-last rows (several times slower)."""
    images = rows.unsqueeze(0) if shared else rows
    y = low.image_tangent(images, params)
    y = y.reshape(rows.shape[0], -1) if shared else y
    return with_offset(y, [rows], low.offset(params),
                       (slice(0, b),) if shared else (slice(None), 0))


def _pattern_step(low, rows, shared, b, params, scale):
    """A pattern op on stacked rows: ``(its rows [B, 1 + k, *out], z [B, n], sq [B, n])``
    with ``sq`` ``scale`` times the sum over the k tangent rows of the units' squared
    tangents (scaled here: a product of the whole ``sq`` would turn the gradient of a mean
    over units, one scalar per point, into a ``[B, N]`` tensor)."""
    frozen = low.indicator(rows[:b] if shared else rows[:, 0])
    if low.elementwise:  # the units are the input's elements
        slopes = low.slopes(frozen, params, rows.dtype)
        if shared and not slopes.requires_grad:
            return SharedElementwise.apply(rows, slopes, b, scale)
        return Elementwise.apply(rows if not shared else per_point(rows, b), slopes, scale)
    if shared:
        rows = per_point(rows, b)
    units = low.unit_tangents(rows, frozen)
    return (low.tangent([rows], params, frozen), units[:, 0],
            units[:, 1:].square().sum(dim=1) * scale)
