"""Helpers shared by the core tests: an independent torch (float64) interpreter of the IR.

Test files cannot import each other (pytest runs with --import-mode=importlib), so shared
helpers are fixtures here.
"""

from __future__ import annotations

import numpy as np
import pytest


def _torch_node(torch, F, net, op, xs):
    """One op in torch, written from the op's documented semantics, not from plnet's code."""
    params = {k: torch.from_numpy(np.array(v)) for k, v in net.params.items()}
    t = op.type_name
    if t == "dense":
        return F.linear(xs[0], params[op.weight], params[op.bias] if op.bias else None)
    if t == "conv":
        w = params[op.weight]
        pads = [p for pair in reversed(op.padding) for p in pair]  # F.pad: last axis first
        x = F.pad(xs[0], pads)
        conv = F.conv1d if w.ndim == 3 else F.conv2d
        return conv(x, w, params[op.bias] if op.bias else None, stride=op.stride,
                    dilation=op.dilation, groups=op.groups)
    if t == "conv_transpose":
        # torch pads symmetrically: take the full output (no padding), zero-extend it by
        # output_padding, and cut (begin, end) off every axis
        w = params[op.weight]
        conv = F.conv_transpose1d if w.ndim == 3 else F.conv_transpose2d
        full = conv(xs[0], w, None, stride=op.stride, groups=op.groups, dilation=op.dilation)
        full = F.pad(full, [p for extra in reversed(op.output_padding) for p in (0, extra)])
        index = [slice(None), slice(None)] + [slice(b, n - e) for (b, e), n in
                                              zip(op.padding, full.shape[2:])]
        y = full[tuple(index)]
        return y + params[op.bias].reshape((-1,) + (1,) * (w.ndim - 2)) if op.bias else y
    if t in ("avg_pool", "max_pool"):
        return _torch_pool(torch, F, op, xs[0])
    if t == "scale_shift":
        y = xs[0] * params[op.scale] if op.scale else xs[0]
        return y + params[op.shift] if op.shift else y
    if t == "relu":
        return torch.relu(xs[0])
    if t == "leaky_relu":
        return F.leaky_relu(xs[0], op.alpha)
    if t == "prelu":  # torch's prelu: the slope broadcasts like an elementwise product
        slope = params[op.slope]
        return torch.where(xs[0] > 0, xs[0], slope * xs[0])
    if t == "add":
        return sum(xs[1:], xs[0])
    if t == "flatten":
        return torch.flatten(xs[0], 1)
    if t == "reshape":
        return xs[0].reshape((xs[0].shape[0],) + tuple(op.shape))
    if t == "transpose":
        return xs[0].permute((0,) + tuple(p + 1 for p in op.perm))
    if t == "slice":
        ax = op.axis % (xs[0].ndim - 1) + 1
        return xs[0][(slice(None),) * ax + (slice(op.start, op.stop, op.step),)]
    if t == "take":
        ax = op.axis % (xs[0].ndim - 1) + 1
        n = xs[0].shape[ax]
        idx = torch.tensor([i % n for i in op.indices])
        y = torch.index_select(xs[0], ax, idx)
        return y if op.keepdim else y.squeeze(ax)
    if t == "concat":
        return torch.cat(xs, dim=op.axis % (xs[0].ndim - 1) + 1)
    if t == "pad":
        return F.pad(xs[0], [p for pair in reversed(op.pads) for p in pair])
    raise NotImplementedError(f"no torch reference for op {t!r}: add one to tests/core/conftest.py")


def torch_pool_length(length, kernel, stride, pad_begin, pad_end, dilation, ceil_mode):
    """Output length by torch's documented rule (the last window starts inside the input
    or its left padding)."""
    span = length + pad_begin + pad_end - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= length + pad_begin:
        out -= 1
    return out


def _native_pool(F, op, x):
    """torch's own pooling call, where it takes the op's attributes directly."""
    n = len(op.kernel)
    pad = [b for b, _ in op.padding]
    if op.type_name == "max_pool":
        fn = F.max_pool1d if n == 1 else F.max_pool2d
        return fn(x, op.kernel, op.stride, pad, op.dilation, op.ceil_mode)
    fn = F.avg_pool1d if n == 1 else F.avg_pool2d
    return fn(x, op.kernel, op.stride, pad, op.ceil_mode, op.count_include_pad)


def native_pool_applies(op) -> bool:
    symmetric = all(b == e for b, e in op.padding)
    small_pad = all(b <= k // 2 for (b, _), k in zip(op.padding, op.kernel))
    no_dilation = op.type_name == "max_pool" or all(d == 1 for d in op.dilation)
    return symmetric and small_pad and no_dilation


def _torch_pool(torch, F, op, x, generic=False):
    if native_pool_applies(op) and not generic:
        return _native_pool(F, op, x)
    # Otherwise: explicit padding (plus the extra right padding ceil_mode implies), then a
    # floor-mode max pool, or a sum by a ones-kernel convolution divided by a counted mask.
    spatial = x.shape[2:]
    full, declared = [], []
    for length, k, s, (b, e), d in zip(spatial, op.kernel, op.stride, op.padding, op.dilation):
        n_out = torch_pool_length(length, k, s, b, e, d, op.ceil_mode)
        extra = max(0, (n_out - 1) * s + d * (k - 1) + 1 - (length + b + e))
        full.append((b, e + extra))
        declared.append((b, e, extra))
    flat = [p for pair in reversed(full) for p in pair]
    n = len(op.kernel)
    if op.type_name == "max_pool":
        fn = F.max_pool1d if n == 1 else F.max_pool2d
        return fn(F.pad(x, flat, value=-float("inf")), op.kernel, op.stride, 0, op.dilation)
    conv = F.conv1d if n == 1 else F.conv2d
    c = x.shape[1]
    ones = torch.ones((c, 1) + tuple(op.kernel), dtype=x.dtype)
    total = conv(F.pad(x, flat), ones, stride=op.stride, dilation=op.dilation, groups=c)
    mask = torch.ones((1, 1) + tuple(spatial), dtype=x.dtype)
    if op.count_include_pad:
        mask = F.pad(mask, [p for b, e, _ in reversed(declared) for p in (b, e)], value=1.0)
        mask = F.pad(mask, [p for _, _, extra in reversed(declared) for p in (0, extra)])
    else:
        mask = F.pad(mask, flat)
    count = conv(mask, ones[:1], stride=op.stride, dilation=op.dilation)
    return total / count


def torch_values(net, x):
    """Every node's value for a float64 torch tensor ``x``, by an independent interpreter."""
    import torch
    import torch.nn.functional as F

    env = {net.input_name: x}
    for name in net.order:
        if name == net.input_name:
            continue
        env[name] = _torch_node(torch, F, net, net.op(name), [env[u] for u in net.inputs_of(name)])
    return env


@pytest.fixture(scope="session")
def torch_reference():
    """``torch_values(net, x_tensor) -> {node: tensor}`` (skips without torch)."""
    pytest.importorskip("torch")
    return torch_values


@pytest.fixture(scope="session")
def torch_pool_reference():
    """``pool(op, x_tensor, generic)``: torch's pooling call, or (``generic``) the explicit
    padding reference used where torch has no direct call."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    return lambda op, x, generic=False: _torch_pool(torch, F, op, x, generic)


def _mlp(b, rng):
    return b.dense(b.input, rng.normal(size=(3, 4)), rng.normal(size=3))


#: one small example network per op type: (input shape, builder of the node under test)
OP_EXAMPLES = {
    "input": ((2, 3), lambda b, rng: b.input),
    "dense": ((2, 4), _mlp),
    "conv": ((2, 5, 4), lambda b, rng: b.conv(b.input, rng.normal(size=(4, 1, 2, 3)),
                                              rng.normal(size=4), (2, 1), ((1, 0), (0, 2)),
                                              (1, 2), groups=2)),
    "conv_transpose": ((2, 3, 4), lambda b, rng: b.conv_transpose(
        b.input, rng.normal(size=(2, 3, 2, 3)), rng.normal(size=6), (2, 1), ((1, 0), (0, 2)),
        (1, 0), (1, 2), groups=2)),
    "avg_pool": ((2, 7), lambda b, rng: b.avg_pool(b.input, 3, 2, ((1, 0),), 1, True, False)),
    "max_pool": ((2, 5, 5), lambda b, rng: b.max_pool(b.input, (2, 3), (2, 1), ((1, 0), (1, 1)),
                                                      (1, 2), True)),
    "scale_shift": ((2, 3), lambda b, rng: b.scale_shift(b.input, rng.normal(size=(1, 3)),
                                                         rng.normal(size=(2, 3)))),
    "flatten": ((2, 3), lambda b, rng: b.flatten(b.input)),
    "reshape": ((2, 6), lambda b, rng: b.reshape(b.input, (3, 2, 2))),
    "transpose": ((2, 3, 4), lambda b, rng: b.transpose(b.input, (2, 0, 1))),
    "slice": ((4, 7), lambda b, rng: b.slice(b.input, 1, 1, 6, 2)),
    "take": ((4, 3), lambda b, rng: b.take(b.input, 0, (3, -1, 0, 0))),
    "concat": ((2, 3), lambda b, rng: b.concat(b.input, _mlp_like(b, rng), axis=0)),
    "pad": ((2, 3), lambda b, rng: b.pad(b.input, ((1, 0), (2, 3)))),
    "add": ((2, 3), lambda b, rng: b.add(b.input, b.relu(b.input), b.scale_shift(b.input, 2.0))),
    "relu": ((2, 3), lambda b, rng: b.relu(b.input)),
    "leaky_relu": ((2, 3), lambda b, rng: b.leaky_relu(b.input, -0.3)),
    "prelu": ((2, 3, 2), lambda b, rng: b.prelu(b.input, np.array([[[-0.4]], [[1.7]]]))),
}


def _mlp_like(b, rng):
    return b.dense(b.input, rng.normal(size=(3, 3)))


@pytest.fixture(scope="session")
def op_examples():
    """type name -> (input shape, ``build(builder, rng) -> node``): one example per op."""
    return OP_EXAMPLES


@pytest.fixture
def rng():
    return np.random.default_rng(0)
