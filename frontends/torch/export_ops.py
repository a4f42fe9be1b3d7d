"""The torch forward of every IR op, for :func:`plnet.frontends.torch.to_torch`.

Each function is ``forward_<op>(module, *inputs)``; ``module`` is the
:class:`plnet.frontends.torch.export.OpModule` holding the op, its parameters and the
per-sample shapes. Window ops are written with explicit padding and cropping so that
asymmetric padding and ceil_mode follow the IR's window rule exactly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _pad_arg(pairs):
    """IR ``(begin, end)`` pairs per axis -> F.pad's flat list (last axis first)."""
    return [int(v) for pair in reversed(pairs) for v in pair]


def _window_padding(module):
    """Pad for a window op so that exactly the IR's output windows exist, then conv/pool."""
    op, in_shape, out_shape = module.op, module.in_shapes[0], module.out_shape
    pads = []
    for length, out, k, s, d, (pb, pe) in zip(in_shape[1:], out_shape[1:], op.kernel,
                                              op.stride, op.dilation, op.padding):
        needed = (out - 1) * s + d * (k - 1) + 1
        pads.append((pb, pe + max(0, needed - (length + pb + pe))))
    return pads


def _crop(y, out_shape):
    index = (slice(None), slice(None)) + tuple(slice(0, n) for n in out_shape[1:])
    return y[index]


def forward_dense(module, x):
    return F.linear(x, module.weights["weight"], module.weights.get("bias"))


def forward_conv(module, x):
    op = module.op
    conv = F.conv1d if len(op.stride) == 1 else F.conv2d
    w, b = module.weights["weight"], module.weights.get("bias")
    if all(pb == pe for pb, pe in op.padding):
        return conv(x, w, b, op.stride, [pb for pb, _ in op.padding], op.dilation, op.groups)
    x = F.pad(x, _pad_arg(op.padding))
    return conv(x, w, b, op.stride, 0, op.dilation, op.groups)


def forward_avg_pool(module, x):
    op = module.op
    conv = F.conv1d if len(op.kernel) == 1 else F.conv2d
    x = F.pad(x, _pad_arg(_window_padding(module)))
    ones = module.window_ones.to(x.dtype)
    total = conv(x, ones, None, op.stride, 0, op.dilation, groups=x.shape[1])
    return _crop(total, module.out_shape) / module.divisor.to(x.dtype)


def forward_max_pool(module, x):
    op = module.op
    pool = F.max_pool1d if len(op.kernel) == 1 else F.max_pool2d
    x = F.pad(x, _pad_arg(_window_padding(module)), value=-math.inf)
    return _crop(pool(x, op.kernel, op.stride, 0, op.dilation), module.out_shape)


def forward_scale_shift(module, x):
    scale, shift = module.weights.get("scale"), module.weights.get("shift")
    if scale is not None:
        x = x * scale
    if shift is not None:
        x = x + shift
    return x


def forward_relu(module, x):
    return F.relu(x)


def forward_leaky_relu(module, x):
    return F.leaky_relu(x, module.op.alpha)


def forward_add(module, *xs):
    y = xs[0]
    for x in xs[1:]:
        y = y + x
    return y


def forward_flatten(module, x):
    return x.reshape(x.shape[0], -1)


def forward_reshape(module, x):
    return x.reshape((x.shape[0],) + tuple(module.op.shape))


def forward_transpose(module, x):
    return x.permute((0,) + tuple(p + 1 for p in module.op.perm))


def forward_slice(module, x):
    op = module.op
    axis = op.axis % len(module.in_shapes[0])
    index = (slice(None),) * (axis + 1) + (slice(op.start, op.stop, op.step),)
    return x[index]


def forward_take(module, x):
    axis = module.op.axis % len(module.in_shapes[0]) + 1
    y = torch.index_select(x, axis, module.indices)
    return y if module.op.keepdim else y.squeeze(axis)


def forward_concat(module, *xs):
    return torch.cat(xs, dim=module.op.axis % len(module.in_shapes[0]) + 1)


def forward_pad(module, x):
    return F.pad(x, _pad_arg(module.op.pads))


FORWARDS = {
    "dense": forward_dense, "conv": forward_conv, "avg_pool": forward_avg_pool,
    "max_pool": forward_max_pool, "scale_shift": forward_scale_shift, "relu": forward_relu,
    "leaky_relu": forward_leaky_relu, "add": forward_add, "flatten": forward_flatten,
    "reshape": forward_reshape, "transpose": forward_transpose, "slice": forward_slice,
    "take": forward_take, "concat": forward_concat, "pad": forward_pad,
}
