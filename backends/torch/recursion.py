"""The Jacobian recursion (paper, Appendix D): multiply Jacobians layer by layer.

Jacobians are unit-major, ``[R, n, k]`` (n flattened units of a node, k input axes,
R = B or 1 when no pattern op is upstream), so a dense layer is ``W @ J`` and the unit
gradients land in the ``[B, N, k]`` result without a transpose. A ReLU's 0/1 (or
LeakyReLU's 1/alpha) diagonal Jacobian is kept as a lazy row scale and folded into the
next dense layer's weight columns, ``(W diag(s)) J``, which costs ``out x in`` per point
instead of a pass over ``n x k``. Convolutions are not handled here: as a matrix they are
large and sparse (Appendix D), the perturbation engine handles them.

A Jacobian also keeps the range of input axes outside which it is zero, and only that
range is multiplied: an unrolled RNN's step t reads the first (t + 1) F input axes, so its
recursion does about half the products of a full-width one. The range comes from a
gather of input axes (the step's slice of the sequence) and grows by union at a sum; it
needs the chunk's axes in increasing order (as they are unless ``axes=`` says otherwise).

Each node's lowering says which primitive of :class:`JacobianRecursion` multiplies its
Jacobian (``jacobian_step``); the engine knows how to multiply, never which op it is.
"""

from __future__ import annotations

import numpy as np
import torch

from plnet.backends.torch.jacobians import (Jac, fits_span, materialize, materialize_span,
                                           write_span)
from plnet.backends.torch.perturbation import FrozenPattern, Workspace, one_hot_columns
from plnet.errors import UnsupportedOpError


def unsupported_nodes(module) -> list[str]:
    """Nodes the recursion cannot handle (convolutions, pooling), with their op."""
    return [f"{step.name} ({step.lowering.op.type_name})" for step in module.steps
            if not step.lowering.supports_recursion]


class RecursionPlan:
    """Static facts of a module the recursion needs: where a dense node may write."""

    def __init__(self, module):
        bad = unsupported_nodes(module)
        if bad:
            raise UnsupportedOpError(
                f"method='recursion' multiplies dense Jacobians and does not handle nodes "
                f"{bad}; use method='perturbation' (or 'auto') for this network")
        net = module.net
        position = {step.name: i for i, step in enumerate(module.steps)}
        #: node -> the unit slice of its only consumer, when that consumer's units are
        #: its input's elements: the node's Jacobian IS those units' gradients
        self.unit_consumer = {}
        for step in module.steps:
            consumers = list(net.graph.successors(step.name))
            if len(consumers) != 1 or step.name == net.output:
                continue
            child = module.steps[position[consumers[0]]]
            if child.unit_slice is not None and child.lowering.elementwise:
                self.unit_consumer[step.name] = child.unit_slice


class JacobianRecursion:
    """One chunk of input axes: the primitives a lowering's ``jacobian_step`` calls.

    Attributes:
        dtype: the module's dtype.
        step: the node being multiplied (set by :func:`propagate_jacobians`).
    """

    def __init__(self, module, plan, pattern, columns, sink, workspace):
        self.plan, self.sink, self.workspace = plan, sink, workspace
        self.batch, self.dtype = pattern.batch_size, module.dtype
        self.eye = one_hot_columns(columns, module.input_size, module.dtype,
                                   module.device).unsqueeze(0)
        self.columns = columns
        self.full = len(columns) == module.input_size and bool(
            (columns == torch.arange(len(columns), device=columns.device)).all())
        #: the chunk's axes on the CPU when increasing (spans are searched in them)
        self.ascending = columns.cpu() if len(columns) < 2 or bool(
            (columns[1:] > columns[:-1]).all()) else None
        self.step = None

    # --- affine ops ----------------------------------------------------------------------
    def identity(self):
        """The input's Jacobian."""
        return Jac(None)

    def view(self, jac):
        """An op whose Jacobian is the identity (a reshape)."""
        return Jac(jac.mat, jac.scale, span=jac.span)

    def row_scale(self, jac, factor):
        """``diag(factor) J`` for ``factor [1, n]``."""
        return Jac(jac.mat, factor if jac.scale is None else jac.scale * factor,
                   span=jac.span)

    def gather(self, jacs, positions):
        """Row ``i`` is row ``positions[i] - 1`` of the stacked inputs, or 0 where 0."""
        if len(jacs) == 1 and jacs[0].mat is None and jacs[0].scale is None \
                and self.ascending is not None:
            return self._gather_axes(positions)
        mats = [materialize(j, None, self.eye) for j in jacs]
        rows = max(m.shape[0] for m in mats)
        mats = [m.expand((rows,) + m.shape[1:]) for m in mats]
        zero = mats[0].new_zeros((rows, 1, mats[0].shape[2]))
        stacked = torch.cat([zero] + mats, dim=1)
        return Jac(stacked.index_select(1, positions.to(stacked.device)))

    def _gather_axes(self, positions):
        """Input axes ``positions - 1`` (0: a zero row): the rows of the identity, kept on
        the span of the chunk's columns between the least and the greatest axis."""
        axes = positions.cpu()
        axes = axes[axes > 0] - 1
        lo = hi = 0
        if len(axes):
            lo = int(torch.searchsorted(self.ascending, axes.min()))
            hi = int(torch.searchsorted(self.ascending, axes.max(), right=True))
        part = self.eye[:, :, lo:hi]
        stacked = torch.cat([part.new_zeros((1, 1, hi - lo)), part], dim=1)
        return Jac(stacked.index_select(1, positions.to(stacked.device)), span=(lo, hi))

    def sum(self, jacs):
        if all(j.span is not None for j in jacs):  # on the union of the spans
            return self._sum_spans(jacs)
        mats = [materialize(j, None, self.eye) for j in jacs]
        total = mats[0]
        for m in mats[1:]:
            total = total + m
        return Jac(total)

    def _sum_spans(self, jacs):
        """The sum on the union of the spans, written straight into the sink's memory when
        this node's units are stored there (an RNN step's pre-activations): the first
        part is copied, the columns it leaves are zeroed, the others are added."""
        lo, hi = min(j.span[0] for j in jacs), max(j.span[1] for j in jacs)
        parts = [materialize_span(j, None, self.eye) for j in jacs]
        shape = (max(p.shape[0] for p in parts), parts[0].shape[1], hi - lo)
        target, stored = self._unit_target(), None
        if target is not None and fits_span(target[1], shape, (lo, hi)):
            total = write_span(Jac(None, span=(lo, hi)), None, target[1], fill=False)
            stored = target[0]
        else:
            total = parts[0].new_empty(shape)
        (first_lo, first_hi), rest = jacs[0].span, zip(parts[1:], jacs[1:])
        total[:, :, first_lo - lo:first_hi - lo] = parts[0]
        total[:, :, :first_lo - lo].zero_()
        total[:, :, first_hi - lo:].zero_()
        for part, j in rest:
            total[:, :, j.span[0] - lo:j.span[1] - lo] += part
        return Jac(total, stored=stored, span=(lo, hi))

    def matmul(self, jac, weight, in_shape):
        """``W J`` over the last axis of an input of shape ``in_shape``."""
        n_in = in_shape[-1]
        rows_in = int(np.prod(in_shape[:-1]))
        if jac.mat is None and jac.scale is None and rows_in == 1:
            mat = weight if self.full else weight.index_select(1, self.columns)  # W I, no GEMM
            return Jac(mat.unsqueeze(0))
        if rows_in > 1:
            mat = materialize(jac, None, self.eye)
            r, _, k = mat.shape
            out = torch.matmul(weight, mat.reshape(r, rows_in, n_in, k))
            return Jac(out.reshape(r, -1, k))
        target = self._unit_target()
        mat = self.eye if jac.mat is None else jac.mat
        span = jac.span
        if jac.scale is not None and weight.shape[0] > mat.shape[2]:
            # few input axes (k < out): scaling J's in x k rows per point is cheaper than
            # W diag(s)'s out x in (a 2-d input: 50x less work for a 100-wide layer)
            mat = materialize_span(jac, None, self.eye)
            jac = Jac(mat, span=span)
        if jac.scale is None:
            if mat.shape[0] == 1:
                return Jac(torch.matmul(weight, mat[0]).unsqueeze(0), span=span)
            # the weight is shared: one (B * k, in) x (in, out) GEMM over every point's
            # columns (a stride-0 batch in bmm is several times slower)
            result = torch.matmul(mat.transpose(1, 2), weight.t()).transpose(1, 2)
            return self._store(target, result, span)
        elif target is not None:  # no autograd: W diag(s) per point into a reused buffer
            shape = (jac.scale.shape[0],) + tuple(weight.shape)
            left = torch.mul(weight.unsqueeze(0), jac.scale.unsqueeze(1),
                             out=self.workspace.get("left", shape, weight))
        else:
            left = weight.unsqueeze(0) * jac.scale.unsqueeze(1)  # W diag(s), per point
        if mat.shape[0] == 1:
            # a shared right operand: one (B * out, in) x (in, k) GEMM; a stride-0 batch in
            # bmm is several times slower
            return self._store(target, torch.matmul(left, mat[0]), span)
        left = left.expand((mat.shape[0],) + left.shape[1:])
        shape = (mat.shape[0], left.shape[1], mat.shape[2])
        if target is not None and fits_span(target[1], shape, span):
            # bmm into a strided slice of the result is several times slower than into
            # contiguous memory plus one copy
            result = torch.bmm(left, mat, out=self.workspace.get("out", shape, mat))
            return self._store(target, result, span)
        return Jac(torch.bmm(left, mat), span=span)

    def _store(self, target, result, span):
        """``result`` (the columns of ``span``) as a Jac, written into the sink's memory
        when ``target`` fits it."""
        if target is not None and fits_span(target[1], result.shape, span):
            stored = write_span(Jac(result, span=span), self.eye, target[1])
            return Jac(stored, stored=target[0], span=span)
        return Jac(result, span=span)

    def _unit_target(self):
        """``(unit slice, sink memory)`` the current node may write its Jacobian to."""
        unit_slice = self.plan.unit_consumer.get(self.step.name)
        if unit_slice is None:
            return None
        target = self.sink.target(unit_slice)
        return None if target is None else (unit_slice, target)

    # --- pattern ops ---------------------------------------------------------------------
    def diagonal(self, jac, slopes):
        """Units = the input's elements; the frozen map is ``diag(slopes [B, n])``."""
        unit_slice, batch = self.step.unit_slice, self.batch
        if jac.stored == unit_slice:
            self.sink.put(unit_slice, None, written=True)
        else:
            target = self.sink.target(unit_slice)
            if target is not None:
                stored = write_span(jac, self.eye, target)
                self.sink.put(unit_slice, None, written=True)
                # the stored copy is per point: the next dense layer runs one regular bmm
                return Jac(stored, slopes, span=jac.span)
            # shared: 1 row; a sink that only reduces over the axes takes the span alone
            self.sink.put(unit_slice, materialize_span(jac, None, self.eye)
                          if getattr(self.sink, "reduces_axes", False)
                          else materialize(jac, None, self.eye))
        return Jac(jac.mat if jac.mat is not None else self.eye,
                   slopes if jac.scale is None else jac.scale * slopes, span=jac.span)

    def select(self, jac, out_rows, plus_rows, minus_rows):
        """Output ``i`` is input row ``out_rows[:, i]``; unit ``r`` is row ``plus_rows[:, r]``
        minus row ``minus_rows[:, r]`` (all ``[B, n]``)."""
        mat = materialize(jac, self.batch, self.eye)
        k = mat.shape[2]

        def rows(index):
            return mat.gather(1, index.unsqueeze(2).expand(-1, -1, k))

        self.sink.put(self.step.unit_slice, rows(plus_rows) - rows(minus_rows))
        return Jac(rows(out_rows))


def propagate_jacobians(module, plan: RecursionPlan, pattern: FrozenPattern, columns, sink,
                        workspace=None):
    """Unit-major Jacobian recursion; same contract as ``propagate_tangents``.

    Returns:
        The output's Jacobian ``[R, L, k]``.
    """
    params = module.param_tensors()
    rec = JacobianRecursion(module, plan, pattern, columns, sink,
                            Workspace() if workspace is None else workspace)
    env = [None] * len(module.steps)
    for i, step in enumerate(module.steps):
        rec.step = step
        env[i] = step.lowering.jacobian_step(rec, [env[j] for j in step.inputs], params,
                                             pattern.indicators.get(step.name))
        for j in step.free:
            env[j] = None
    return materialize(env[module.output_index], None, rec.eye)
