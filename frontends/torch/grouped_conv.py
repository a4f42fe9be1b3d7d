"""Grouped convolutions in float64 at the speed of a matrix product, for the check.

torch has no fast CPU kernel for float64 grouped convolutions: it convolves group by group
(a depthwise 3x3 convolution over 192 channels of 32x32 takes 2 s for 8 samples, 50 times
its float32 time), so the float64 reference run of a MobileNet dominated ``from_torch``.
Inside :func:`fast_grouped_convolutions`, a float64 CPU ``conv1d``/``conv2d`` with
``groups > 1`` is computed as a sum over the kernel's taps of strided views times the
tap's weights instead: the same sums in another order (rounding-level differences only).
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode


def _pairs(value, n):
    return (value,) * n if isinstance(value, int) else tuple(value)


def grouped_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                   stride, padding, dilation, groups: int) -> torch.Tensor:
    """``F.conv2d`` with numeric padding, as a sum over the kernel's taps of strided views
    of the padded input, each multiplied by its tap's weights in one product batched over
    the groups (torch's float64 ``unfold`` is as slow as its grouped convolution)."""
    batch, channels, height, width = x.shape
    cout, cin_g, kh, kw = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = (_pairs(stride, 2), _pairs(padding, 2),
                                    _pairs(dilation, 2))
    out_h = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    out_w = (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    padded = F.pad(x, (pw, pw, ph, ph))
    w = weight.reshape(groups, cout // groups, cin_g, kh, kw)
    out = x.new_zeros((batch, groups, cout // groups, out_h, out_w))
    for i in range(kh):
        for j in range(kw):
            tap = padded[:, :, i * dh:i * dh + sh * (out_h - 1) + 1:sh,
                         j * dw:j * dw + sw * (out_w - 1) + 1:sw]
            tap = tap.reshape(batch, groups, cin_g, out_h, out_w)
            if cin_g == 1:  # depthwise: a broadcast product
                out += tap * w[:, :, 0, i, j].reshape(1, groups, -1, 1, 1)
            else:
                out += torch.einsum("gdc,bgchw->bgdhw", w[:, :, :, i, j], tap)
    out = out.reshape(batch, cout, out_h, out_w)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def _conv_args(args, kwargs):
    names = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
    defaults = (None, None, None, 1, 0, 1, 1)
    bound = dict(zip(names, defaults))
    bound.update(zip(names, args))
    bound.update(kwargs)
    return bound


class _GroupedConvMode(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (torch.conv2d, F.conv2d, torch.conv1d, F.conv1d):
            a = _conv_args(args, kwargs)
            x = a["input"]
            if (a["groups"] > 1 and x.dtype == torch.float64 and x.device.type == "cpu"
                    and not isinstance(a["padding"], str)
                    and x.dim() == (4 if func in (torch.conv2d, F.conv2d) else 3)):
                if x.dim() == 4:
                    return grouped_conv2d(x, a["weight"], a["bias"], a["stride"],
                                          a["padding"], a["dilation"], a["groups"])
                one = grouped_conv2d(x.unsqueeze(2), a["weight"].unsqueeze(2), a["bias"],
                                     (1, _pairs(a["stride"], 1)[0]),
                                     (0, _pairs(a["padding"], 1)[0]),
                                     (1, _pairs(a["dilation"], 1)[0]), a["groups"])
                return one.squeeze(2)
        return func(*args, **kwargs)


@contextlib.contextmanager
def fast_grouped_convolutions():
    """Compute float64 CPU grouped convolutions tap by tap (see :func:`grouped_conv2d`)."""
    with _GroupedConvMode():
        yield
