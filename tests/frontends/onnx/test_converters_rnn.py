"""The ONNX RNN op with ReLU activations, unrolled with tied weights."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import plnet


def _rnn_model(ox, layout=0, activation="Relu", with_h0=False, direction="forward", opset=14,
               outputs=("y", ""), batch=None):
    rng = np.random.default_rng(0)
    steps, feats, hidden = 4, 3, 5
    consts = {"w": rng.standard_normal((1, hidden, feats)).astype(np.float32),
              "r": (0.5 * rng.standard_normal((1, hidden, hidden))).astype(np.float32),
              "b": rng.standard_normal((1, 2 * hidden)).astype(np.float32)}
    inputs = ["x", "w", "r", "b"]
    if with_h0:
        consts["h0"] = np.broadcast_to(rng.standard_normal((1, 1, hidden)),
                                       (1, 1, hidden)).astype(np.float32)
        inputs += ["", "h0"]
    attrs = {"hidden_size": hidden, "activations": [activation], "direction": direction}
    if opset >= 14:
        attrs["layout"] = layout
    node = helper.make_node("RNN", inputs, list(outputs), name="rnn", **attrs)
    x_shape = [steps, batch, feats] if layout == 0 else [batch, steps, feats]
    out = [o for o in outputs if o][0]
    return ox.make_model([node], [("x", x_shape)], out, consts, opset=opset)


@pytest.mark.parametrize("layout", [0, 1])
@pytest.mark.parametrize("with_h0", [False, True])
@pytest.mark.parametrize("outputs", [("y", ""), ("", "h")])
def test_rnn_relu_matches_onnxruntime(ox, layout, with_h0, outputs):
    # onnxruntime wants initial_h for the file's exact batch: fix it at 1 then
    batch = 1 if with_h0 else None
    model = _rnn_model(ox, layout, with_h0=with_h0, outputs=outputs, batch=batch)
    # onnxruntime has no layout=1 RNN kernel: that case is compared with the same RNN in
    # layout 0, whose per-sample values are the same
    net = plnet.from_onnx(model, batch_dim=1 if layout == 0 else 0, check=layout == 0)
    reference = _rnn_model(ox, 0, with_h0=with_h0, outputs=outputs, batch=batch)
    axis = 2 if outputs[0] else 1
    x = ox.random_batch(np.random.default_rng(1), net, 4)
    chunks = [x[i:i + 1] for i in range(4)] if batch else [x]
    expected = np.concatenate([
        np.moveaxis(ox.run_ort(reference, {"x": np.moveaxis(c, 0, 1)}), axis, 0)
        for c in chunks])
    ox.assert_close(net(x), expected.astype(np.float64))
    assert net.num_units == 4 * 5  # one ReLU per step and hidden unit
    assert net.graph.graph["output_batch_axis"] == (axis if layout == 0 else 0)


def test_rnn_steps_share_their_weights(ox):
    net = plnet.from_onnx(_rnn_model(ox, layout=1), batch_dim=0, check=False)
    dense_weights = {net.op(n).weight for n in net.order if net.op(n).type_name == "dense"}
    assert dense_weights == {"rnn.W", "rnn.R"}  # biases are tied too, as scale/shifts


def test_rnn_opset_7_and_leaky_relu(ox):
    model = _rnn_model(ox, activation="LeakyRelu", opset=7)
    net = plnet.from_onnx(model, batch_dim=1)
    assert {net.op(n).type_name for n in net.pattern_nodes()} == {"leaky_relu"}


def test_rnn_with_tanh_is_not_piecewise_linear(ox):
    with pytest.raises(plnet.NotPiecewiseLinearError, match="'rnn'.*Tanh"):
        plnet.from_onnx(_rnn_model(ox, activation="Tanh"), batch_dim=1)


