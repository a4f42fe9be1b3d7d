"""Random 1-d and 2-d convolutional families for :mod:`plnet.testing.strategies`.

A node's per-sample shape is ``[C, *spatial]`` throughout; every block keeps it so, and
computes its window geometry before adding a node, so drawn layers are always valid.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

from plnet.testing.families import Draft, draw_window, pool_fits, same_padding

#: channels are capped so that a layer's output stays below about this many units
UNIT_BUDGET = 48


def _channel_cap(spatial) -> int:
    return max(1, min(4, UNIT_BUDGET // max(1, math.prod(spatial))))


def _conv(d: Draft, node, c_out=None, same=False):
    c_in, *spatial = d.shape(node)
    groups = d.draw(st.sampled_from([g for g in range(1, c_in + 1) if c_in % g == 0]))
    if c_out is None:
        per_group = max(1, _channel_cap(spatial) // groups)
        c_out = groups * d.integers(1, per_group)
    elif c_out % groups:
        groups = 1
    kernel, stride, pads, dilation = [], [], [], []
    for length in spatial:
        k, s, p, dil = draw_window(d, length, pooling=False)
        if same:
            s, p = 1, same_padding(d, k, dil)
        kernel.append(k), stride.append(s), pads.append(p), dilation.append(dil)
    weight = d.weight(c_out, c_in // groups, *kernel)
    bias = d.bias(c_out) if d.draw(st.booleans()) else None
    return d.b.conv(node, weight, bias, stride=stride, padding=pads, dilation=dilation,
                    groups=groups)


def _transposed_axis(d: Draft, length: int):
    """(kernel, stride, (pad_begin, pad_end), output_padding, dilation) of one axis whose
    output is between 1 and ``2 * length + 2`` long."""
    kernel, dilation = d.integers(1, 3), d.integers(1, 2)
    stride = d.integers(1, 2 if length <= 5 else 1)
    output_padding = d.integers(0, max(stride, dilation) - 1)
    full = (length - 1) * stride + dilation * (kernel - 1) + output_padding + 1
    begin = d.integers(0, min(2, full - 1))
    end = d.integers(0, min(2, full - 1 - begin))
    return kernel, stride, (begin, end), output_padding, dilation


def _block_conv_transpose(d: Draft, node):
    c_in, *spatial = d.shape(node)
    groups = d.draw(st.sampled_from([g for g in range(1, c_in + 1) if c_in % g == 0]))
    axes = [_transposed_axis(d, length) for length in spatial]
    kernel, stride, pads, output_padding, dilation = (
        [a[i] for a in axes] for i in range(5))
    out_spatial = [(n - 1) * s + dil * (k - 1) + op + 1 - sum(p)
                   for n, (k, s, p, op, dil) in zip(spatial, axes)]
    c_out = groups * d.integers(1, max(1, _channel_cap(out_spatial) // groups))
    weight = d.weight(c_in, c_out // groups, *kernel, fan_in=c_in // groups * math.prod(kernel))
    bias = d.bias(c_out) if d.draw(st.booleans()) else None
    return d.activation(d.b.conv_transpose(node, weight, bias, stride, pads, output_padding,
                                           dilation, groups))


def _pool_geometry(d: Draft, node):
    spatial = d.shape(node)[1:]
    windows = [draw_window(d, length, pooling=True) for length in spatial]
    kernel, stride, pads, dilation = (tuple(w[i] for w in windows) for i in range(4))
    ceil_mode = d.draw(st.booleans())
    if not pool_fits(spatial, kernel, stride, pads, dilation, ceil_mode):
        ones = (1,) * len(spatial)
        return ones, ones, ((0, 0),) * len(spatial), ones, False
    return kernel, stride, pads, dilation, ceil_mode


def _block_conv(d: Draft, node):
    return d.activation(_conv(d, node))


def _block_max_pool(d: Draft, node):
    kernel, stride, pads, dilation, ceil_mode = _pool_geometry(d, node)
    return d.b.max_pool(node, kernel, stride, pads, dilation, ceil_mode)


def _block_avg_pool(d: Draft, node):
    kernel, stride, pads, dilation, ceil_mode = _pool_geometry(d, node)
    return d.b.avg_pool(node, kernel, stride, pads, dilation, ceil_mode,
                        count_include_pad=d.draw(st.booleans()))


def _block_pad(d: Draft, node):
    rank = len(d.shape(node))
    pads = [(d.integers(0, 1), d.integers(0, 1))] + [
        (d.integers(0, 2), d.integers(0, 2)) for _ in range(rank - 1)]
    return d.b.pad(node, pads)


def _block_residual(d: Draft, node):
    c = d.shape(node)[0]
    h = d.activation(_conv(d, node, c_out=c, same=True))
    return d.activation(d.b.add(node, _conv(d, h, c_out=c, same=True)))


def _block_concat(d: Draft, node):
    left = _conv(d, node, same=True)
    right = d.activation(_conv(d, node, same=True))
    return d.activation(d.b.concat(left, right, axis=d.draw(st.sampled_from([0, -len(
        d.shape(node))]))))


def _block_slice(d: Draft, node):
    shape = d.shape(node)
    axis = d.integers(0, len(shape) - 1)
    n = shape[axis]
    start = d.integers(0, n - 1)
    return d.b.slice(node, axis, start, d.integers(start + 1, n), d.integers(1, 2))


def _block_take(d: Draft, node):
    c = d.shape(node)[0]
    indices = d.draw(st.lists(st.integers(-c, c - 1), min_size=1, max_size=3))
    return d.b.take(node, 0, indices)


def _block_scale_shift(d: Draft, node):
    shape = d.shape(node)
    return d.scale_shift(node, (shape[0],) + (1,) * (len(shape) - 1))


def _block_channel_mix(d: Draft, node):
    # a dense layer over channels, between transposes: how ONNX exports often look
    rank = len(d.shape(node))
    to_last = tuple(range(1, rank)) + (0,)
    back = (rank - 1,) + tuple(range(rank - 1))
    h = d.b.transpose(node, to_last)
    h = d.dense(h, d.integers(1, _channel_cap(d.shape(node)[1:])))
    return d.b.transpose(h, back)


def _block_swap_axes(d: Draft, node):
    return d.b.transpose(node, (0, 2, 1))


def _block_rows_as_sequence(d: Draft, node):
    # [C, H, W] -> [C, H * W]: a 2-d map read as a 1-d signal, then a 1-d max pool
    c, h, w = d.shape(node)
    flat = d.b.reshape(node, (c, h * w))
    kernel, stride, pads, dilation, ceil_mode = _pool_geometry(d, flat)
    pooled = d.b.max_pool(flat, kernel, stride, pads, dilation, ceil_mode)
    return pooled


CONV_BLOCKS = {
    _block_conv: ("conv",), _block_conv_transpose: ("conv_transpose",),
    _block_max_pool: ("max_pool",), _block_avg_pool: ("avg_pool",),
    _block_pad: ("pad",), _block_residual: ("conv", "add"), _block_concat: ("conv", "concat"),
    _block_slice: ("slice",), _block_take: ("take",), _block_scale_shift: ("scale_shift",),
    _block_channel_mix: ("transpose", "dense"),
}
CONV2D_BLOCKS = {**CONV_BLOCKS, _block_swap_axes: ("transpose",),
                 _block_rows_as_sequence: ("reshape", "max_pool")}


def build_cnn(d: Draft, node):
    """Convolutions, pools, pads, views and branches over ``[C, L]`` or ``[C, H, W]``."""
    table = CONV_BLOCKS if len(d.shape(node)) == 2 else CONV2D_BLOCKS
    blocks = d.blocks(table)
    for _ in range(d.integers(1, d.max_depth) if blocks else 0):
        allowed = blocks if len(d.shape(node)) == len(d.b.shape(d.b.input)) else [
            blk for blk in blocks if blk is not _block_swap_axes
            and blk is not _block_rows_as_sequence]
        node = d.draw(st.sampled_from(allowed))(d, node)
    return node

