"""ONNX and sequence models: the RNN op over a dynamic time axis, torch's exporters, and
to_onnx / to_torch of a sequence model, compared at several lengths."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from onnx import helper, numpy_helper

import plnet
from plnet.errors import UnsupportedOpError
from plnet.frontends.onnx.sequence import with_length
from plnet.sequence import elman, torch_rnn_layers

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
nn = torch.nn

LENGTHS = (1, 3, 8)
HIDDEN, FEATURES = 4, 3


def _rnn_file(ox, direction, activation="Relu", with_h0=False, layout=0):
    """One ONNX RNN node with a symbolic time axis (and batch)."""
    rng = np.random.default_rng(0)
    dirs = 2 if direction == "bidirectional" else 1
    consts = {"w": rng.standard_normal((dirs, HIDDEN, FEATURES)).astype(np.float32),
              "r": (0.5 * rng.standard_normal((dirs, HIDDEN, HIDDEN))).astype(np.float32),
              "b": rng.standard_normal((dirs, 2 * HIDDEN)).astype(np.float32)}
    inputs = ["x", "w", "r", "b"]
    if with_h0:
        consts["h0"] = rng.standard_normal((dirs, 1, HIDDEN)).astype(np.float32)
        inputs += ["", "h0"]
    attrs = dict(hidden_size=HIDDEN, activations=[activation] * dirs, direction=direction,
                 layout=layout)
    if activation == "LeakyRelu":
        attrs["activation_alpha"] = [0.2] * dirs
    node = helper.make_node("RNN", inputs, ["y", "y_h"], name="rnn", **attrs)
    x_shape = ["T", 1 if with_h0 else "N", FEATURES] if layout == 0 else \
        ["N", "T", FEATURES]
    return ox.make_model([node], [("x", x_shape)], "y_h", consts, opset=14)


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("activation", ["Relu", "LeakyRelu"])
@pytest.mark.parametrize("with_h0", [False, True])
def test_rnn_op_with_a_dynamic_time_axis_is_a_sequence_model(ox, direction, activation,
                                                            with_h0):
    model_file = _rnn_file(ox, direction, activation, with_h0)
    model = plnet.from_onnx(model_file, batch_dim=1)
    assert isinstance(model, plnet.sequence.SequenceModel)
    rng = np.random.default_rng(1)
    for steps in LENGTHS:
        x = rng.standard_normal((1, steps, FEATURES)).astype(np.float32).astype(np.float64)
        want = np.moveaxis(ox.run_ort(model_file, {"x": np.moveaxis(x, 0, 1)}), 1, 0)
        ox.assert_close(model.unroll(steps)(x), want.astype(np.float64))


def test_rnn_op_sequence_model_ties_its_parameters_across_lengths(ox):
    model = plnet.from_onnx(_rnn_file(ox, "bidirectional"), batch_dim=1)
    for steps in LENGTHS:
        net = model.unroll(steps)
        assert all(net.params[k] is model.params[k] for k in net.params)
    assert {"rnn.W", "rnn.W_reverse", "rnn.R", "rnn.R_reverse"} <= set(model.params)


def test_rnn_op_with_sequence_lens_shorter_than_the_sequence_is_refused(ox):
    model_file = _rnn_file(ox, "forward")
    model_file.graph.initializer.append(numpy_helper.from_array(np.array([2], np.int32),
                                                                "lens"))
    model_file.graph.node[0].input.append("lens")
    with pytest.raises(UnsupportedOpError, match="sequence_lens"):
        plnet.from_onnx(with_length(model_file, "x", 0, 5), batch_dim=1, check=False)


class Head(nn.Module):
    def __init__(self, bidirectional=False):
        super().__init__()
        self.rnn = nn.RNN(FEATURES, HIDDEN, 2, nonlinearity="relu", batch_first=True,
                          bidirectional=bidirectional)
        self.fc = nn.Linear(HIDDEN * (2 if bidirectional else 1), 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


def _torch_each(module, steps, rng, batch=3):
    x = rng.standard_normal((batch, steps, FEATURES)).astype(np.float32).astype(np.float64)
    with torch.no_grad():
        return x, module(torch.as_tensor(x, dtype=torch.float32)).double().numpy()


def test_torchscript_export_with_a_dynamic_time_axis_is_a_sequence_model(ox, tmp_path):
    module = Head().eval()
    path = tmp_path / "rnn.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.randn(2, 5, FEATURES),), str(path), dynamo=False,
                          input_names=["x"], dynamic_axes={"x": {0: "N", 1: "T"}})
    model = plnet.from_onnx(path)
    rng = np.random.default_rng(2)
    for steps in LENGTHS:
        x, want = _torch_each(module, steps, rng)
        ox.assert_close(model.unroll(steps)(x), want)


class Looping(nn.Module):
    """An Elman cell written by hand: a Python loop over the time axis."""

    def __init__(self):
        super().__init__()
        self.cell = nn.Linear(FEATURES + HIDDEN, HIDDEN)
        self.fc = nn.Linear(HIDDEN, 2)

    def forward(self, x):
        h = x.new_zeros(x.shape[0], HIDDEN)
        for t in range(x.shape[1]):
            h = torch.relu(self.cell(torch.cat([x[:, t], h], 1)))
        return self.fc(h)


@pytest.mark.parametrize("module", [Head(bidirectional=True), Looping()],
                         ids=["bidirectional_rnn", "python_loop"])
def test_dynamo_export_unrolled_form_converts(ox, module):
    module.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(module, (torch.randn(2, 5, FEATURES),), dynamo=True,
                                    dynamic_shapes=({0: torch.export.Dim("N")},))
    net = plnet.from_onnx(program.model_proto)  # the time axis is fixed: a network
    x, want = _torch_each(module, 5, np.random.default_rng(3))
    ox.assert_close(net(x), want)


def _elman_model(readout, bidirectional, rng):
    dirs = 2 if bidirectional else 1
    layers = torch_rnn_layers(2, bidirectional=bidirectional, nonlinearity="leaky_relu",
                              alpha=0.1, prefix="rnn.", initial_state=True)
    params = {}
    for k, layer in enumerate(layers):
        for d, _ in layer.directions:
            fan_in = FEATURES if k == 0 else dirs * HIDDEN
            params.update({d.weight_ih: rng.normal(size=(HIDDEN, fan_in)) / 2,
                           d.weight_hh: rng.normal(size=(HIDDEN, HIDDEN)) / 2,
                           d.bias_ih: rng.normal(size=HIDDEN), d.bias_hh: rng.normal(size=HIDDEN),
                           d.h0: rng.normal(size=HIDDEN)})
    width = HIDDEN if readout == "h_n" else dirs * HIDDEN
    params.update({"fc.weight": rng.normal(size=(2, width)), "fc.bias": rng.normal(size=2)})
    return elman(params, layers, readout,
                 [{"weight": "fc.weight", "bias": "fc.bias", "activation": "relu"}])


@pytest.mark.parametrize("readout", ["last", "sequence", "h_n", "final"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_to_onnx_of_an_elman_model_has_a_dynamic_time_axis(ox, tmp_path, readout,
                                                           bidirectional):
    rng = np.random.default_rng(4)
    model = _elman_model(readout, bidirectional, rng)
    path = tmp_path / "seq.onnx"
    proto = plnet.to_onnx(model, path)
    assert "RNN" in {n.op_type for n in proto.graph.node}
    back = plnet.from_onnx(path)  # checked against onnxruntime at two lengths
    for steps in LENGTHS:
        x = rng.standard_normal((2, steps, FEATURES)).astype(np.float32).astype(np.float64)
        want = model.unroll(steps)(x)
        ox.assert_close(ox.run_ort(proto, {"input": x}).astype(np.float64), want)
        ox.assert_close(back.unroll(steps)(x), want)


def test_to_onnx_of_a_traced_sequence_model_is_refused():
    model = plnet.from_torch(Looping().double(), torch.randn(2, 4, FEATURES,
                                                             dtype=torch.float64),
                             sequence_axis=1)
    assert model.recipe is None
    with pytest.raises(UnsupportedOpError, match="no recipe"):
        plnet.to_onnx(model)


def test_to_torch_of_a_sequence_model_takes_any_length_with_tied_parameters():
    rng = np.random.default_rng(5)
    model = _elman_model("last", True, rng)
    module = plnet.to_torch(model, dtype=torch.float64)
    for steps in LENGTHS:
        x = rng.standard_normal((2, steps, FEATURES))
        got = module(torch.as_tensor(x)).detach().numpy()
        np.testing.assert_allclose(got, model.unroll(steps)(x), rtol=1e-12, atol=1e-12)
        assert module.unrolled(steps).parameter("rnn.weight_hh_l0") is \
            module.parameter("rnn.weight_hh_l0")
    assert len(list(module.parameters())) == len(model.params)


@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_rnn_op_with_a_sequence_lens_input_gives_each_padded_sample_its_own_length(
        ox, direction):
    model_file = _rnn_file(ox, direction)
    model_file.graph.input.append(helper.make_tensor_value_info("lens", 6, ["N"]))
    model_file.graph.node[0].input.append("lens")  # input 4: sequence_lens
    model = plnet.from_onnx(model_file, batch_dim=1)
    rng = np.random.default_rng(6)
    samples = [rng.standard_normal((t, FEATURES)).astype(np.float32) for t in LENGTHS]
    padded = np.zeros((max(LENGTHS), len(samples), FEATURES), np.float32)
    for i, s in enumerate(samples):
        padded[:len(s), i] = s
    sess = ort.InferenceSession(model_file.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    y_h = sess.run(["y_h"], {"x": padded, "lens": np.array(LENGTHS, np.int32)})[0]
    ox.assert_close(model([s.astype(np.float64) for s in samples]),
                    np.moveaxis(y_h, 1, 0).astype(np.float64))
