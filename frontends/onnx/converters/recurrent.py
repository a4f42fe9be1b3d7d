"""The ONNX RNN op with ReLU/LeakyReLU activations, unrolled into tied IR nodes.

``H_t = f(X_t W^T + H_{t-1} R^T + Wb + Rb)`` per direction (forward, reverse, or both:
the reverse direction reads time backwards). Every step reuses the same parameter names
(tied weights), through :meth:`plnet.NetworkBuilder.rnn`. Outputs: ``Y`` ``[T, D, B, H]``
(layout 0) / ``[B, T, D, H]`` (layout 1) and ``Y_h`` ``[D, B, H]`` / ``[B, D, H]``.
``sequence_lens`` must give every sample the whole length (a sequence model converts each
sample at its own length); ``initial_h`` must be a constant, the same for every sample.
"""

from __future__ import annotations

import numpy as np

from plnet.errors import NotPiecewiseLinearError, ShapeError
from plnet.frontends.onnx.registry import converter
from plnet.frontends.onnx.sequence import WHOLE_LENGTHS
from plnet.ops import Concat, Reshape

DIRECTIONS = {"forward": (False,), "reverse": (True,), "bidirectional": (False, True)}


def _activations(node, count: int) -> list[tuple[str, float]]:
    """``(nonlinearity, alpha)`` per direction."""
    names = node.attr("activations") or [b"Tanh"] * count
    names = [n.decode() if isinstance(n, bytes) else n for n in names]
    alphas = list(node.attr("activation_alpha") or [])
    if len(names) != count:
        raise node.error(f"activations {names}: expected {count} (one per direction)")
    out, i = [], 0
    for name in names:
        if name == "Relu":
            out.append(("relu", 0.01))
        elif name == "LeakyRelu":
            out.append(("leaky_relu", float(alphas[i]) if i < len(alphas) else 0.01))
            i += 1
        else:
            raise NotPiecewiseLinearError(f"{node.where}: RNN activation {name} is not "
                                          f"piecewise linear (ONNX's default is Tanh); export "
                                          f"the RNN with nonlinearity='relu'")
    return out


def _lengths_are_whole(node, steps: int) -> None:
    if node.has_input(4) and node.input(4) is WHOLE_LENGTHS:
        return  # a sequence model's lengths input: each sample is at its own length
    lens = node.optional_const(4, "sequence_lens")
    if lens is not None and (np.asarray(lens) != steps).any():
        raise node.error(f"sequence_lens {np.asarray(lens).tolist()} differ from the sequence "
                         f"length {steps}: a fixed-length network computes whole sequences "
                         f"(a file with a dynamic time axis converts to a sequence model, "
                         f"which computes each sample at its own length)")


def _initial_state(node, layout: int, dirs: int, hidden: int):
    h0 = node.optional_const(5, "initial_h")
    if h0 is None:
        return None
    h0 = np.asarray(h0, np.float64)
    if layout == 1:
        h0 = np.swapaxes(h0, 0, 1)  # [B, D, H] -> [D, B, H]
    if h0.shape[0] != dirs or h0.shape[2] != hidden or not (h0 == h0[:, :1]).all():
        raise node.error(f"initial_h of shape {list(h0.shape)}: expected the same [D={dirs}, "
                         f"H={hidden}] state for every sample")
    return h0[:, 0]


@converter("RNN", opsets=(7, None))
def convert_rnn(node):
    ctx = node.ctx
    direction = node.attr("direction", "forward")
    if isinstance(direction, bytes):
        direction = direction.decode()
    if direction not in DIRECTIONS:
        raise node.error(f"RNN direction {direction!r}: expected one of {sorted(DIRECTIONS)}")
    if node.attr("clip") is not None:
        raise node.error("RNN with clip is not supported")
    backwards = DIRECTIONS[direction]
    dirs = len(backwards)
    acts = _activations(node, dirs)
    layout = int(node.attr("layout", 0))
    x = ctx.as_batched(node.tensor(0), 1 if layout == 0 else 0, node.where, "RNN")
    steps, features = ctx.shape(x)
    w = np.asarray(node.const(1, "W"), np.float64)
    r = np.asarray(node.const(2, "R"), np.float64)
    if w.ndim != 3 or w.shape[0] != dirs or w.shape[2] != features or \
            r.shape != (dirs, w.shape[1], w.shape[1]):
        raise node.error(f"W {list(w.shape)} / R {list(r.shape)} do not fit input features "
                         f"{features} (expected [{dirs}, H, {features}] and [{dirs}, H, H])",
                         ShapeError)
    hidden = w.shape[1]
    b = node.optional_const(3, "B")
    b = None if b is None else np.asarray(b, np.float64).reshape(dirs, 2, hidden)
    _lengths_are_whole(node, steps)
    h0 = _initial_state(node, layout, dirs, hidden)
    name, builder = node.name, ctx.builder
    seqs, finals = [], []
    for d, reverse in enumerate(backwards):
        suffix = "_reverse" if reverse else ""
        run = ctx.fresh_name(f"{name}{suffix}")
        param = lambda kind, value: ctx.param(f"{name}.{kind}{suffix}", value)  # noqa: E731
        out = builder.rnn(x.node, param("W", w[d]), param("R", r[d]),
                          None if b is None else param("Wb", b[d, 0]),
                          None if b is None else param("Rb", b[d, 1]),
                          acts[d][0], acts[d][1], name=run, reverse=reverse,
                          h0=None if h0 is None else param("initial_h", h0[d]))
        seqs.append(ctx.emit(Reshape(shape=(steps, 1, hidden)), [_wrap(x, out)],
                             f"{run}.Y", x))
        finals.append(ctx.emit(Reshape(shape=(1, hidden)),
                               [_wrap(x, f"{run}.h{0 if reverse else steps - 1}")],
                               f"{run}.Y_h", x))
    y = seqs[0] if dirs == 1 else ctx.emit(Concat(axis=1), seqs, f"{name}.Y", x)
    y_h = finals[0] if dirs == 1 else ctx.emit(Concat(axis=0), finals, f"{name}.Y_h", x)
    y_axis, yh_axis = (2, 1) if layout == 0 else (0, 0)
    results = [type(y)(y.node, y_axis, y.batch_one)
               if node.proto.output and node.proto.output[0] else None]
    results.append(type(y_h)(y_h.node, yh_axis, y_h.batch_one))
    return results


def _wrap(like, node_name):
    return type(like)(node_name, like.batch_axis, like.batch_one)
