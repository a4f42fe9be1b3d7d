"""ReLU, LeakyReLU and PReLU: each unit's indicator is the sign of its pre-activation.

The three share one class, :class:`_ReluLike`; they differ only in where the slope of the
inactive branch comes from (0, the attribute ``alpha``, or the parameter ``slope``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Sequence

import numpy as np

from plnet.errors import InvalidInputError, ShapeError
from plnet.ops.base import PatternOp, Shape, expect_shapes, param, register_op
from plnet.ops.patches import Geometry, Patches, channel_scale


@dataclasses.dataclass(frozen=True)
class _ReluLike(PatternOp):
    """``y = z`` where ``z > 0``, else ``negative_slope * z``.

    A unit is active when ``z > 0``: at ``z == 0`` it takes the inactive branch, which is
    the sub-gradient torch's autograd uses, and the point is reported as a tie.
    """

    def negative_slope(self, params: Mapping[str, np.ndarray]) -> float | np.ndarray:
        """The inactive branch's slope: a number, or an array that broadcasts (numpy rules,
        right-aligned) against the per-sample shape."""
        raise NotImplementedError

    def output_shape(self, in_shapes: Sequence[Shape],
                     params: Mapping[str, np.ndarray]) -> Shape:
        expect_shapes(self, in_shapes)
        return tuple(in_shapes[0])

    def num_units(self, in_shape: Shape) -> int:
        return int(math.prod(in_shape))

    def forward(self, xs: Sequence[np.ndarray],
                params: Mapping[str, np.ndarray]) -> np.ndarray:
        z = xs[0]
        return np.where(z > 0, z, self.negative_slope(params) * z)

    def pattern(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ties = (z == 0).reshape(z.shape[0], -1).any(axis=1)
        return z > 0, ties

    def tie_units(self, z: np.ndarray, indicator: np.ndarray) -> np.ndarray:
        return (z == 0).reshape(z.shape[0], -1)

    def diagonal_slope(self, indicator, params):
        return np.where(indicator, 1.0, self.negative_slope(params))

    def apply_pattern(self, v: np.ndarray, indicator: np.ndarray,
                      params: Mapping[str, np.ndarray]) -> np.ndarray:
        return v * self.diagonal_slope(indicator, params)[:, None]

    def crossed(self, in_shape: Shape, indicator: np.ndarray, unit: int) -> tuple[int, int]:
        return int(unit), int(not indicator.reshape(-1)[unit])

    def patch_geometry(self, geometries: Sequence[Geometry],
                       params: Mapping[str, np.ndarray]) -> Geometry:
        """Elementwise: the input's boxes (plnet.ops.patches)."""
        return geometries[0]

    def patch_tangent(self, patches: Sequence[Patches], params: Mapping[str, np.ndarray],
                      indicator: np.ndarray, geometry: Geometry) -> Patches:
        """The input's boxes times each element's frozen slope."""
        return channel_scale(patches[0], self.diagonal_slope(indicator, params))

    def units(self, z: np.ndarray, v: np.ndarray,
              indicator: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        b, t = v.shape[:2]
        n = int(math.prod(z.shape[1:]))
        signs = np.where(indicator, 1.0, -1.0).reshape(b, n)
        return z.reshape(b, n), v.reshape(b, t, n), signs


@register_op
@dataclasses.dataclass(frozen=True)
class ReLU(_ReluLike):
    """``max(z, 0)``."""

    type_name = "relu"

    def negative_slope(self, params):
        return 0.0


@register_op
@dataclasses.dataclass(frozen=True)
class LeakyReLU(_ReluLike):
    """``z if z > 0 else alpha * z``.

    Attributes:
        alpha: the negative slope (any finite value; 0 is a ReLU).
    """

    type_name = "leaky_relu"
    alpha: float = 0.01

    def __post_init__(self):
        if not math.isfinite(self.alpha):
            raise InvalidInputError(f"leaky_relu alpha must be finite, got {self.alpha}")

    def negative_slope(self, params):
        return float(self.alpha)


@register_op
@dataclasses.dataclass(frozen=True)
class PReLU(_ReluLike):
    """``z if z > 0 else slope * z`` with a slope that is a parameter (tied, trained).

    Attributes:
        slope: parameter name of the slopes, an array that broadcasts against the
            per-sample shape by numpy's rules (right-aligned): ``()`` for one slope,
            ``[C, 1, 1]`` for one slope per channel of a ``[C, H, W]`` input, ``[F]`` for
            one per feature of a flat input. Any finite values (negative, above 1).
    """

    type_name = "prelu"
    param_fields = ("slope",)
    slope: str

    def output_shape(self, in_shapes: Sequence[Shape],
                     params: Mapping[str, np.ndarray]) -> Shape:
        shape = super().output_shape(in_shapes, params)
        slope = param(params, self.slope, self)
        try:
            fits = slope.ndim <= len(shape) and np.broadcast_shapes(slope.shape, shape) == shape
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError(f"prelu slope {self.slope!r} has shape {slope.shape}, which does "
                             f"not broadcast to the per-sample input shape {shape} (numpy "
                             f"rules, right-aligned): use () for one slope or e.g. "
                             f"(C,) + (1,) * {len(shape) - 1} for one per channel")
        return shape

    def negative_slope(self, params):
        return params[self.slope]
