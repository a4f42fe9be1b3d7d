"""The "elman" recipe computes what torch.nn.RNN (plus a Linear) computes."""

from __future__ import annotations

import numpy as np
import pytest

import plnet.sequence as ps
from plnet.errors import InvalidInputError, ShapeError

torch = pytest.importorskip("torch")


def torch_reference(model, x, num_layers, bidirectional, bias, initial_state, readout):
    """Run torch.nn.RNN(relu) with the model's arrays on one sequence ``[T, F]``."""
    p = model.params
    hidden, features = p["weight_hh_l0"].shape[0], model.feature_shape[0]
    rnn = torch.nn.RNN(features, hidden, num_layers, nonlinearity="relu", bias=bias,
                       batch_first=True, bidirectional=bidirectional).double()
    with torch.no_grad():
        for name, tensor in rnn.named_parameters():
            tensor.copy_(torch.from_numpy(np.array(p[name])))
        dirs = 2 if bidirectional else 1
        h0 = None
        if initial_state:
            h0 = torch.stack([torch.from_numpy(np.array(p[f"h0_l{k}{s}"]))
                              for k in range(num_layers)
                              for s in ["", "_reverse"][:dirs]])[:, None]
        out, h_n = rnn(torch.from_numpy(x)[None], h0)
        y = {"last": out[0, -1], "sequence": out[0], "h_n": h_n[:, 0],
             "final": torch.cat(list(h_n[-dirs:, 0]))}[readout]
        if "fc.weight" in p:
            y = y @ torch.from_numpy(np.array(p["fc.weight"])).T + torch.from_numpy(
                np.array(p["fc.bias"]))
    return y.numpy()


@pytest.mark.parametrize("readout", ps.READOUTS)
@pytest.mark.parametrize("num_layers, bidirectional, bias, initial_state", [
    (1, False, True, False), (2, True, True, True), (2, False, False, True),
    (1, True, False, False)])
def test_elman_equals_torch_rnn_at_every_length(make_elman, sequences, readout, num_layers,
                                                bidirectional, bias, initial_state):
    model = make_elman(num_layers=num_layers, bidirectional=bidirectional, bias=bias,
                       initial_state=initial_state, readout=readout,
                       outputs=0 if readout == "h_n" else 2)
    xs = sequences([1, 4, 2, 4])
    ys = model(xs)
    for x, y in zip(xs, ys):
        ref = torch_reference(model, x, num_layers, bidirectional, bias, initial_state, readout)
        np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)


def test_leaky_relu_layers_use_their_alpha(make_elman, sequences):
    model = make_elman(nonlinearity="leaky_relu", alpha=0.3, outputs=0, readout="sequence")
    (x,) = sequences([3])
    p = model.params
    h, rows = np.zeros(4), []
    for t in range(3):
        z = p["weight_ih_l0"] @ x[t] + p["bias_ih_l0"] + p["weight_hh_l0"] @ h + p["bias_hh_l0"]
        h = np.where(z > 0, z, 0.3 * z)
        rows.append(h)
    np.testing.assert_allclose(model([x])[0], np.array(rows), rtol=1e-12)


def test_the_initial_state_adds_no_input_gradient_and_no_units(make_elman):
    with_h0 = make_elman(initial_state=True)
    without = make_elman(initial_state=False)
    assert with_h0.unroll(3).num_units == without.unroll(3).num_units


def test_unknown_parameter_names_and_options_are_named():
    layers = ps.torch_rnn_layers(1)
    with pytest.raises(InvalidInputError, match="weight_hh_l0"):
        ps.elman({"weight_ih_l0": np.ones((2, 3))}, layers)
    params = {"weight_ih_l0": np.ones((2, 3)), "weight_hh_l0": np.ones((2, 2)),
              "bias_ih_l0": np.ones(2), "bias_hh_l0": np.ones(2)}
    with pytest.raises(InvalidInputError, match="readout"):
        ps.elman(params, layers, readout="mean")
    with pytest.raises(InvalidInputError, match="nonlinearity"):
        ps.elman(params, ps.torch_rnn_layers(1, nonlinearity="tanh"))
    with pytest.raises(ShapeError, match="weight_hh_l0"):
        ps.elman({**params, "weight_hh_l0": np.ones((2, 3))}, layers)


def test_layers_given_as_dicts_equal_the_dataclasses(make_elman, sequences):
    model = make_elman(bidirectional=True)
    layers = model.recipe["layers"]
    again = ps.elman(model.params, layers, readout="last", head=model.recipe["head"])
    xs = sequences([2, 3])
    np.testing.assert_array_equal(model(xs), again(xs))


def test_layer_dicts_with_unknown_or_missing_keys_are_refused(make_elman):
    params = make_elman().params
    with pytest.raises(InvalidInputError, match="unknown keys \\['hidden'\\]"):
        ps.elman(params, [{"weight_ih": "weight_ih_l0", "weight_hh": "weight_hh_l0",
                           "hidden": 4}])
    with pytest.raises(InvalidInputError, match="head layer"):
        ps.elman(params, ps.torch_rnn_layers(1), head=[{"bias": "fc.bias"}])
