"""Where the gradient engines put each pattern node's unit gradients.

An engine hands every pattern node's gradients ``[B, n, k]`` (k input axes of the current
chunk) to a sink. :class:`DenseSink` assembles the full ``[B, N, K]`` tensor;
:class:`NormSink` only keeps per-unit reductions over the axes (sum of squares, sum of
absolute values, max of absolute values), so ``[B, N, D]`` never exists at once.

``inplace`` sinks (used when no autograd graph is needed) write into preallocated memory;
the others build their result out of place so that autograd can go through it.
"""

from __future__ import annotations

import torch

from plnet.backends.torch import host_memory
from plnet.backends.torch.patch_engine import unit_norms, write_gradients
from plnet.backends.torch.reductions import axis_reductions


class DenseSink:
    """Collects ``[B, N, K]`` gradients, chunk by chunk over the K axes."""

    def __init__(self, batch, num_units, num_axes, dtype, device, inplace, out=None):
        self.inplace = inplace
        self.columns = slice(0, 0)
        #: whether ``out`` holds zeros until written (fresh memory, not the caller's)
        self.zeroed = inplace and out is None
        if inplace:  # ``out``: the caller's buffer of this shape, dtype and device
            self.out = out if out is not None else host_memory.zeros(
                (batch, num_units, num_axes), dtype, device)
        else:
            self.chunks, self.parts = [], []
        self.shape = (batch, num_units, num_axes)
        self.dtype, self.device = dtype, device
        self.batch, self.points, self.written = batch, slice(None), {}

    def begin_chunk(self, columns: slice):
        self.columns = columns
        if not self.inplace:
            self.parts = []

    def target(self, unit_slice):
        """Memory an engine may write this node's gradients to directly (or None)."""
        return self.out[:, unit_slice, self.columns] if self.inplace else None

    def put(self, unit_slice, grads, written=False):
        """Store ``grads`` ``[B or 1, n, k]`` (1: the same for every point)."""
        if self.inplace:
            if not written:
                if grads.shape[0] == 1 and self.shape[0] > 1:
                    grads = grads.contiguous()  # transpose once, then copy B times
                self.out[:, unit_slice, self.columns].copy_(grads.expand(
                    (self.shape[0],) + grads.shape[1:]))
        else:
            self.parts.append(grads.expand((self.shape[0],) + grads.shape[1:]))

    def rows(self, rows: slice) -> "DenseSink":
        """A sink writing the points ``rows`` of this one (in place only)."""
        part = DenseSink.__new__(DenseSink)
        part.__dict__.update(self.__dict__)
        part.out = self.out[rows]
        part.shape = (part.out.shape[0],) + self.shape[1:]
        part.points = rows
        return part

    def put_units(self, unit_slice, units, input_shape):
        """Write a node's gradients, all D axes, from receptive-field boxes (in place only;
        :mod:`plnet.backends.torch.patch_engine`)."""
        total = write_gradients(units, self.out[:, unit_slice], input_shape,
                                zeroed=self.zeroed)
        key = (unit_slice.start, unit_slice.stop)
        if key not in self.written:  # shared with the sinks of the other groups of points
            self.written[key] = total.new_zeros(self.batch)
        self.written[key][self.points] += total.expand(self.out.shape[0])

    @property
    def patch_sums(self):
        """``[(unit slice, [B] sum of the entries written)]`` for the rows written from
        patches (see :func:`plnet.backends.torch.gradients.finite_points`)."""
        return [(slice(*key), total) for key, total in self.written.items()]

    def end_chunk(self):
        if not self.inplace:
            b = self.shape[0]
            width = self.columns.stop - self.columns.start
            self.chunks.append(torch.cat(self.parts, dim=1) if self.parts else
                               torch.zeros((b, 0, width), dtype=self.dtype,
                                                       device=self.device))

    def result(self):
        if self.inplace:
            return self.out
        if len(self.chunks) == 1:
            return self.chunks[0]
        return torch.cat(self.chunks, dim=2)


class NormSink:
    """Accumulates per-unit reductions of the gradients over the input axes.

    Args:
        kinds: a subset of ``{"sq", "abs", "max"}``: sum of squares, sum of absolute
            values (l1 norm), max of absolute values (l_inf norm).
    """

    #: only reductions over the axes are kept: an engine may hand over a node's gradients
    #: on the columns where they can be non-zero alone (see the recursion's spans)
    reduces_axes = True

    def __init__(self, batch, num_units, kinds, dtype, device, inplace):
        self.kinds = tuple(kinds)
        self.inplace = inplace
        self.acc = {k: torch.zeros((batch, num_units), dtype=dtype, device=device)
                    for k in self.kinds}
        self.parts, self.slices = {}, []

    def begin_chunk(self, columns: slice):
        self.parts = {k: [] for k in self.kinds}
        self.slices = []  # the unit slice of each part, in order

    def target(self, unit_slice):
        return None

    def put(self, unit_slice, grads, written=False):
        batch = next(iter(self.acc.values())).shape[0]
        for kind in self.kinds:
            if kind == "sq":
                value = SumOfSquares.apply(grads) if grads.requires_grad else \
                    _sum_of_squares(grads)
            elif kind == "abs":
                value = grads.abs().sum(dim=2)
            else:
                value = grads.abs().amax(dim=2) if grads.shape[2] else grads.sum(dim=2)
            self.parts[kind].append(value.expand(batch, -1))
        self.slices.append(unit_slice)

    def rows(self, rows: slice) -> "NormSink":
        """A sink accumulating into the points ``rows`` of this one (in place only)."""
        part = NormSink.__new__(NormSink)
        part.__dict__.update(self.__dict__)
        part.acc = {kind: acc[rows] for kind, acc in self.acc.items()}
        return part

    def put_units(self, unit_slice, units, input_shape):
        """A node's reductions over all D axes from its receptive-field boxes (in place,
        before the chunks; :mod:`plnet.backends.torch.patch_engine`)."""
        batch = next(iter(self.acc.values())).shape[0]
        for kind, value in unit_norms(units, self.kinds, unit_slice.stop - unit_slice.start
                                      ).items():
            self.acc[kind][:, unit_slice] = value.expand(batch, -1)

    def put_tangents(self, unit_slice, tangents):
        """Store a node's unit tangents as the engine holds them, ``[B or 1, k, *units]``
        (axis-major): each reduction runs over axis 1 in the tangents' own memory layout.

        The ``[B, n, k]`` view of the same memory reduces over a strided last axis, and
        a channels-last image would first be copied to flatten its units; here nothing
        of the tangents' size is written. Differentiable tangents take :meth:`put`."""
        if tangents.requires_grad:
            self.put(unit_slice, tangents.flatten(2).transpose(1, 2))
            return
        batch = next(iter(self.acc.values())).shape[0]
        rows = tangents.shape[0]
        # reduce in memory order: [R, k, E] with E the units as laid out (channels-last
        # images included); torch's reductions over a permuted layout are several times slower
        inner = sorted(range(2, tangents.dim()), key=lambda d: -tangents.stride(d))
        laid = tangents.permute([0, 1] + inner)
        if not laid.is_contiguous():
            laid, inner = tangents.contiguous(), list(range(2, tangents.dim()))
        back = [0] + [inner.index(d) + 1 for d in range(2, tangents.dim())]
        unit_shape = laid.shape[2:]
        tangents = laid.reshape(rows, laid.shape[1], -1)
        values = axis_reductions(tangents, self.kinds)  # in cache-sized blocks
        for kind in self.kinds:
            value = values[kind].reshape((rows,) + unit_shape).permute(back)
            self.parts[kind].append(value.reshape(rows, -1).expand(batch, -1))
        self.slices.append(unit_slice)

    def end_chunk(self):
        covered = sum(s.stop - s.start for s in self.slices)
        if self.inplace and covered != next(iter(self.acc.values())).shape[1]:
            self._add_by_slice()  # some units came from patches
            return
        for kind in self.kinds:
            if not self.parts[kind]:
                continue
            chunk = torch.cat(self.parts[kind], dim=1)
            if kind == "max" and self.inplace:
                torch.maximum(self.acc[kind], chunk, out=self.acc[kind])
            elif kind == "max":
                self.acc[kind] = torch.maximum(self.acc[kind], chunk)
            elif self.inplace:
                self.acc[kind] += chunk
            else:
                self.acc[kind] = self.acc[kind] + chunk

    def _add_by_slice(self):
        for kind in self.kinds:
            acc = self.acc[kind]
            for unit_slice, value in zip(self.slices, self.parts[kind]):
                if kind == "max":
                    acc[:, unit_slice] = torch.maximum(acc[:, unit_slice], value)
                else:
                    acc[:, unit_slice] += value

    def result(self):
        return self.acc


def _sum_of_squares(grads):
    if grads.stride(-1) == 1:  # one read pass, nothing written
        return torch.linalg.vector_norm(grads, dim=-1).square()
    # the perturbation engine's [B, n, k] is a transposed view: a norm over its strided
    # last axis is far slower than squaring into a small contiguous temporary
    return grads.square().sum(dim=-1)


class SumOfSquares(torch.autograd.Function):
    """``(g ** 2).sum(-1)`` with one pass over ``g`` forward and one backward.

    The generic graph (square, then sum) writes ``g ** 2`` forward and takes several
    element-wise passes over ``[B, n, k]`` backward; in ROLL training these passes cost
    about as much as the Jacobian products themselves.
    """

    @staticmethod
    def forward(ctx, grads):
        ctx.save_for_backward(grads)
        return _sum_of_squares(grads)

    @staticmethod
    def backward(ctx, upstream):
        (grads,) = ctx.saved_tensors
        return grads * (2 * upstream).unsqueeze(-1)
