"""Random network families for :mod:`plnet.testing.strategies`.

Each family is a function ``build_<family>(draft)`` that draws a small architecture with
hypothesis (through ``draft.draw``) and its weights with numpy (through ``draft.rng``).
Geometry is computed before a node is added, so every drawn layer is valid; a block whose
ops are not allowed (``draft.allowed``) is never chosen.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from plnet.builder import NetworkBuilder


#: negative slopes drawn by LeakyReLU and PReLU (negative and above 1 included)
SLOPES = (0.01, 0.1, 0.3, -0.2, 1.5)


class Draft:
    """What a family needs while drawing: the builder, hypothesis' draw, an rng, options."""

    def __init__(self, draw, builder: NetworkBuilder, rng: np.random.Generator,
                 allowed: frozenset[str], max_depth: int, max_width: int):
        self.draw, self.b, self.rng = draw, builder, rng
        self.allowed, self.max_depth, self.max_width = allowed, max_depth, max_width

    def ok(self, *ops: str) -> bool:
        return set(ops) <= self.allowed

    def shape(self, node):
        return self.b.shape(node)

    def integers(self, lo, hi):
        return self.draw(st.integers(lo, max(lo, hi)))

    def weight(self, *shape, fan_in=None):
        # He-style scale keeps activations O(1) through depth, so margins stay moderate
        fan_in = fan_in or int(math.prod(shape[1:])) or 1
        return self.rng.normal(size=shape) * math.sqrt(2.0 / fan_in)

    def bias(self, n):
        return self.rng.normal(size=n) * 0.5

    def activation(self, node):
        """Append a ReLU, LeakyReLU or PReLU (whichever are allowed), or nothing if none is."""
        choices = [a for a in ("relu", "leaky_relu", "prelu") if a in self.allowed]
        if not choices:
            return node
        kind = self.draw(st.sampled_from(choices))
        if kind == "relu":
            return self.b.relu(node)
        if kind == "leaky_relu":
            return self.b.leaky_relu(node, self.draw(st.sampled_from(SLOPES)))
        return self.b.prelu(node, self.prelu_slope(self.shape(node)))

    def prelu_slope(self, shape):
        """One slope, one per channel (axis 0, ``[C, 1, ...]``) or one per last-axis
        feature (``[F]``), drawn from :data:`SLOPES` (negative and above 1 included)."""
        layout = self.draw(st.sampled_from(["scalar", "channel", "last_axis"]))
        if layout == "scalar":
            return np.array(self.draw(st.sampled_from(SLOPES)))
        size = shape[0] if layout == "channel" else shape[-1]
        values = np.array(self.draw(st.lists(st.sampled_from(SLOPES), min_size=size,
                                             max_size=size)))
        if layout == "channel":
            return values.reshape((size,) + (1,) * (len(shape) - 1))
        return values

    def dense(self, node, width, bias=True):
        fan_in = self.shape(node)[-1]
        return self.b.dense(node, self.weight(width, fan_in), self.bias(width) if bias else None)

    def scale_shift(self, node, shape):
        kind = self.draw(st.sampled_from(["full", "scalar", "scale_only", "shift_only"]))
        scale = self.rng.uniform(0.5, 2.0, size=shape) * self.rng.choice([-1.0, 1.0], size=shape)
        shift = self.rng.normal(size=shape) * 0.3
        if kind == "scalar":
            scale, shift = np.array(float(scale.ravel()[0])), np.array(float(shift.ravel()[0]))
        return self.b.scale_shift(node, None if kind == "shift_only" else scale,
                                  None if kind == "scale_only" else shift)

    def blocks(self, table):
        """The blocks of ``table`` ({name: required ops}) whose ops are all allowed."""
        return [name for name, needs in table.items() if self.ok(*needs)]

    def head(self, node):
        """Flatten (if needed) and a small dense output layer, when those ops are allowed."""
        if self.ok("dense") and self.draw(st.booleans()):
            if len(self.shape(node)) > 1 and self.ok("flatten"):
                node = self.b.flatten(node)
            return self.dense(node, self.integers(1, 3))
        return node


# --- window geometry -----------------------------------------------------------------------
def draw_window(d: Draft, length: int, pooling: bool):
    """(kernel, stride, (pad_begin, pad_end), dilation) valid for an axis of ``length``."""
    kernel = d.integers(1, min(3, length + 1))
    dilation = d.integers(1, 2)
    stride = d.integers(1, 2 if not pooling else 3)
    # torch pools need padding <= kernel / 2 (so a window never lies wholly in padding)
    max_pad = kernel // 2 if pooling else 2
    pads = (d.integers(0, max_pad), d.integers(0, max_pad))
    if dilation * (kernel - 1) + 1 > length + sum(pads):
        dilation = 1
    if kernel > length + sum(pads):
        kernel = 1
    return kernel, stride, pads, dilation


def same_padding(d: Draft, kernel: int, dilation: int):
    """An asymmetric (begin, end) padding that keeps the length at stride 1."""
    total = dilation * (kernel - 1)
    begin = d.integers(0, total)
    return begin, total - begin


def pool_fits(spatial, kernel, stride, pads, dilation, ceil_mode) -> bool:
    """True when every window of this geometry covers at least one input position."""
    from plnet.errors import ShapeError
    from plnet.ops.windows import window_table

    try:
        table = window_table(tuple(spatial), tuple(kernel), tuple(stride), tuple(pads),
                             tuple(dilation), bool(ceil_mode), "pool")
    except ShapeError:
        return False
    return bool(((table.index >= 0).sum(axis=1) > 0).all())


def units_so_far(b: NetworkBuilder) -> int:
    """N of the network built so far (every node of a draft lies on the output's path)."""
    total = 0
    for name, data in b.graph.nodes(data=True):
        op = data["op"]
        if op.carries_pattern:
            (src,) = [u for u, _ in b.graph.in_edges(name)]
            total += op.num_units(b.shapes[src])
    return total


# --- MLP family: dense layers on the last axis, residual adds, branches, views ----------------
def _mlp_dense(d: Draft, node):
    return d.activation(d.dense(node, d.integers(1, d.max_width)))


def _mlp_residual(d: Draft, node):
    width = d.shape(node)[-1]
    h = d.activation(d.dense(node, width))
    branches = [node, d.dense(h, width)]
    if d.draw(st.booleans()):  # an n-ary add with a third, bias-free branch
        branches.append(d.dense(node, width, bias=False))
    return d.activation(d.b.add(*branches))


def _mlp_branches(d: Draft, node):
    left = d.dense(node, d.integers(1, d.max_width // 2 + 1))
    right = d.activation(d.dense(node, d.integers(1, d.max_width // 2 + 1)))
    axis = d.draw(st.sampled_from([-1, len(d.shape(node)) - 1]))
    return d.activation(d.b.concat(left, right, axis=axis))


def _mlp_slice(d: Draft, node):
    shape = d.shape(node)
    axis = d.integers(0, len(shape) - 1)
    n = shape[axis]
    start = d.integers(0, n - 1)
    return d.b.slice(node, axis, start, d.integers(start + 1, n + 1), d.integers(1, 2))


def _mlp_take(d: Draft, node):
    shape = d.shape(node)
    axis = d.integers(0, len(shape) - 1)
    n = shape[axis]
    indices = d.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=min(4, n + 1)))
    if len(shape) > 1 and len(indices) == 1 and d.draw(st.booleans()):
        return d.b.take(node, axis, indices[0])  # a scalar index drops the axis
    return d.b.take(node, axis, indices)


def _mlp_scale_shift(d: Draft, node):
    shape = d.shape(node)
    return d.scale_shift(node, shape if d.draw(st.booleans()) else shape[-1:])


def _mlp_view(d: Draft, node):
    shape = d.shape(node)
    n = shape[-1]
    a = d.draw(st.sampled_from([k for k in range(1, n + 1) if n % k == 0]))
    node = d.b.reshape(node, shape[:-1] + (a, n // a))
    rank = len(shape) + 1
    perm = list(range(rank))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    node = d.b.transpose(node, perm)
    return d.b.flatten(node)


MLP_BLOCKS = {
    _mlp_dense: ("dense",), _mlp_residual: ("dense", "add"), _mlp_branches: ("dense", "concat"),
    _mlp_slice: ("slice",), _mlp_take: ("take",), _mlp_scale_shift: ("scale_shift",),
    _mlp_view: ("reshape", "transpose", "flatten"),
}


def build_mlp(d: Draft, node):
    """Dense layers (on the last axis of any input rank) with residual adds and views."""
    shape = d.shape(node)
    if d.ok("scale_shift") and d.draw(st.booleans()):
        node = d.scale_shift(node, shape if d.draw(st.booleans()) else shape[-1:])
    if len(shape) > 1 and d.ok("flatten") and d.draw(st.booleans()):
        node = d.b.flatten(node)
    blocks = d.blocks(MLP_BLOCKS)
    for _ in range(d.integers(1, d.max_depth) if blocks else 0):
        node = d.draw(st.sampled_from(blocks))(d, node)
    return node


# --- RNN family: unrolled Elman RNNs via NetworkBuilder.rnn -----------------------------------
RNN_OPS = ("take", "dense", "add", "reshape", "concat")


def build_rnn(d: Draft, node):
    """One or two stacked Elman RNNs (ReLU or LeakyReLU) over an input ``[T, F]``."""
    if d.ok("scale_shift") and d.draw(st.booleans()):
        node = d.scale_shift(node, d.shape(node)[-1:])
    acts = [a for a in ("relu", "leaky_relu") if a in d.allowed]
    layers = d.integers(1, min(2, d.max_depth))
    for i in range(layers):
        features, hidden = d.shape(node)[-1], d.integers(1, 5)
        nonlinearity = d.draw(st.sampled_from(acts))
        alpha = d.draw(st.sampled_from([0.01, 0.2, -0.5]))
        bias_hh = d.bias(hidden) if d.ok("scale_shift") and d.draw(st.booleans()) else None
        node = d.b.rnn(node, d.weight(hidden, features), d.weight(hidden, hidden) * 0.7,
                       d.bias(hidden), bias_hh, nonlinearity=nonlinearity, alpha=alpha,
                       return_sequences=i < layers - 1 or d.draw(st.booleans()))
    return node
