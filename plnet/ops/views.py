"""Linear views: flatten, reshape, transpose, slice, take, concat and zero padding.

Axes are per-sample axes (0 is the first axis after the batch). None of these ops has
parameters or an offset, so their forward pass is also their linear part.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping, Sequence

import numpy as np

from plnet.errors import ShapeError
from plnet.ops.base import Op, Shape, expect_shapes, register_op


def _axis(op, axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise ShapeError(f"{op.type_name}: axis {axis} is out of range for a per-sample "
                         f"tensor of rank {rank} (axes exclude the batch axis)")
    return axis % rank


@register_op
@dataclasses.dataclass(frozen=True)
class Flatten(Op):
    """``[*shape] -> [prod(shape)]`` (C order)."""

    type_name = "flatten"

    def output_shape(self, in_shapes: Sequence[Shape],
                     params: Mapping[str, np.ndarray]) -> Shape:
        expect_shapes(self, in_shapes)
        return (int(math.prod(in_shapes[0])),)

    def forward(self, xs: Sequence[np.ndarray],
                params: Mapping[str, np.ndarray]) -> np.ndarray:
        return xs[0].reshape(xs[0].shape[0], -1)


@register_op
@dataclasses.dataclass(frozen=True)
class Reshape(Op):
    """Reshape to a fixed per-sample ``shape`` (C order; no -1: resolve it when building)."""

    type_name = "reshape"
    shape: tuple[int, ...] = ()

    def output_shape(self, in_shapes: Sequence[Shape],
                     params: Mapping[str, np.ndarray]) -> Shape:
        expect_shapes(self, in_shapes)
        if any(d < 0 for d in self.shape) or math.prod(self.shape) != math.prod(in_shapes[0]):
            raise ShapeError(f"reshape: cannot reshape per-sample {tuple(in_shapes[0])} "
                             f"to {self.shape}")
        return tuple(self.shape)

    def forward(self, xs: Sequence[np.ndarray],
                params: Mapping[str, np.ndarray]) -> np.ndarray:
        return xs[0].reshape((xs[0].shape[0],) + tuple(self.shape))


@register_op
@dataclasses.dataclass(frozen=True)
class Transpose(Op):
    """Permute per-sample axes: output axis i is input axis ``perm[i]``."""

    type_name = "transpose"
    perm: tuple[int, ...] = ()

    def output_shape(self, in_shapes: Sequence[Shape],
                     params: Mapping[str, np.ndarray]) -> Shape:
        expect_shapes(self, in_shapes)
        shape = in_shapes[0]
        if sorted(self.perm) != list(range(len(shape))):
            raise ShapeError(f"transpose: perm {self.perm} is not a permutation of the "
                             f"{len(shape)} per-sample axes of {tuple(shape)}")
        return tuple(shape[p] for p in self.perm)

    def forward(self, xs: Sequence[np.ndarray],
                params: Mapping[str, np.ndarray]) -> np.ndarray:
        return xs[0].transpose((0,) + tuple(p + 1 for p in self.perm))


@register_op
@dataclasses.dataclass(frozen=True)
class Slice(Op):
    """``x[..., start:stop:step, ...]`` on one per-sample axis (step >= 1)."""

    type_name = "slice"
    axis: int = 0
    start: int = 0
    stop: int = 0
    step: int = 1

    def output_shape(self, in_shapes: Sequence[Shape],
                     params: Mapping[str, np.ndarray]) -> Shape:
        expect_shapes(self, in_shapes)
        shape = list(in_shapes[0])
        ax = _axis(self, self.axis, len(shape))
        if self.step < 1:
            raise ShapeError(f"slice: step must be >= 1, got {self.step}")
        n = len(range(*slice(self.start, self.stop, self.step).indices(shape[ax])))
        if n == 0:
            raise ShapeError(f"slice [{self.start}:{self.stop}:{self.step}] of axis {self.axis} "
                             f"(length {shape[ax]}) is empty")
        shape[ax] = n
        return tuple(shape)

    def forward(self, xs: Sequence[np.ndarray],
                params: Mapping[str, np.ndarray]) -> np.ndarray:
        x = xs[0]
        ax = _axis(self, self.axis, x.ndim - 1) + 1
        index = [slice(None)] * x.ndim
        index[ax] = slice(self.start, self.stop, self.step)
        return x[tuple(index)]


@register_op
@dataclasses.dataclass(frozen=True)
class Take(Op):
    """Select fixed ``indices`` along one per-sample axis (ONNX Gather with constant indices).

    A scalar index (``keepdim=False`` with one index) removes the axis.
    """

    type_name = "take"
    axis: int = 0
    indices: tuple[int, ...] = (0,)
    keepdim: bool = True

    def output_shape(self, in_shapes: Sequence[Shape],
                     params: Mapping[str, np.ndarray]) -> Shape:
        expect_shapes(self, in_shapes)
        shape = list(in_shapes[0])
        ax = _axis(self, self.axis, len(shape))
        if any(not -shape[ax] <= i < shape[ax] for i in self.indices) or not self.indices:
            raise ShapeError(f"take: indices {self.indices} out of range for axis {self.axis} "
                             f"of length {shape[ax]}")
        if not self.keepdim:
            if len(self.indices) != 1:
                raise ShapeError("take: keepdim=False needs exactly one index")
            return tuple(shape[:ax] + shape[ax + 1:])
        shape[ax] = len(self.indices)
        return tuple(shape)

    def forward(self, xs: Sequence[np.ndarray],
                params: Mapping[str, np.ndarray]) -> np.ndarray:
        x = xs[0]
        ax = _axis(self, self.axis, x.ndim - 1) + 1
        y = np.take(x, np.asarray(self.indices, dtype=np.int64), axis=ax)
        return y if self.keepdim else np.squeeze(y, axis=ax)


@register_op
@dataclasses.dataclass(frozen=True)
class Concat(Op):
    """Concatenate inputs along one per-sample axis."""

    type_name = "concat"
    arity = None
    axis: int = 0

    def output_shape(self, in_shapes: Sequence[Shape],
                     params: Mapping[str, np.ndarray]) -> Shape:
        expect_shapes(self, in_shapes)
        first = list(in_shapes[0])
        ax = _axis(self, self.axis, len(first))
        total = 0
        for i, s in enumerate(in_shapes):
            s = list(s)
            if len(s) != len(first) or s[:ax] + s[ax + 1:] != first[:ax] + first[ax + 1:]:
                raise ShapeError(f"concat on axis {self.axis}: input {i} has shape {tuple(s)}, "
                                 f"incompatible with input 0's {tuple(first)}")
            total += s[ax]
        first[ax] = total
        return tuple(first)

    def forward(self, xs: Sequence[np.ndarray],
                params: Mapping[str, np.ndarray]) -> np.ndarray:
        ax = _axis(self, self.axis, xs[0].ndim - 1) + 1
        return np.concatenate(xs, axis=ax)


@register_op
@dataclasses.dataclass(frozen=True)
class Pad(Op):
    """Zero padding: ``pads[i] = (before, after)`` for per-sample axis i (non-negative)."""

    type_name = "pad"
    pads: tuple[tuple[int, int], ...] = ()

    def output_shape(self, in_shapes: Sequence[Shape],
                     params: Mapping[str, np.ndarray]) -> Shape:
        expect_shapes(self, in_shapes)
        shape = in_shapes[0]
        if len(self.pads) != len(shape) or any(len(p) != 2 or min(p) < 0 for p in self.pads):
            raise ShapeError(f"pad: pads {self.pads} must be one non-negative (before, after) "
                             f"pair per per-sample axis of {tuple(shape)}")
        return tuple(n + b + a for n, (b, a) in zip(shape, self.pads))

    def forward(self, xs: Sequence[np.ndarray],
                params: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.pad(xs[0], ((0, 0),) + tuple(tuple(p) for p in self.pads))
