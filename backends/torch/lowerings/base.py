"""The lowering contract and registry: one torch implementation per IR op.

A lowering is built once per node from the node's op and per-sample shapes. Its tensors have
ONE leading batch axis; parameters are read through ``params`` (IR name -> tensor) at call
time, so that trained and tied parameters are honoured. Besides ``forward`` (used by
``compile``, ``to_torch`` and training), a lowering answers what every gradient engine asks
of its op once the activation pattern is frozen:

- ``tangent(ts, params, frozen, out)``: the op's local linear map on tangents
  ``[R, K, *in]`` (R = B, or 1 while the tangents are the same for every point) ->
  ``[R', K, *out]`` (the perturbation engine, paper Appendix C);
- ``jacobian_step(rec, jacs, params, frozen)``: which primitive of the Appendix-D recursion
  (:class:`plnet.backends.torch.recursion.JacobianRecursion`) multiplies the op's Jacobian,
  declared by ``supports_recursion``;
- ``fused_role``: the op's part in the fused dense-chain pass
  (:mod:`plnet.backends.torch.fused`).

Pattern-carrying ops subclass :class:`PatternLowering`, which adds the pattern and the units.
"""

from __future__ import annotations

import math
from typing import Callable, ClassVar

import numpy as np
import torch

from plnet.errors import UnsupportedOpError

#: op class -> its lowering class
LOWERINGS: dict[type, type] = {}


def lowers(*op_classes: type) -> Callable[[type], type]:
    """Class decorator: make the decorated class THE lowering of ``op_classes``."""
    def register(lowering: type) -> type:
        for cls in op_classes:
            if cls in LOWERINGS and LOWERINGS[cls] is not lowering:
                raise ValueError(f"op {cls.__name__} already has the torch lowering "
                                 f"{LOWERINGS[cls].__name__}; one op, one lowering")
            LOWERINGS[cls] = lowering
        return lowering
    return register


def lower(name: str, op, in_shapes, out_shape) -> "Lowering":
    """The lowering of node ``name``.

    Raises:
        UnsupportedOpError: the op has no torch lowering.
    """
    lowering = LOWERINGS.get(type(op))
    if lowering is None:
        raise UnsupportedOpError(
            f"node {name!r}: the torch backend has no lowering for op {op.type_name!r} "
            f"({type(op).__name__}); supported: {sorted(c.type_name for c in LOWERINGS)}. "
            f"Add one to backends/torch/lowerings/ (see docs/adding-an-op.md)")
    return lowering(op, [tuple(s) for s in in_shapes], tuple(out_shape))


class Lowering:
    """Base of all lowerings (see the module docstring for the contract).

    Attributes:
        op: the IR op (parameter fields hold IR parameter names).
        in_shapes: per-sample input shapes.
        out_shape: per-sample output shape.
    """

    carries_pattern: ClassVar[bool] = False
    #: whether :meth:`jacobian_step` exists: convolutions and pools are large sparse
    #: matrices that the recursion does not form (the perturbation engine handles them)
    supports_recursion: ClassVar[bool] = False
    #: in the fused dense-chain pass: "reshape" (a no-op on flat rows), "dense"
    #: (:meth:`weight_and_bias`), "leaky" (``z if z > 0 else slope * z`` with a constant
    #: ``slope`` attribute), or None (networks with the op take the general engines)
    fused_role: ClassVar[str | None] = None
    #: whether :meth:`masked_tangent` exists (per node: it may depend on the attributes)
    accepts_masked_tangent: bool = False

    def __init__(self, op, in_shapes, out_shape):
        self.op, self.in_shapes, self.out_shape = op, in_shapes, out_shape

    def forward(self, xs: list[torch.Tensor], params) -> torch.Tensor:
        """The op on ``xs[i]`` of shape ``[B, *in_shapes[i]]``."""
        raise NotImplementedError

    def tangent(self, ts: list[torch.Tensor], params, frozen=None, out=None) -> torch.Tensor:
        """The frozen op's linear map on tangents ``[R, K, *in]`` -> ``[R', K, *out]``.

        Args:
            frozen: the op's pattern from :meth:`PatternLowering.indicator` (None for an
                affine op).
            out: None, or ``out(shape)`` returning memory the result may be written to.
        """
        raise NotImplementedError

    def jacobian_step(self, rec, jacs, params, frozen=None):
        """The op's Jacobian times its inputs' Jacobians, by one primitive of ``rec``."""
        raise NotImplementedError(f"{type(self).__name__} does not support the recursion")

    def masked_tangent(self, t: torch.Tensor, slopes: torch.Tensor, out=None) -> torch.Tensor:
        """``tangent([t * slopes])`` for a shared ``t [1, K, *in]`` and ``slopes
        [B, 1, *in]``, without forming the ``[B, K, *in]`` product."""
        raise NotImplementedError


class AffineLowering(Lowering):
    """An op without a pattern: ``forward = linear + offset``.

    Subclasses define :meth:`linear` (and :meth:`forward` when there is an offset); the
    tangent map is ``linear`` on the ``R * K`` tangents as one batch (one GEMM or
    convolution per layer, no Jacobian code).
    """

    def forward(self, xs, params):
        return self.linear(xs, params)

    def linear(self, xs: list[torch.Tensor], params) -> torch.Tensor:
        """The forward pass without its constant offset."""
        raise NotImplementedError

    def offset(self, params) -> torch.Tensor | None:
        """The constant ``forward - linear`` (broadcast against ``[B, *out_shape]``), or
        None. A subclass whose :meth:`forward` adds a constant declares it here: the
        stacked pass (:mod:`plnet.backends.torch.stacked`) adds it to the forward rows
        only, and skips networks with an affine op that overrides ``forward`` alone."""
        return None

    def tangent(self, ts, params, frozen=None, out=None):
        rows, k = max(t.shape[0] for t in ts), ts[0].shape[1]
        flat = [t.expand((rows,) + t.shape[1:]).reshape((rows * k,) + t.shape[2:])
                for t in ts]
        y = self.linear(flat, params)
        return y.reshape((rows, k) + y.shape[1:])


class PatternLowering(Lowering):
    """An op that carries an activation pattern (paper, Appendix C and E).

    Attributes:
        num_units: the units one sample contributes, in the numpy reference's order.
    """

    carries_pattern: ClassVar[bool] = True
    supports_recursion: ClassVar[bool] = True
    #: whether the units are the input's elements and the frozen map is ``slopes * v``
    #: (:meth:`slopes`): a unit's gradient is then its input's Jacobian row
    elementwise: ClassVar[bool] = False
    num_units: int

    def indicator(self, z: torch.Tensor):
        """The frozen pattern of a batch ``z [B, *in]`` (no autograd)."""
        raise NotImplementedError

    def units(self, z: torch.Tensor, frozen) -> torch.Tensor:
        """Every unit's value, ``[B, num_units]``."""
        raise NotImplementedError

    def unit_tangents(self, t: torch.Tensor, frozen) -> torch.Tensor:
        """The units applied to tangents ``[R, K, *in]`` -> ``[R', K, num_units]`` (R' = 1
        only when the units' tangents are shared too)."""
        raise NotImplementedError

    def key(self, frozen) -> torch.Tensor:
        """``[B, m]`` integers: equal rows exactly for equal patterns."""
        raise NotImplementedError

    def slopes(self, frozen, params, dtype) -> torch.Tensor:
        """``[B, 1, *in]`` multipliers of the frozen map (``elementwise`` ops only)."""
        raise NotImplementedError


def pad_args(pairs) -> list[int]:
    """IR ``((begin, end), ...)`` per axis -> F.pad's last-axis-first flat list."""
    return [int(v) for pair in reversed(pairs) for v in pair]


def flat_size(shape) -> int:
    return int(math.prod(shape))


def as_index(array: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(array), dtype=torch.long)
