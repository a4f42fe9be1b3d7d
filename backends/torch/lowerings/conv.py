"""Convolutions, 1-d and 2-d (stride, padding, dilation, groups)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from plnet.backends.torch.lowerings.base import AffineLowering, lowers, pad_args
from plnet.ops import Conv


@lowers(Conv)
class ConvLowering(AffineLowering):
    """torch's convolution; asymmetric padding goes first (torch pads symmetrically)."""

    def __init__(self, op, in_shapes, out_shape):
        super().__init__(op, in_shapes, out_shape)
        self.n_spatial = len(in_shapes[0]) - 1
        pads = [tuple(p) for p in op.padding]
        if all(b == e for b, e in pads):
            self.pre_pad, self.conv_pad = None, tuple(b for b, _ in pads)
        else:
            self.pre_pad, self.conv_pad = pad_args(pads), 0
        self.conv = F.conv1d if self.n_spatial == 1 else F.conv2d

    def run(self, x, weight, bias):
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
        return self.run(xs[0], params[self.op.weight], bias)

    def linear(self, xs, params):
        return self.run(xs[0], params[self.op.weight], None)
