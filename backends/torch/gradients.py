"""Exact input-gradients of every unit, and their norms, on the linear region of each point.

Two engines compute the same numbers (both exact, not finite differences):

- ``"perturbation"`` (paper, Section 4.1, Appendix C): forward the one-hot input
  perturbations through the network with its activation pattern frozen; handles every op.
- ``"recursion"`` (paper, Appendix D): multiply dense Jacobians layer by layer; the
  cheaper choice for dense chains (MLPs, unrolled RNNs, residual MLPs).

``"auto"`` takes the recursion when the network has no convolution or average pooling.
Both run in chunks of input axes under a memory budget. Under ``torch.no_grad()`` (or with
parameters that do not require grad) they write into preallocated memory; otherwise the
result is built out of place and is differentiable in the parameters, as ROLL training
needs.
"""

from __future__ import annotations

import math

import torch

from plnet.backends.torch.perturbation import (FrozenPattern, Workspace, freeze_pattern,
                                               propagate_tangents)
from plnet.backends.torch.patch_engine import patch_plan, propagate_patches
from plnet.backends.torch.recursion import (RecursionPlan, propagate_jacobians,
                                            unsupported_nodes)
from plnet.backends.torch.sinks import DenseSink, NormSink
from plnet.errors import InvalidInputError

#: Bytes of intermediate tangents one chunk of input axes may take (the result itself,
#: [B, N, K], is not counted: it has to exist anyway).
WORKSPACE_BYTES = 1 << 30
#: Bytes the receptive-field patches of one group of points may take: a few points at a
#: time stay in cache (certify of 64 points of resnet_2b's shape: 15.6 points/s in groups
#: of 1 GiB, 24-25 in groups of 64-256 MiB)
PATCH_BYTES = 128 << 20
#: On the CPU, bytes of one node's tangents in one chunk when the perturbation engine
#: feeds norms: each node is read back by the next ops while it is still in the
#: last-level cache (resnet_2b certify on 8 points: chunks of 1536 axes, 25 MB a node, 10%
#: faster than all 3072 at once; the MLP's margins 15%). Not for a dense result: its
#: chunks' columns are strided writes into ``[B, N, D]`` (the MLP's gradients: 1.7x slower)
CPU_NODE_BYTES = 32 << 20

METHODS = ("auto", "perturbation", "recursion")


def _check_module(module):
    from plnet.backends.torch.compiled import CompiledNetwork

    if not isinstance(module, CompiledNetwork):
        raise InvalidInputError(f"expected a CompiledNetwork (from plnet.backends.torch."
                                f"compile), got {type(module).__name__}")


def prepare(module, x) -> torch.Tensor:
    """Validate ``x`` ``[B, *input_shape]`` (finite, non-empty) on the module's device."""
    _check_module(module)
    x = module.prepare_input(x)
    if x.shape[0] == 0:
        raise InvalidInputError("x is an empty batch (B = 0)")
    # one reduction decides the common case: a finite sum means every entry is finite; only
    # a non-finite sum (NaN/inf, or an overflow of huge finite values) needs the full check
    if not math.isfinite(float(x.detach().sum())) and not bool(torch.isfinite(x).all()):
        raise InvalidInputError("x holds NaN or inf")
    return x


def resolve_axes(module, axes) -> torch.Tensor:
    """``axes`` (None: all D) as a long tensor of flat input positions."""
    d = module.input_size
    if axes is None:
        return torch.arange(d, device=module.device)
    try:
        cols = torch.as_tensor(axes, dtype=torch.long).reshape(-1)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InvalidInputError(f"axes must be flat input indices (ints), got {axes!r}") from exc
    if len(cols) == 0:
        raise InvalidInputError("axes is empty: pass None for every input axis")
    if bool(((cols < 0) | (cols >= d)).any()):
        raise InvalidInputError(f"axes must lie in [0, {d}) (flat input positions; D = {d}), "
                                f"got values from {int(cols.min())} to {int(cols.max())}")
    return cols.to(module.device)


def resolve_method(module, method) -> str:
    if method not in METHODS:
        raise InvalidInputError(f"method must be one of {METHODS}, got {method!r}")
    if method == "auto":
        return "perturbation" if unsupported_nodes(module) else "recursion"
    return method


def needs_graph(module, x) -> bool:
    """Whether the caller may back-propagate through the result."""
    return torch.is_grad_enabled() and (x.requires_grad or any(
        p.requires_grad for p in module.parameters()))


def chunk_width(module, batch, num_axes, chunk_size, per_column_extra=0,
                skipped=(), cache_blocked=False) -> int:
    """Input axes per chunk: ``chunk_size``, or as many as fit the workspace budget (the
    steps in ``skipped``, run on receptive-field patches, hold no dense tangents) and, if
    ``cache_blocked`` on the CPU, :data:`CPU_NODE_BYTES` a node."""
    if chunk_size is not None:
        if int(chunk_size) < 1:
            raise InvalidInputError(f"chunk_size must be >= 1, got {chunk_size}")
        return min(int(chunk_size), num_axes)
    itemsize = torch.empty((), dtype=module.dtype).element_size()
    # nodes are freed after their last use: a few of the largest are alive at once
    widest = max((math.prod(module.net.shapes[step.name])
                  for i, step in enumerate(module.steps) if i not in skipped), default=1)
    per_column = itemsize * batch * (4 * widest + per_column_extra)
    width = max(1, min(num_axes, WORKSPACE_BYTES // max(per_column, 1)))
    if cache_blocked and module.device.type == "cpu":
        width = max(1, min(width, CPU_NODE_BYTES // max(itemsize * batch * widest, 1)))
    return -(-num_axes // -(-num_axes // width))  # equal chunks, no small remainder


def run_engine(module, x, columns, sink, *, method="auto", chunk_size=None,
               per_column_extra=0, want_output=False):
    """Freeze the pattern of ``x``, then stream the unit gradients into ``sink``.

    Returns:
        ``(pattern, output_jacobian)``: a :class:`FrozenPattern` and, when
        ``want_output``, the output's Jacobian ``[B, L, k]`` (else None).
    """
    method = resolve_method(module, method)
    pattern = freeze_pattern(module, x)
    b, total = pattern.batch_size, len(columns)
    # norms reduce each chunk as it comes: the perturbation engine's chunks can be cache-sized
    blocked = method == "perturbation" and getattr(sink, "reduces_axes", False)
    width = chunk_width(module, b, total, chunk_size, per_column_extra,
                        cache_blocked=blocked)
    plan = None
    if method == "recursion":
        plan = getattr(module, "_recursion_plan", None)
        if plan is None:
            plan = module._recursion_plan = RecursionPlan(module)
    workspace = None
    if sink.inplace:
        workspace = getattr(module, "_workspace", None)
        if workspace is None:
            workspace = module._workspace = Workspace()
    patches = _patch_plan_for(module, plan, sink, columns)
    if patches is None:
        return pattern, _stream(module, pattern, columns, sink, width, plan, workspace,
                                want_output)
    # receptive-field patches for all D axes at once, points in groups that fit the budget
    group = max(1, PATCH_BYTES // max(1, patches.bytes_per_point(module.dtype)))
    outputs = []
    for start in range(0, b, group):
        rows = slice(start, min(b, start + group))
        part, part_sink = pattern.rows(rows), sink.rows(rows)
        kept = propagate_patches(
            module, patches, part, workspace,
            lambda step, units: part_sink.put_units(step.unit_slice, units,
                                                    module.input_shape))
        width = chunk_width(module, rows.stop - rows.start, total, chunk_size,
                            per_column_extra,
                            skipped=set(patches.geometry) - patches.handover,
                            cache_blocked=blocked)
        outputs.append(_stream(module, part, columns, part_sink, width, None, workspace,
                               want_output, (patches, kept)))
    return pattern, torch.cat(outputs) if want_output else None


def _patch_plan_for(module, recursion_plan, sink, columns):
    """The module's patch plan when the perturbation engine can use it here: all D axes,
    no autograd graph, and some pattern node's units come from patches."""
    if recursion_plan is not None or not sink.inplace or len(columns) != module.input_size:
        return None
    if not bool((columns == torch.arange(len(columns), device=columns.device)).all()):
        return None
    plan = patch_plan(module)
    return plan if plan.pattern_steps else None


def _stream(module, pattern, columns, sink, width, plan, workspace, want_output,
            patched=None):
    """The chunks of input axes through one engine; the output's Jacobian if asked."""
    b, total = pattern.batch_size, len(columns)
    outputs = []
    for start in range(0, total, width):
        cols = columns[start:start + width]
        sink.begin_chunk(slice(start, start + len(cols)))
        if plan is not None:
            out = propagate_jacobians(module, plan, pattern, cols, sink, workspace)
        else:
            t = propagate_tangents(module, pattern, cols, sink, workspace, want_output,
                                   patched)
            out = t.reshape(t.shape[0], t.shape[1], -1).transpose(1, 2) if want_output \
                else None
        sink.end_chunk()
        if want_output:
            outputs.append(out.expand((b,) + out.shape[1:]))
    return torch.cat(outputs, dim=2) if want_output else None


def unit_gradients(module, x, *, axes=None, chunk_size=None, method="auto", out=None):
    """Every unit's value and exact input-gradient on the linear region of each point.

    Args:
        module: a :class:`CompiledNetwork`.
        x: ``[B, *input_shape]`` (array or tensor).
        axes: flat input positions to differentiate along (None: all D).
        chunk_size: input axes per pass (None: as many as fit a 1 GiB workspace).
        method: ``"auto"``, ``"perturbation"`` or ``"recursion"`` (see the module doc).
        out: a contiguous ``[B, N, K]`` tensor of the module's dtype and device to write
            the gradients into (returned as ``grad``), when no autograd graph is needed
            (under ``torch.no_grad()``). Reusing one buffer over many batches saves what
            fresh memory of that size costs (without ``out``, a large result on the CPU
            comes from kernel-zeroed huge pages: :mod:`plnet.backends.torch.host_memory`).

    Returns:
        ``(z [B, N], grad [B, N, K])`` with K = D or ``len(axes)``; units in the numpy
        reference's order. Differentiable in the parameters unless computed under
        ``torch.no_grad()``; then large temporaries are kept on the module for the next
        call (``module.release_workspace()`` frees them).

    Raises:
        InvalidInputError: a bad ``x``, ``axes``, ``chunk_size`` or ``method``; an ``out``
            of another shape, dtype or device, not contiguous, or given where the result
            must be differentiable.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> import torch
        >>> from plnet.backends import torch as pt
        >>> module = pt.compile(net, dtype=torch.float64)
        >>> z, grad = pt.unit_gradients(module, x)     # [B, N], [B, N, D]
        >>> grad.tolist()
        [[[1.0, 0.0], [0.0, 1.0]]]
    """
    x = prepare(module, x)
    columns = resolve_axes(module, axes)
    inplace = not needs_graph(module, x)
    shape = (x.shape[0], module.num_units, len(columns))
    if out is not None:
        check_out(out, shape, module, inplace)
    sink = DenseSink(*shape, module.dtype, module.device, inplace=inplace, out=out)
    pattern, _ = run_engine(module, x, columns, sink, method=method, chunk_size=chunk_size)
    z, grad = pattern.z, sink.result()
    ok = finite_points(z, grad, sink.patch_sums)
    if not bool(ok.all()):
        # late: finite.py builds on this module, so a top-level import would be a cycle
        from plnet.backends.torch.finite import raise_non_finite

        raise_non_finite(module, x, ok)
    return z, grad


def check_out(out, shape, module, inplace):
    """Refuse an ``out`` buffer that :func:`unit_gradients` cannot write its result into."""
    if not isinstance(out, torch.Tensor):
        raise InvalidInputError(f"out must be a torch.Tensor, got {type(out).__name__}")
    if not inplace:
        raise InvalidInputError(
            "out= is for results without an autograd graph, but the parameters or x "
            "require grad: call unit_gradients under torch.no_grad(), or drop out=")
    expected = f"a contiguous {list(shape)} tensor of {module.dtype} on {module.device}"
    if tuple(out.shape) != shape:
        raise InvalidInputError(f"out has shape {list(out.shape)}; expected {expected} "
                                f"([B, N, K]: points, units, axes)")
    if out.dtype != module.dtype or out.device != module.device:
        raise InvalidInputError(f"out is {out.dtype} on {out.device}; expected {expected}")
    if not out.is_contiguous():
        raise InvalidInputError(f"out is not contiguous; expected {expected}")


def finite_points(z, grad, patch_sums=()) -> torch.Tensor:
    """``[B]`` bool: whether a point's values ``z [B, N]`` and gradients ``grad [B, N, K]``
    are all finite.

    A finite sum means every summand is finite (NaN and inf propagate through a sum), so
    one read pass decides the common case; only a point whose sum is not finite (a NaN or
    inf, or an overflow of huge finite values) takes the elementwise check. ``isfinite`` on
    ``[B, N, D]`` writes a bool tensor of that size in several passes, which cost more
    than a third of the CNN's all-unit gradients. ``patch_sums`` lists ``(unit slice,
    [B or 1] sum)`` for rows written from receptive-field patches (the sum of the entries
    written; the rest of those rows are zeros): they are not read again.
    """
    with torch.no_grad():
        sums = z.detach().sum(dim=1)
        for _, part in patch_sums:
            sums = sums + part
        for rows in _uncovered(grad.shape[1], [s for s, _ in patch_sums]):
            sums = sums + grad.detach()[:, rows].flatten(1).sum(dim=1)
        ok = torch.isfinite(sums)
        if bool(ok.all()):
            return ok
        return torch.isfinite(z).all(dim=1) & torch.isfinite(grad).flatten(1).all(dim=1)


def _uncovered(n, slices):
    """The slices of ``range(n)`` that none of ``slices`` covers."""
    gaps, start = [], 0
    for s in sorted(slices, key=lambda s: s.start):
        if s.start > start:
            gaps.append(slice(start, s.start))
        start = max(start, s.stop)
    return gaps + ([slice(start, n)] if start < n else [])


def unit_gradient_norms(module, x, kinds, *, axes=None, chunk_size=None, method="auto",
                        want_output=False):
    """Per-unit reductions of the gradients over the axes, ``[B, N]`` each.

    Args:
        kinds: subset of ``{"sq", "abs", "max"}`` (sum of squares, l1 norm, l_inf norm).

    Returns:
        ``(pattern, {kind: [B, N]}, output_jacobian or None)``.
    """
    x = prepare(module, x)
    columns = resolve_axes(module, axes)
    sink = NormSink(x.shape[0], module.num_units, kinds, module.dtype, module.device,
                    inplace=not needs_graph(module, x))
    pattern, out = run_engine(module, x, columns, sink, method=method, chunk_size=chunk_size,
                              per_column_extra=module.num_units, want_output=want_output)
    return pattern, sink.result(), out


def unit_gradient_sqnorms(module, x, *, axes=None, chunk_size=None, method="auto"):
    """``(z [B, N], sq [B, N])``: each unit's squared l2 gradient norm over the axes.

    Computed chunk by chunk over the input axes, so ``[B, N, D]`` is never formed at once;
    differentiable in the parameters (ROLL's loss back-propagates through it).

    Args:
        module: a compiled network.
        x: ``[B, *input_shape]`` (array or tensor).
        axes: flat input positions to differentiate along (None: all D).
        chunk_size: input axes per pass (None: as many as fit the workspace).
        method: ``"auto"``, ``"perturbation"`` or ``"recursion"``, as in :func:`unit_gradients`.

    Returns:
        ``(z [B, N], sq [B, N])``.

    Example:
        >>> b = plnet.NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))
        >>> net = b.build(b.dense(h, [[1.0, -1.0]], [0.0]))
        >>> x = np.array([[0.5, -0.25]])
        >>> import torch
        >>> from plnet.backends import torch as pt
        >>> module = pt.compile(net, dtype=torch.float64)
        >>> z, sq = pt.unit_gradient_sqnorms(module, x)
        >>> sq.tolist()
        [[1.0, 1.0]]
    """
    pattern, norms, _ = unit_gradient_norms(module, x, ("sq",), axes=axes,
                                            chunk_size=chunk_size, method=method)
    return pattern.z, norms["sq"]


__all__ = ["FrozenPattern", "unit_gradient_norms", "unit_gradient_sqnorms", "unit_gradients"]
