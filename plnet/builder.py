"""A small builder API to make networks by hand (and the unrolled Elman RNN)."""

from __future__ import annotations

import math
from typing import Sequence

import networkx as nx
import numpy as np
import numpy.typing as npt

from plnet.edges import connect
from plnet.errors import InvalidInputError, ShapeError
from plnet.network import Network, _as_param
from plnet.ops import (Add, AvgPool, Concat, Conv, ConvTranspose, Dense, Flatten, Input,
                       LeakyReLU, MaxPool, Op, Pad, PReLU, ReLU, Reshape, ScaleShift, Slice,
                       Take, Transpose)
from plnet.ops.base import int_tuple

#: an array, or the name of a parameter already in the store (to tie to it)
Param = npt.ArrayLike | str
#: one int for every axis, or one per axis
Ints = int | Sequence[int]
#: ``p``, one ``p`` per axis, or one ``(begin, end)`` pair per axis
Padding = int | Sequence[int] | Sequence[Sequence[int]]


def padding_pairs(padding: Padding, n: int) -> tuple[tuple[int, int], ...]:
    """One ``(begin, end)`` pair per axis from ``p``, ``(p0, p1)`` or ``((b0, e0), (b1, e1))``.

    With one spatial axis, a pair of ints is that axis's ``(begin, end)``.
    """
    if isinstance(padding, (int, np.integer)):
        return ((int(padding), int(padding)),) * n
    items = tuple(padding)
    if n == 1 and len(items) == 2 and all(isinstance(p, (int, np.integer)) for p in items):
        return ((int(items[0]), int(items[1])),)  # one axis: (begin, end)
    if len(items) == n and all(isinstance(p, (int, np.integer)) for p in items):
        return tuple((int(p), int(p)) for p in items)
    if len(items) == n and all(len(p) == 2 for p in items):
        return tuple((int(b), int(e)) for b, e in items)
    raise InvalidInputError(f"padding {padding!r} must be an int, {n} ints, or {n} "
                            f"(begin, end) pairs")


class NetworkBuilder:
    """Build a :class:`plnet.Network` node by node.

    Every method adds one node (or, for :meth:`rnn`, an unrolled block), checks its shape
    at once, and returns the new node's name. Weights are given as arrays (stored under
    ``"<node>.<field>"``) or as the name of a parameter already in the store, which ties
    them.

    Example:
        >>> b = NetworkBuilder((2,))
        >>> h = b.relu(b.dense(b.input, np.ones((3, 2)), np.zeros(3)))
        >>> net = b.build(b.dense(h, np.ones((1, 3))))

    Args:
        input_shape: the per-sample input shape (no batch axis), e.g. ``(1, 28, 28)``.
        input_name: the name of the input node.
    """

    def __init__(self, input_shape: Sequence[int], input_name: str = "input"):
        shape = tuple(int(d) for d in input_shape)
        if any(d < 1 for d in shape):
            raise ShapeError(f"input shape {shape} must have positive sizes")
        self.graph = nx.DiGraph()
        self.params: dict[str, np.ndarray] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}
        self._last = None
        self.input = self.add_node(Input(shape=shape), [], name=input_name)

    # --- primitives ----------------------------------------------------------------------
    def shape(self, node: str) -> tuple[int, ...]:
        """Per-sample shape of a node added so far."""
        return self.shapes[node]

    def param(self, name: str, value: Param) -> str:
        """Store a parameter under ``name`` (a string value refers to an existing one)."""
        if isinstance(value, str):
            if value not in self.params:
                raise InvalidInputError(f"no parameter named {value!r} to tie to")
            return value
        if name in self.params:
            raise InvalidInputError(f"parameter {name!r} already exists")
        self.params[name] = _as_param(name, value)
        return name

    def add_node(self, op: Op, inputs: Sequence[str], name: str | None = None) -> str:
        """Add a node computing ``op`` on ``inputs`` (node names) and return its name."""
        name = name or self._fresh(op.type_name)
        if name in self.graph:
            raise InvalidInputError(f"a node named {name!r} already exists")
        for u in inputs:
            if u not in self.graph:
                raise InvalidInputError(f"node {name!r}: unknown input node {u!r}")
        try:
            shape = op.output_shape([self.shapes[u] for u in inputs], self.params)
        except ShapeError as exc:
            self._forget_params(name, op)
            raise ShapeError(f"node {name!r} ({op.type_name}): {exc}") from None
        self.graph.add_node(name, op=op)
        connect(self.graph, inputs, name)
        self.shapes[name] = tuple(shape)
        self._last = name
        return name

    def _forget_params(self, name: str, op: Op) -> None:
        """Drop the parameters a rejected node registered, so the call can be retried."""
        used = {p for _, d in self.graph.nodes(data=True) for p in d["op"].param_names()}
        for p in op.param_names():
            if p.startswith(f"{name}.") and p not in used:
                self.params.pop(p, None)

    def _fresh(self, base: str) -> str:
        i = len(self.graph)
        while f"{base}_{i}" in self.graph:
            i += 1
        return f"{base}_{i}"

    def _weights(self, name: str, **values):
        return {k: (None if v is None else self.param(f"{name}.{k}", v))
                for k, v in values.items()}

    def build(self, output: str | None = None) -> Network:
        """Finish: a validated :class:`Network` whose output is ``output`` (default: last)."""
        return Network(self.graph.copy(), dict(self.params), output or self._last)

    # --- layers --------------------------------------------------------------------------
    def dense(self, x: str, weight: Param, bias: Param | None = None,
              name: str | None = None) -> str:
        """``x W^T + b`` on the last axis; ``weight`` is ``[out, in]``."""
        name = name or self._fresh("dense")
        return self.add_node(Dense(**self._weights(name, weight=weight, bias=bias)), [x], name)

    def conv(self, x: str, weight: Param, bias: Param | None = None, stride: Ints = 1,
             padding: Padding = 0, dilation: Ints = 1, groups: int = 1,
             name: str | None = None) -> str:
        """1-d or 2-d convolution; ``weight`` is ``[C_out, C_in/groups, *kernel]``."""
        name = name or self._fresh("conv")
        n = self._spatial_rank(weight)
        op = Conv(**self._weights(name, weight=weight, bias=bias),
                  stride=int_tuple(stride, n, "stride"), padding=padding_pairs(padding, n),
                  dilation=int_tuple(dilation, n, "dilation"), groups=int(groups))
        return self.add_node(op, [x], name)

    def conv_transpose(self, x: str, weight: Param, bias: Param | None = None,
                       stride: Ints = 1, padding: Padding = 0, output_padding: Ints = 0,
                       dilation: Ints = 1, groups: int = 1, name: str | None = None) -> str:
        """1-d or 2-d transposed convolution; ``weight`` is ``[C_in, C_out/groups, *kernel]``.

        ``padding`` may be asymmetric (``(begin, end)`` per axis); ``output_padding`` must
        be smaller than the stride or the dilation of its axis, as in torch.
        """
        name = name or self._fresh("conv_transpose")
        n = self._spatial_rank(weight)
        op = ConvTranspose(**self._weights(name, weight=weight, bias=bias),
                           stride=int_tuple(stride, n, "stride"),
                           padding=padding_pairs(padding, n),
                           output_padding=int_tuple(output_padding, n, "output_padding"),
                           dilation=int_tuple(dilation, n, "dilation"), groups=int(groups))
        return self.add_node(op, [x], name)

    def _spatial_rank(self, weight: Param) -> int:
        """Spatial axes of a convolution weight ``[C, C', *kernel]`` (array or stored name)."""
        return (np.ndim(weight) if not isinstance(weight, str)
                else self.params[weight].ndim) - 2

    def avg_pool(self, x: str, kernel: Ints, stride: Ints | None = None, padding: Padding = 0,
                 dilation: Ints = 1, ceil_mode: bool = False, count_include_pad: bool = True,
                 name: str | None = None) -> str:
        """Average pooling (stride defaults to the kernel)."""
        n = len(self.shapes[x]) - 1
        kernel = int_tuple(kernel, n, "kernel")
        op = AvgPool(kernel=kernel, stride=int_tuple(stride or kernel, n, "stride"),
                     padding=padding_pairs(padding, n), dilation=int_tuple(dilation, n, "dilation"),
                     ceil_mode=bool(ceil_mode), count_include_pad=bool(count_include_pad))
        return self.add_node(op, [x], name)

    def max_pool(self, x: str, kernel: Ints, stride: Ints | None = None, padding: Padding = 0,
                 dilation: Ints = 1, ceil_mode: bool = False, name: str | None = None) -> str:
        """Max pooling (stride defaults to the kernel)."""
        n = len(self.shapes[x]) - 1
        kernel = int_tuple(kernel, n, "kernel")
        op = MaxPool(kernel=kernel, stride=int_tuple(stride or kernel, n, "stride"),
                     padding=padding_pairs(padding, n), dilation=int_tuple(dilation, n, "dilation"),
                     ceil_mode=bool(ceil_mode))
        return self.add_node(op, [x], name)

    def scale_shift(self, x: str, scale: Param | None = None, shift: Param | None = None,
                    name: str | None = None) -> str:
        """``x * scale + shift`` (broadcast against the per-sample shape)."""
        name = name or self._fresh("scale_shift")
        return self.add_node(ScaleShift(**self._weights(name, scale=scale, shift=shift)), [x], name)

    def normalize(self, x: str, mean: npt.ArrayLike, std: npt.ArrayLike,
                  name: str | None = None) -> str:
        """``(x - mean) / std`` as one scale/shift node."""
        mean, std = np.asarray(mean, float), np.asarray(std, float)
        if (std == 0).any():
            raise InvalidInputError("normalize: std has zeros")
        return self.scale_shift(x, 1.0 / std, -mean / std, name=name)

    def relu(self, x: str, name: str | None = None) -> str:
        return self.add_node(ReLU(), [x], name)

    def leaky_relu(self, x: str, alpha: float = 0.01, name: str | None = None) -> str:
        return self.add_node(LeakyReLU(alpha=float(alpha)), [x], name)

    def prelu(self, x: str, slope: Param, name: str | None = None) -> str:
        """``x if x > 0 else slope * x`` with a trainable (tieable) ``slope``.

        ``slope`` broadcasts against the per-sample shape by numpy's rules: a number for
        one slope, ``[C, 1, 1]`` for one per channel of ``[C, H, W]`` (a string ties it to
        an existing parameter).
        """
        name = name or self._fresh("prelu")
        return self.add_node(PReLU(**self._weights(name, slope=slope)), [x], name)

    def clip(self, x: str, lo: float | None = None, hi: float | None = None,
             name: str | None = None) -> str:
        """``min(max(x, lo), hi)`` exactly, with ReLUs: ``lo + relu(x - lo) - relu(x - hi)``.

        Each finite bound adds one ReLU unit per element: the clip's kinks are region
        boundaries like any other. A missing bound (None) is not applied.
        """
        lo = None if lo is None else float(lo)
        hi = None if hi is None else float(hi)
        if lo is not None and hi is not None and lo > hi:
            raise InvalidInputError(f"clip: min {lo} is larger than max {hi}")
        if lo is None and hi is None:
            return x
        name = name or self._fresh("clip")

        def affine(node, suffix, scale=None, shift=None):
            return self.scale_shift(node, None if scale is None else np.array(scale),
                                    None if shift is None else np.array(shift),
                                    name=f"{name}.{suffix}")

        if lo is None:  # hi - relu(hi - x)
            r = self.relu(affine(x, "hi", scale=-1.0, shift=hi), name=f"{name}.relu_hi")
            return affine(r, "out", scale=-1.0, shift=hi)
        low = self.relu(affine(x, "lo", shift=-lo), name=f"{name}.relu_lo")
        if hi is None:
            return affine(low, "out", shift=lo)
        high = self.relu(affine(x, "hi", shift=-hi), name=f"{name}.relu_hi")
        diff = self.add(low, affine(high, "neg", scale=-1.0), name=f"{name}.diff")
        return affine(diff, "out", shift=lo)

    def abs(self, x: str, name: str | None = None) -> str:
        """``|x| = relu(x) + relu(-x)``, exactly (two ReLU units per element)."""
        name = name or self._fresh("abs")
        neg = self.scale_shift(x, np.array(-1.0), name=f"{name}.neg")
        return self.add(self.relu(x, name=f"{name}.pos_relu"),
                        self.relu(neg, name=f"{name}.neg_relu"), name=name)

    def add(self, *xs: str, name: str | None = None) -> str:
        return self.add_node(Add(), list(xs), name)

    def flatten(self, x: str, name: str | None = None) -> str:
        return self.add_node(Flatten(), [x], name)

    def reshape(self, x: str, shape: Sequence[int], name: str | None = None) -> str:
        """Reshape to a per-sample ``shape``; one entry may be -1."""
        shape = [int(d) for d in shape]
        size = math.prod(self.shapes[x])
        if shape.count(-1) == 1:
            known = math.prod(d for d in shape if d != -1)
            shape[shape.index(-1)] = size // known if known and size % known == 0 else -1
        return self.add_node(Reshape(shape=tuple(shape)), [x], name)

    def transpose(self, x: str, perm: Sequence[int], name: str | None = None) -> str:
        return self.add_node(Transpose(perm=tuple(int(p) for p in perm)), [x], name)

    def slice(self, x: str, axis: int, start: int, stop: int, step: int = 1,
              name: str | None = None) -> str:
        return self.add_node(Slice(axis=int(axis), start=int(start), stop=int(stop),
                                   step=int(step)), [x], name)

    def take(self, x: str, axis: int, indices: int | Sequence[int], keepdim: bool = True,
             name: str | None = None) -> str:
        if isinstance(indices, (int, np.integer)):
            indices, keepdim = (int(indices),), False
        return self.add_node(Take(axis=int(axis), indices=tuple(int(i) for i in indices),
                                  keepdim=bool(keepdim)), [x], name)

    def concat(self, *xs: str, axis: int = 0, name: str | None = None) -> str:
        return self.add_node(Concat(axis=int(axis)), list(xs), name)

    def pad(self, x: str, pads: Padding, name: str | None = None) -> str:
        return self.add_node(Pad(pads=padding_pairs(pads, len(self.shapes[x]))), [x], name)

    def rnn(self, x: str, weight_ih: Param, weight_hh: Param, bias_ih: Param | None = None,
            bias_hh: Param | None = None, nonlinearity: str = "relu", alpha: float = 0.01,
            return_sequences: bool = True, name: str | None = None, reverse: bool = False,
            h0: Param | None = None) -> str:
        """An Elman RNN unrolled over the time axis (axis 0) of ``x`` ``[T, F]``.

        ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` from ``h_{-1} = h0`` (zero by
        default), as ``torch.nn.RNN``. Every step uses the same parameters (tied weights).
        The state after reading ``x_t`` is node ``"<name>.h<t>"``.

        Args:
            x: node of per-sample shape ``[T, F]``.
            weight_ih, weight_hh: ``[H, F]`` and ``[H, H]`` (arrays or parameter names).
            bias_ih, bias_hh: ``[H]`` or None.
            nonlinearity: ``"relu"`` or ``"leaky_relu"`` (with ``alpha``).
            return_sequences: output every step's state as ``[T, H]`` (in time order), else
                only the final state (``h_{T-1}``, or ``h_0`` when ``reverse``).
            reverse: read the sequence backwards, from ``x_{T-1}`` to ``x_0``, as the
                backward direction of a bidirectional ``torch.nn.RNN``; the sequence output
                stays in time order (row t is the state after reading ``x_{T-1} .. x_t``).
            name: the block's name (node and parameter prefix).
            h0: the initial state ``[H]`` (array or parameter name), or None for zeros.

        Returns:
            The node holding the output.
        """
        if nonlinearity not in ("relu", "leaky_relu"):
            raise InvalidInputError(f"rnn nonlinearity {nonlinearity!r}: plnet supports "
                                    f"'relu' and 'leaky_relu' (tanh is not piecewise linear)")
        shape = self.shapes[x]
        if len(shape) != 2:
            raise ShapeError(f"rnn input must have per-sample shape [T, F], got {shape}")
        name = name or self._fresh("rnn")
        p = self._weights(name, weight_ih=weight_ih, weight_hh=weight_hh, bias_ih=bias_ih,
                          bias_hh=bias_hh, h0=h0)
        hidden = self.params[p["weight_hh"]].shape[0]
        times = range(shape[0] - 1, -1, -1) if reverse else range(shape[0])
        h, steps = None, {}
        for t in times:
            xt = self.take(x, 0, t, name=f"{name}.x{t}")
            if h is None and p["h0"] is not None:
                h = self._constant_state(xt, p["h0"], hidden, f"{name}.init")
            pre = self.add_node(Dense(p["weight_ih"], p["bias_ih"]), [xt], f"{name}.ih{t}")
            if h is None:
                if p["bias_hh"] is not None:
                    pre = self.add_node(ScaleShift(shift=p["bias_hh"]), [pre], f"{name}.hh{t}")
            else:
                rec = self.add_node(Dense(p["weight_hh"], p["bias_hh"]), [h], f"{name}.hh{t}")
                pre = self.add(pre, rec, name=f"{name}.pre{t}")
            h = (self.relu(pre, name=f"{name}.h{t}") if nonlinearity == "relu"
                 else self.leaky_relu(pre, alpha, name=f"{name}.h{t}"))
            steps[t] = h
        if not return_sequences:
            return h
        rows = [self.reshape(steps[t], (1, hidden), name=f"{name}.row{t}")
                for t in range(shape[0])]
        return self.concat(*rows, axis=0, name=f"{name}.out")

    def _constant_state(self, xt: str, h0: str, hidden: int, name: str) -> str:
        """A node equal to the parameter ``h0`` ``[H]`` for every input.

        The IR has no constant node, so ``h0`` is added to exact zeros made from ``xt``
        ``[F]`` by zero padding and slicing the padding off: no parameter but ``h0`` enters,
        so training moves ``h0`` and nothing else, and the state has a zero input-gradient.
        """
        features = self.shapes[xt][0]
        padded = self.pad(xt, ((0, hidden),), name=f"{name}.pad")
        zeros = self.slice(padded, 0, features, features + hidden, name=f"{name}.zeros")
        return self.add_node(ScaleShift(shift=h0), [zeros], name)
