"""Average pooling, 1-d and 2-d, with the IR's divisor rule (plnet.ops.avg_pool)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from plnet.backends.torch.cones import window_op
from plnet.backends.torch.lowerings.base import AffineLowering, lowers, pad_args
from plnet.backends.torch.patches import Patches, patch_zeros, window_args, window_taps
from plnet.ops import AvgPool


@lowers(AvgPool)
class AvgPoolLowering(AffineLowering):
    """Window sums as a depthwise convolution with a ones kernel, over the divisor.

    This covers dilation, asymmetric padding and ceil_mode in one code path; the plain
    case uses torch's pooling kernel.
    """

    def __init__(self, op, in_shapes, out_shape):
        super().__init__(op, in_shapes, out_shape)
        table, divisor = op.table(in_shapes[0])
        channels, spatial = in_shapes[0][0], in_shapes[0][1:]
        self.n_spatial = len(spatial)
        no_pad = all(b == 0 and e == 0 for b, e in op.padding)
        self.plain = no_pad and not op.ceil_mode and all(d == 1 for d in op.dilation)
        extra = []
        for length, k, s, (pb, pe), d, n_out in zip(spatial, op.kernel, op.stride, op.padding,
                                                   op.dilation, table.out_spatial):
            need = (n_out - 1) * s + d * (k - 1) + 1
            extra.append((pb, pe + max(0, need - (length + pb + pe))))
        self.pads = pad_args(extra)
        self.divisor = torch.as_tensor(divisor.reshape(table.out_spatial))
        self.kernel_shape = (channels, 1) + tuple(op.kernel)
        self.channels = channels
        # non-overlapping 2-d windows tiling the input: see masked_tangent
        self.accepts_masked_tangent = (self.plain and self.n_spatial == 2
                                       and tuple(op.stride) == tuple(op.kernel))

    def linear(self, xs, params):
        x, op = xs[0], self.op
        if self.plain:
            pool = F.avg_pool1d if self.n_spatial == 1 else F.avg_pool2d
            return pool(x, tuple(op.kernel), tuple(op.stride))
        sums = self._window_sums(F.pad(x, self.pads))
        index = (slice(None), slice(None)) + tuple(slice(0, n) for n in self.out_shape[1:])
        return sums[index] / self.divisor.to(dtype=x.dtype, device=x.device)

    def cone_tangent(self, cones, params, frozen=None):
        """Forward cones (:mod:`plnet.backends.torch.cones`): the windows' sums (no
        padding: the windows carry the zeros their outputs read) over the divisor's crops."""
        if self.n_spatial != 2:
            return None
        cone = cones[0]
        divisor = self.divisor.to(dtype=cone.fwd.dtype, device=cone.fwd.device)

        def run(t, positions):  # positions [k, h w] of the output windows
            sums = self._window_sums(t)
            k = positions.shape[0]
            crop = divisor.reshape(-1)[torch.from_numpy(positions).to(divisor.device)]
            per_axis = sums.unflatten(0, (-1, k)) / crop.reshape((1, k, 1) + sums.shape[2:])
            return per_axis.flatten(0, 1)

        return window_op(cone, self.out_shape, *window_args(self.op), run)

    def _window_sums(self, x):
        """Every window's sum over ``x`` as it is (no padding): a depthwise convolution
        with a ones kernel."""
        ones = torch.ones(self.kernel_shape, dtype=x.dtype, device=x.device)
        conv = F.conv1d if self.n_spatial == 1 else F.conv2d
        return conv(x, ones, stride=tuple(self.op.stride), dilation=tuple(self.op.dilation),
                    groups=self.channels)

    def patch_tangent(self, ps, params, frozen, geometry, alloc=None):
        """Receptive-field tangents: the window's input boxes summed at their offsets, over
        the divisor (padding adds zeros, as it adds nothing to the sums)."""
        p = ps[0]
        out = patch_zeros(p, self.out_shape, geometry, p.t.shape[-1], alloc)
        for _, view, (rows, cols) in window_taps(p, *window_args(self.op), self.out_shape[1:]):
            out[:, :, :, :, rows, cols] += view
        scale = 1.0 / self.divisor.to(dtype=out.dtype, device=out.device)
        return Patches(out.mul_(scale[None, :, :, None, None, None, None]), geometry)

    def masked_tangent(self, t, slopes, out=None):
        # right after the first pattern op the tangents are still shared by all points;
        # pooling the masked shared tangent window slot by window slot writes only the
        # pooled [B, K, *pooled] result, never the [B, K, *in] product
        kh, kw = self.op.kernel
        ho, wo = self.out_shape[1:]
        acc = None
        for a in range(kh):
            for c in range(kw):
                tile = t[..., a:a + kh * ho:kh, c:c + kw * wo:kw]
                mask = slopes[..., a:a + kh * ho:kh, c:c + kw * wo:kw]
                if acc is None:
                    shape = (slopes.shape[0], t.shape[1], t.shape[2], ho, wo)
                    acc = tile * mask if out is None else torch.mul(tile, mask,
                                                                    out=out(shape))
                elif out is None:
                    acc = acc + tile * mask
                else:
                    acc.addcmul_(tile, mask)
        return acc / (kh * kw) if out is None else acc.mul_(1.0 / (kh * kw))
