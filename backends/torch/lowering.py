"""Torch lowering of the IR's affine ops and linear views.

A lowering is built once per node from the node's op and input shapes; it evaluates the op
on tensors with ONE leading batch axis and per-sample shapes after it, reading parameters
through ``params`` (IR name -> tensor) at call time, so that trained parameters and tied
names are honoured. ``linear`` is the forward pass without its constant offset: the
gradient engines push ``[rows * K, *shape]`` tangent batches through it.

Pattern ops (ReLU, LeakyReLU, max pooling) live in :mod:`plnet.backends.torch.lowering_pattern`.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from plnet.errors import UnsupportedOpError
from plnet.ops import (Add, AvgPool, Concat, Conv, Dense, Flatten, Input, Pad, Reshape,
                       ScaleShift, Slice, Take, Transpose)

#: op class -> factory(op, in_shapes, out_shape) -> lowering
LOWERINGS: dict[type, Callable] = {}


def lowers(*op_classes):
    """Decorator: register a lowering factory for the given op classes."""
    def register(factory):
        for cls in op_classes:
            LOWERINGS[cls] = factory
        return factory
    return register


def lower(name: str, op, in_shapes, out_shape):
    """The lowering of node ``name``; raises UnsupportedOpError for an unknown op."""
    factory = LOWERINGS.get(type(op))
    if factory is None:
        raise UnsupportedOpError(
            f"node {name!r}: the torch backend has no lowering for op {op.type_name!r} "
            f"({type(op).__name__}); supported: {sorted(c.type_name for c in LOWERINGS)}. "
            f"Add one in plnet/backends/torch/lowering*.py")
    return factory(op, [tuple(s) for s in in_shapes], tuple(out_shape))


class AffineLowering:
    """Base of affine lowerings: ``forward = linear + offset``."""

    carries_pattern = False

    def __init__(self, op, in_shapes, out_shape):
        self.op, self.in_shapes, self.out_shape = op, in_shapes, out_shape

    def forward(self, xs, params):
        return self.linear(xs, params)

    def linear(self, xs, params):
        raise NotImplementedError


@lowers(Input)
class InputLowering(AffineLowering):
    pass


@lowers(Dense)
class DenseLowering(AffineLowering):
    def forward(self, xs, params):
        bias = params[self.op.bias] if self.op.bias is not None else None
        return F.linear(xs[0], params[self.op.weight], bias)

    def linear(self, xs, params):
        return F.linear(xs[0], params[self.op.weight])


@lowers(ScaleShift)
class ScaleShiftLowering(AffineLowering):
    def forward(self, xs, params):
        y = self.linear(xs, params)
        return y + params[self.op.shift] if self.op.shift is not None else y

    def linear(self, xs, params):
        return xs[0] * params[self.op.scale] if self.op.scale is not None else xs[0]


def _pad_args(pairs):
    """IR ``((begin, end), ...)`` per axis -> F.pad's last-axis-first flat list."""
    return [int(v) for pair in reversed(pairs) for v in pair]


@lowers(Conv)
class ConvLowering(AffineLowering):
    def __init__(self, op, in_shapes, out_shape):
        super().__init__(op, in_shapes, out_shape)
        self.n_spatial = len(in_shapes[0]) - 1
        pads = [tuple(p) for p in op.padding]
        if all(b == e for b, e in pads):
            self.pre_pad, self.conv_pad = None, tuple(b for b, _ in pads)
        else:  # torch's conv pads symmetrically; asymmetric padding goes first
            self.pre_pad, self.conv_pad = _pad_args(pads), 0
        self.conv = F.conv1d if self.n_spatial == 1 else F.conv2d

    def _run(self, x, weight, bias):
        if self.n_spatial == 2 and x.shape[0] > 1:
            # channels-last runs several times faster for the many small images of a
            # tangent batch; the following elementwise ops and pools keep the layout
            x = x.contiguous(memory_format=torch.channels_last)
        if self.pre_pad is not None:
            x = F.pad(x, self.pre_pad)
        return self.conv(x, weight, bias, stride=tuple(self.op.stride), padding=self.conv_pad,
                         dilation=tuple(self.op.dilation), groups=self.op.groups)

    def forward(self, xs, params):
        bias = params[self.op.bias] if self.op.bias is not None else None
        return self._run(xs[0], params[self.op.weight], bias)

    def linear(self, xs, params):
        return self._run(xs[0], params[self.op.weight], None)


@lowers(AvgPool)
class AvgPoolLowering(AffineLowering):
    """Window sums as a depthwise convolution with a ones kernel, over the divisor.

    This covers dilation, asymmetric padding and ceil_mode with the IR's divisor rule
    (plnet.ops.pooling) in one code path; the plain case uses torch's pooling kernel.
    """

    def __init__(self, op, in_shapes, out_shape):
        super().__init__(op, in_shapes, out_shape)
        table, divisor = op.table(in_shapes[0])
        channels, spatial = in_shapes[0][0], in_shapes[0][1:]
        self.n_spatial = len(spatial)
        no_pad = all(b == 0 and e == 0 for b, e in op.padding)
        self.plain = (no_pad and not op.ceil_mode and all(d == 1 for d in op.dilation))
        extra = []
        for length, k, s, (pb, pe), d, n_out in zip(spatial, op.kernel, op.stride, op.padding,
                                                   op.dilation, table.out_spatial):
            need = (n_out - 1) * s + d * (k - 1) + 1
            extra.append((pb, pe + max(0, need - (length + pb + pe))))
        self.pads = _pad_args(extra)
        self.divisor = torch.as_tensor(divisor.reshape(table.out_spatial))
        self.kernel_shape = (channels, 1) + tuple(op.kernel)
        self.channels = channels

    def linear(self, xs, params):
        x, op = xs[0], self.op
        if self.plain:
            pool = F.avg_pool1d if self.n_spatial == 1 else F.avg_pool2d
            return pool(x, tuple(op.kernel), tuple(op.stride))
        ones = torch.ones(self.kernel_shape, dtype=x.dtype, device=x.device)
        conv = F.conv1d if self.n_spatial == 1 else F.conv2d
        sums = conv(F.pad(x, self.pads), ones, stride=tuple(op.stride),
                    dilation=tuple(op.dilation), groups=self.channels)
        index = (slice(None), slice(None)) + tuple(slice(0, n) for n in self.out_shape[1:])
        return sums[index] / self.divisor.to(dtype=x.dtype, device=x.device)


@lowers(Flatten, Reshape)
class ReshapeLowering(AffineLowering):
    def linear(self, xs, params):
        return xs[0].reshape((xs[0].shape[0],) + self.out_shape)


@lowers(Transpose)
class TransposeLowering(AffineLowering):
    def linear(self, xs, params):
        return xs[0].permute((0,) + tuple(p + 1 for p in self.op.perm))


@lowers(Slice)
class SliceLowering(AffineLowering):
    def linear(self, xs, params):
        x = xs[0]
        axis = self.op.axis % (x.dim() - 1) + 1
        index = [slice(None)] * x.dim()
        index[axis] = slice(self.op.start, self.op.stop, self.op.step)
        return x[tuple(index)]


@lowers(Take)
class TakeLowering(AffineLowering):
    def __init__(self, op, in_shapes, out_shape):
        super().__init__(op, in_shapes, out_shape)
        rank = len(in_shapes[0])
        self.axis = op.axis % rank + 1
        length = in_shapes[0][self.axis - 1]
        self.indices = torch.as_tensor([i % length for i in op.indices], dtype=torch.long)

    def linear(self, xs, params):
        x = xs[0]
        if len(self.indices) == 1 and not self.op.keepdim:
            return x.select(self.axis, int(self.indices[0]))
        y = x.index_select(self.axis, self.indices.to(x.device))
        return y if self.op.keepdim else y.squeeze(self.axis)


@lowers(Concat)
class ConcatLowering(AffineLowering):
    def linear(self, xs, params):
        return torch.cat(list(xs), dim=self.op.axis % (xs[0].dim() - 1) + 1)


@lowers(Pad)
class PadLowering(AffineLowering):
    def linear(self, xs, params):
        return F.pad(xs[0], _pad_args(self.op.pads))


@lowers(Add)
class AddLowering(AffineLowering):
    def linear(self, xs, params):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


def flat_size(shape) -> int:
    return int(math.prod(shape))


def as_index(array: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(array), dtype=torch.long)


# registers the pattern lowerings (kept in their own file)
import plnet.backends.torch.lowering_pattern  # noqa: E402,F401
