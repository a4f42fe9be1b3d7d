"""The ONNX RNN op with ReLU/LeakyReLU activations, unrolled into tied IR nodes.

``H_t = f(X_t W^T + H_{t-1} R^T + Wb + Rb)``: every step reuses the same parameter names
(tied weights), as :meth:`plnet.NetworkBuilder.rnn` does.
"""

from __future__ import annotations

import numpy as np

from plnet.errors import NotPiecewiseLinearError, ShapeError
from plnet.frontends.onnx.registry import converter
from plnet.ops import Add, Concat, Dense, LeakyReLU, ReLU, Reshape, Take


def _activation(node):
    names = node.attr("activations") or [b"Tanh"]
    names = [n.decode() if isinstance(n, bytes) else n for n in names]
    if len(names) != 1:
        raise node.error(f"activations {names}: expected one activation (forward direction)")
    name = names[0]
    if name == "Relu":
        return ReLU()
    if name == "LeakyRelu":
        alphas = node.attr("activation_alpha") or [0.01]
        return LeakyReLU(alpha=float(alphas[0]))
    raise NotPiecewiseLinearError(f"{node.where}: RNN activation {name} is not piecewise "
                                  f"linear (ONNX's default is Tanh); export the RNN with "
                                  f"nonlinearity='relu'")


@converter("RNN", opsets=(7, None))
def convert_rnn(node):
    ctx = node.ctx
    direction = node.attr("direction", "forward")
    if direction != "forward":
        raise node.error(f"RNN direction {direction!r}: only 'forward' is supported")
    if node.attr("clip") is not None:
        raise node.error("RNN with clip is not supported")
    act = _activation(node)
    layout = int(node.attr("layout", 0))
    batch_axis = 1 if layout == 0 else 0
    x = ctx.as_batched(node.tensor(0), batch_axis, node.where, "RNN")
    steps, features = ctx.shape(x)
    w = np.asarray(node.const(1, "W"), np.float64)
    r = np.asarray(node.const(2, "R"), np.float64)
    if w.ndim != 3 or w.shape[0] != 1 or w.shape[2] != features or r.shape != (1, w.shape[1],
                                                                             w.shape[1]):
        raise node.error(f"W {list(w.shape)} / R {list(r.shape)} do not fit input features "
                         f"{features} (expected [1, H, {features}] and [1, H, H])", ShapeError)
    hidden = w.shape[1]
    b = node.optional_const(3, "B")
    b = np.zeros(hidden) if b is None else np.asarray(b, np.float64).reshape(2, hidden).sum(0)
    lens = node.optional_const(4, "sequence_lens")
    if lens is not None and (np.asarray(lens) != steps).any():
        raise node.error(f"sequence_lens {np.asarray(lens).tolist()} differ from the sequence "
                         f"length {steps}; variable-length sequences are not supported")
    h0 = node.optional_const(5, "initial_h")
    if h0 is not None:
        h0 = np.asarray(h0, np.float64)
        if h0.ndim != 3 or not (h0 == h0[:, :1]).all():
            raise node.error("initial_h must be the same for every sample")
        h0 = h0[0, 0]
    name = node.name
    w_name = ctx.param(f"{name}.W", w[0])
    r_name = ctx.param(f"{name}.R", r[0])
    b_name = ctx.param(f"{name}.B", b)
    b0_name = b_name if h0 is None else ctx.param(f"{name}.B0", b + r[0] @ h0)
    h, outs = None, []
    for t in range(steps):
        xt = ctx.emit(Take(axis=0, indices=(t,), keepdim=False), [x], f"{name}.x{t}", x)
        pre = ctx.emit(Dense(w_name, b0_name if t == 0 else b_name), [xt], f"{name}.ih{t}", x)
        if h is not None:
            rec = ctx.emit(Dense(r_name, None), [h], f"{name}.hh{t}", x)
            pre = ctx.emit(Add(), [pre, rec], f"{name}.pre{t}", x)
        h = ctx.emit(act, [pre], f"{name}.h{t}", x)
        outs.append(h)
    results = []
    y_axis, yh_axis = (2, 1) if layout == 0 else (0, 0)
    if node.proto.output and node.proto.output[0]:
        rows = [ctx.emit(Reshape(shape=(1, 1, hidden)), [s], f"{name}.y{t}", s)
                for t, s in enumerate(outs)]
        y = rows[0] if len(rows) == 1 else ctx.emit(Concat(axis=0), rows, f"{name}.Y", x)
        results.append(type(y)(y.node, y_axis, y.batch_one))
    else:
        results.append(None)
    last = ctx.emit(Reshape(shape=(1, hidden)), [h], f"{name}.Y_h", h)
    results.append(type(last)(last.node, yh_axis, last.batch_one))
    return results
