"""``to_onnx`` of a sequence model: ONNX ``RNN`` nodes over a dynamic time axis.

The file's input is ``[N, T, *F]`` with both ``N`` and ``T`` symbolic; its output is the
model's per-sample output with ``N`` in front (``[N, T, ...]`` for a sequence readout).
Only models with a recipe this module knows can be written: a traced model (no recipe)
has no description that holds at every length. The ``"elman"`` recipe: each layer is one
``RNN`` node (layout 0, forward or bidirectional, Relu/LeakyRelu, ``initial_h`` expanded
along the batch), then the readout and the dense head (MatMul + Add, Relu/LeakyRelu).
"""

from __future__ import annotations

import numpy as np

from plnet.errors import UnsupportedOpError, require

#: the opset written (RNN with layout, Gather with negative indices)
SEQUENCE_OPSET = 14
BATCH, TIME = "N", "T"


class _Writer:
    def __init__(self, params, dtype):
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.params, self.dtype = params, np.dtype(dtype)
        self.nodes, self.inits, self._count = [], [], 0

    def const(self, name, value, dtype=None):
        array = np.asarray(value, dtype=dtype or self.dtype)
        self.inits.append(self.numpy_helper.from_array(array, name))
        return name

    def node(self, op, inputs, hint, **attrs):
        self._count += 1
        out = f"{hint}:{self._count}"
        self.nodes.append(self.helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def multi(self, op, inputs, outputs, name, **attrs):
        self.nodes.append(self.helper.make_node(op, inputs, outputs, name=name, **attrs))


def _activation(nonlinearity, alpha, dirs):
    if nonlinearity == "relu":
        return dict(activations=["Relu"] * dirs)
    return dict(activations=["LeakyRelu"] * dirs, activation_alpha=[float(alpha)] * dirs)


def _layer(w: _Writer, k, layer, x, batch_dim):
    """One Elman layer as an RNN node on ``x`` ``[T, N, F]``; returns ``(Y [T, N, D*H],
    Y_h [D, N, H])``."""
    directions = [layer] + ([layer["reverse"]] if layer.get("reverse") else [])
    p = w.params
    weights = [p[d["weight_ih"]] for d in directions]
    hidden = weights[0].shape[0]
    stack = lambda key: np.stack([  # noqa: E731
        p[d[key]] if d.get(key) else np.zeros(hidden) for d in directions])
    inputs = [x, w.const(f"l{k}.W", np.stack(weights)),
              w.const(f"l{k}.R", np.stack([p[d["weight_hh"]] for d in directions]))]
    has_bias = any(d.get("bias_ih") or d.get("bias_hh") for d in directions)
    inputs.append(w.const(f"l{k}.B", np.concatenate([stack("bias_ih"), stack("bias_hh")], 1))
                  if has_bias else "")
    if any(d.get("h0") for d in directions):
        h0 = w.const(f"l{k}.initial_h", stack("h0")[:, None, :])  # [D, 1, H]
        shape = w.node("Concat", [w.const(f"l{k}.D", [len(directions)], np.int64), batch_dim,
                                  w.const(f"l{k}.H", [hidden], np.int64)], f"l{k}.h0_shape",
                       axis=0)
        inputs += ["", w.node("Expand", [h0, shape], f"l{k}.initial_h")]
    y, y_h = f"l{k}.Y", f"l{k}.Y_h"
    w.multi("RNN", inputs, [y, y_h], f"l{k}", hidden_size=int(hidden),
            direction="bidirectional" if len(directions) == 2 else "forward",
            **_activation(layer["nonlinearity"], layer["alpha"], len(directions)))
    return _join_directions(w, y, 1, len(directions), f"l{k}.out"), y_h


def _join_directions(w: _Writer, x, axis, count, hint):
    """``[.., D, .., H]`` -> the directions side by side on the last axis (torch's layout);
    Gather + Concat rather than a Reshape, which would name the batch axis."""
    parts = [w.node("Gather", [x, w.const(f"{hint}.d{d}", d, np.int64)], f"{hint}.d{d}",
                    axis=axis) for d in range(count)]
    return parts[0] if count == 1 else w.node("Concat", parts, hint, axis=-1)


def _readout(w: _Writer, readout, seq, finals, dirs):
    if readout == "last":
        return w.node("Gather", [seq, w.const("last", -1, np.int64)], "last", axis=0)
    if readout == "sequence":
        return w.node("Transpose", [seq], "sequence", perm=[1, 0, 2])
    if readout == "h_n":
        h_n = finals[0] if len(finals) == 1 else w.node("Concat", finals, "h_n", axis=0)
        return w.node("Transpose", [h_n], "h_n", perm=[1, 0, 2])
    return _join_directions(w, finals[-1], 0, dirs, "final")  # [D, N, H] -> [N, D*H]


def _head(w: _Writer, node, head):
    for k, layer in enumerate(head):
        weight = w.const(f"head{k}.weight_T", w.params[layer["weight"]].T)
        node = w.node("MatMul", [node, weight], f"head{k}")
        if layer.get("bias"):
            node = w.node("Add", [node, w.const(f"head{k}.bias", w.params[layer["bias"]])],
                          f"head{k}.bias")
        if layer.get("activation") == "relu":
            node = w.node("Relu", [node], f"head{k}.relu")
        elif layer.get("activation") == "leaky_relu":
            node = w.node("LeakyRelu", [node], f"head{k}.leaky_relu", alpha=float(layer["alpha"]))
    return node


def sequence_to_onnx(model, dtype: str = "float32"):
    """The ONNX model of a sequence model with an ``"elman"`` recipe.

    Raises:
        UnsupportedOpError: the model has no recipe, or one of another kind.
    """
    onnx = require("onnx", "onnx", "Exporting to ONNX")
    from onnx import TensorProto, helper

    recipe = model.recipe
    if recipe is None or recipe.get("kind") != "elman":
        kind = "no recipe (it was traced)" if recipe is None else f"recipe {recipe['kind']!r}"
        raise UnsupportedOpError(f"to_onnx writes sequence models with an 'elman' recipe "
                                 f"(ONNX RNN nodes over a dynamic time axis); this model has "
                                 f"{kind}. Export model.unroll(T) for a fixed length instead, "
                                 f"or build the model with plnet.sequence.elman")
    w = _Writer(model.params, dtype)
    x = w.node("Transpose", ["input"], "time_major", perm=[1, 0] + list(
        range(2, 2 + len(model.feature_shape))))
    shape = w.node("Shape", ["input"], "input_shape")
    batch_dim = w.node("Slice", [shape, w.const("zero", [0], np.int64),
                                 w.const("one", [1], np.int64)], "batch_size")
    finals = []
    for k, layer in enumerate(recipe["layers"]):
        x, y_h = _layer(w, k, layer, x, batch_dim)
        finals.append(y_h)
    dirs = 2 if recipe["layers"][-1].get("reverse") else 1
    out = _head(w, _readout(w, recipe["readout"], x, finals, dirs), recipe["head"])
    out = w.node("Identity", [out], "output")
    elem = TensorProto.FLOAT if dtype == "float32" else TensorProto.DOUBLE
    per_sample = model.output_shape(max(model.min_length, 2))
    out_dims = [BATCH] + [TIME if recipe["readout"] == "sequence" and i == 0 else d
                          for i, d in enumerate(per_sample)]
    graph = helper.make_graph(
        w.nodes, "plnet_sequence",
        [helper.make_tensor_value_info("input", elem, [BATCH, TIME, *model.feature_shape])],
        [helper.make_tensor_value_info(out, elem, out_dims)], initializer=w.inits)
    opsets = [helper.make_opsetid("", SEQUENCE_OPSET)]
    proto = helper.make_model(graph, producer_name="plnet", opset_imports=opsets)
    proto.ir_version = helper.find_min_ir_version_for(opsets)
    onnx.checker.check_model(proto)
    return proto
