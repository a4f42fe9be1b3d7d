"""Convolutions and transposed convolutions, 1-d and 2-d (stride, padding, dilation, groups)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from plnet.backends.torch.cones import window_op
from plnet.backends.torch.lowerings.base import AffineLowering, lowers, pad_args
from plnet.backends.torch.patches import Patches, patch_zeros, window_args, window_taps
from plnet.ops import Conv, ConvTranspose


class _KernelLowering(AffineLowering):
    """An op ``run(x, weight, bias)`` that is linear in x plus a per-channel bias: forward,
    its linear part (no bias) and its offset (the bias) in one place."""

    n_spatial: int

    def run(self, x, weight, bias):
        raise NotImplementedError

    def forward(self, xs, params):
        bias = params[self.op.bias] if self.op.bias is not None else None
        return self.run(xs[0], params[self.op.weight], bias)

    def linear(self, xs, params):
        return self.run(xs[0], params[self.op.weight], None)

    def offset(self, params):
        if self.op.bias is None:
            return None
        return params[self.op.bias].reshape((-1,) + (1,) * self.n_spatial)


@lowers(Conv)
class ConvLowering(_KernelLowering):
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

    def patch_tangent(self, ps, params, frozen, geometry, alloc=None):
        """Receptive-field tangents (:mod:`plnet.backends.torch.patches`): per kernel tap,
        one GEMM of the tap's input patches with the tap's ``[C_in, C_out]`` weights (block
        diagonal over groups), added at the tap's offset in the output boxes."""
        weight = params[self.op.weight]
        c_out, c_group = weight.shape[:2]
        kernel, stride, pad_begin, dilation = window_args(self.op, weight.shape[2:])
        taps = weight.new_zeros((kernel[0] * kernel[1], c_group * self.op.groups, c_out))
        per_group = c_out // self.op.groups
        for g in range(self.op.groups):
            block = weight[g * per_group:(g + 1) * per_group].flatten(2).permute(2, 1, 0)
            taps[:, g * c_group:(g + 1) * c_group, g * per_group:(g + 1) * per_group] = block
        p = ps[0]
        out = patch_zeros(p, self.out_shape, geometry, c_out, alloc)
        for tap, view, (rows, cols) in window_taps(p, kernel, stride, pad_begin, dilation,
                                                   self.out_shape[1:]):
            # one GEMM over all boxes: the strided view is gathered first (a matmul of the
            # view itself runs a batch of tiny [Pb, Cin] products, 3x slower)
            rows_in = view.reshape(-1, view.shape[-1])
            product = (rows_in @ taps[tap]).view(view.shape[:-1] + (c_out,))
            out[:, :, :, :, rows, cols] += product
        return Patches(out, geometry)

    def cone_tangent(self, cones, params, frozen=None):
        """Forward cones (:mod:`plnet.backends.torch.cones`): the convolution without
        padding on every axis's window, holding the rows and columns its outputs read; on
        small windows as one product with the window's matrix (:func:`window_matrix`: a
        convolution call on a few tiny images costs several times its arithmetic)."""
        if self.n_spatial != 2:
            return None
        weight = params[self.op.weight]
        kernel, stride, pad_begin, dilation = window_args(self.op, weight.shape[2:])

        def run(t, positions):
            n, c_in, h, w = t.shape
            out = tuple((size - (k - 1) * d - 1) // s + 1 for size, k, s, d
                        in zip((h, w), kernel, stride, dilation))
            if weight.shape[0] * out[0] * out[1] * c_in * h * w > WINDOW_MATRIX_SIZE:
                return self.conv(t, weight, None, stride=stride, dilation=dilation,
                                 groups=self.op.groups)
            matrix = window_matrix(self, weight, (h, w), out)
            return (t.reshape(n, -1) @ matrix.t()).view((n, -1) + out)

        return window_op(cones[0], self.out_shape, kernel, stride, pad_begin, dilation, run)

    def run(self, x, weight, bias):
        if self.n_spatial == 2 and x.shape[0] > 1:
            # channels-last runs several times faster for the many small images of a
            # tangent batch; the following elementwise ops and pools keep the layout
            x = channels_last(x)
        if self.pre_pad is not None:
            x = F.pad(x, self.pre_pad)
        return self.conv(x, weight, bias, stride=tuple(self.op.stride), padding=self.conv_pad,
                         dilation=tuple(self.op.dilation), groups=self.op.groups)


@lowers(ConvTranspose)
class ConvTransposeLowering(_KernelLowering):
    """torch's transposed convolution.

    torch pads symmetrically; otherwise the full output (no padding) is cut to the IR's
    ``(begin, end)`` padding and extended by ``output_padding`` with one (negative) F.pad.
    """

    def __init__(self, op, in_shapes, out_shape):
        super().__init__(op, in_shapes, out_shape)
        self.n_spatial = len(in_shapes[0]) - 1
        self.conv = F.conv_transpose1d if self.n_spatial == 1 else F.conv_transpose2d
        self.symmetric = all(b == e for b, e in op.padding)
        self.trim = pad_args([(-b, extra - e) for (b, e), extra
                              in zip(op.padding, op.output_padding)])

    def run(self, x, weight, bias):
        op = self.op
        if self.symmetric:
            return self.conv(x, weight, bias, stride=tuple(op.stride),
                             padding=tuple(b for b, _ in op.padding),
                             output_padding=tuple(op.output_padding), groups=op.groups,
                             dilation=tuple(op.dilation))
        y = F.pad(self.conv(x, weight, None, stride=tuple(op.stride), groups=op.groups,
                            dilation=tuple(op.dilation)), self.trim)
        return y if bias is None else y + bias.reshape((-1,) + (1,) * self.n_spatial)


#: the largest window matrix (entries) a cone's convolution forms (one product instead)
WINDOW_MATRIX_SIZE = 1 << 16


def window_matrix(low, weight, in_size, out_size):
    """``[C_out h' w', C_in h w]``: the convolution (no padding) of ``h x w`` images into
    ``h' x w'`` ones as a matrix, its entries gathered from ``weight`` (differentiable)."""
    key = (tuple(in_size), weight.device)
    cache = low.__dict__.setdefault("_window_index", {})
    if key not in cache:
        cache[key] = torch.from_numpy(_window_index(
            weight.shape, low.op.groups, low.op.stride, low.op.dilation, in_size,
            out_size)).to(weight.device)
    entries = F.pad(weight.reshape(-1), (0, 1)).index_select(0, cache[key])
    return entries.view(weight.shape[0] * out_size[0] * out_size[1], -1)


def _window_index(weight_shape, groups, stride, dilation, in_size, out_size):
    """Flat weight index of each window-matrix entry (``weight.numel()``, a zero, where
    the input pixel is under no tap or in another group)."""
    c_out, c_group, kh, kw = weight_shape
    (h, w), (ho, wo) = in_size, out_size
    index = np.full((c_out, ho, wo, c_group * groups, h, w), c_out * c_group * kh * kw,
                    dtype=np.int64)
    co = np.arange(c_out)[:, None, None, None]
    local = np.arange(c_group)[None, :, None, None]
    ci = (co // (c_out // groups)) * c_group + local
    yo = np.arange(ho)[None, None, :, None]
    xo = np.arange(wo)[None, None, None, :]
    for a in range(kh):
        for b in range(kw):
            index[co, yo, xo, ci, yo * stride[0] + a * dilation[0],
                  xo * stride[1] + b * dilation[1]] = ((co * c_group + local) * kh + a) * kw + b
    return index.reshape(-1)


def channels_last(x):
    """``x [N, C, H, W]`` laid out channels-last. One channel is a special case: its
    default layout passes torch's channels-last test unchanged, but the convolution reads
    it as the default and returns that layout (then every op after it mixes layouts with
    the channels-last tangents, and runs several times slower); the view below has the
    channels-last strides."""
    if x.shape[1] == 1:
        n, _, h, w = x.shape
        return x.reshape(n, h, w, 1).permute(0, 3, 1, 2)
    return x.contiguous(memory_format=torch.channels_last)

