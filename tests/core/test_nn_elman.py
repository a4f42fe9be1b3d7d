"""plnet.nn.ElmanRNN: nn.RNN's interface and numbers, LeakyReLU, an orthogonal transition."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from plnet.errors import InvalidInputError, ShapeError  # noqa: E402
from plnet.nn import ElmanRNN  # noqa: E402

LAYOUTS = [dict(num_layers=1), dict(num_layers=2), dict(num_layers=2, bidirectional=True),
           dict(num_layers=1, bias=False), dict(num_layers=2, batch_first=True,
                                               bidirectional=True)]


def relu_twin(**kwargs):
    """An ElmanRNN(relu) and an nn.RNN(relu) holding the same parameters (float64)."""
    torch.manual_seed(0)
    ours = ElmanRNN(5, 7, nonlinearity="relu", **kwargs).double()
    theirs = torch.nn.RNN(5, 7, nonlinearity="relu", **kwargs).double()
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


@pytest.mark.parametrize("kwargs", LAYOUTS)
def test_relu_elman_rnn_has_nn_rnn_parameter_names_and_computes_the_same(kwargs):
    ours, theirs = relu_twin(**kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key in ("num_layers", "bidirectional", "batch_first", "nonlinearity", "hidden_size",
                "input_size", "bias", "proj_size"):
        assert getattr(ours, key) == getattr(theirs, key), key
    x = torch.randn(3, 4, 5, dtype=torch.float64)
    directions = 2 if kwargs.get("bidirectional") else 1
    h0 = torch.randn(kwargs["num_layers"] * directions, 4 if not kwargs.get("batch_first")
                     else 3, 7, dtype=torch.float64)
    for args in ((x,), (x, h0)):
        out, h_n = ours(*args)
        ref_out, ref_h = theirs(*args)
        torch.testing.assert_close(out, ref_out)
        torch.testing.assert_close(h_n, ref_h)
    for a, b in zip(ours.all_weights, theirs.all_weights):
        assert all(torch.equal(u, v) for u, v in zip(a, b))


def test_unbatched_input_gives_unbatched_outputs_as_nn_rnn():
    ours, theirs = relu_twin(num_layers=2)
    x = torch.randn(6, 5, dtype=torch.float64)
    for got, want in zip(ours(x), theirs(x)):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want)


def leaky_reference(module, x):
    """h_t = LeakyReLU(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), one layer, numpy."""
    p = {k: v.detach().numpy() for k, v in module.named_parameters()}
    h, out = np.zeros(module.hidden_size), []
    for xt in x:
        pre = p["weight_ih_l0"] @ xt + p["bias_ih_l0"] + p["weight_hh_l0"] @ h + p["bias_hh_l0"]
        h = np.where(pre > 0, pre, module.negative_slope * pre)
        out.append(h)
    return np.stack(out)


def test_leaky_elman_rnn_applies_its_negative_slope_at_every_step():
    torch.manual_seed(1)
    module = ElmanRNN(4, 6, negative_slope=0.2).double()
    assert module.nonlinearity == "leaky_relu" and module.negative_slope == 0.2
    x = torch.randn(9, 4, dtype=torch.float64)
    out, h_n = module(x)
    np.testing.assert_allclose(out.detach().numpy(), leaky_reference(module, x.numpy()),
                               rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(h_n[0], out[-1])
    assert (out < 0).any()  # the negative slope is exercised


def test_default_negative_slope_is_torchs_leaky_relu_default():
    assert ElmanRNN(2, 3).negative_slope == torch.nn.LeakyReLU().negative_slope


#: |W W^T - I| after a few large steps in float64 (torch's parametrization multiplies its
#: base by a matrix exponential each step: round-off accumulates, but stays far below this)
ORTHOGONALITY_ATOL = 1e-6


def orthogonality_error(w):
    eye = torch.eye(w.shape[0], dtype=w.dtype)
    return float((w @ w.T - eye).abs().max().detach())


def test_orthogonal_transition_stays_orthogonal_through_training():
    torch.manual_seed(2)
    module = ElmanRNN(3, 8, num_layers=2, bidirectional=True, orthogonal=True,
                      dtype=torch.float64)
    names = [f"weight_hh_l{k}{s}" for k in range(2) for s in ("", "_reverse")]
    before = {n: getattr(module, n).detach().clone() for n in names}
    opt = torch.optim.SGD(module.parameters(), lr=0.5)
    for _ in range(3):
        opt.zero_grad()
        out, _ = module(torch.randn(5, 2, 3, dtype=torch.float64))
        out.square().sum().backward()
        opt.step()
    for n in names:
        w = getattr(module, n)
        assert orthogonality_error(w) < ORTHOGONALITY_ATOL, n
        assert not torch.allclose(w, before[n]), n  # it did train
    assert not any(n in dict(module.named_parameters()) for n in names)


def test_reset_parameters_keeps_an_orthogonal_transition_orthogonal():
    module = ElmanRNN(3, 6, orthogonal=True, dtype=torch.float64)
    module.reset_parameters()
    assert orthogonality_error(module.weight_hh_l0) < ORTHOGONALITY_ATOL


@pytest.mark.parametrize("kwargs, match", [
    (dict(nonlinearity="tanh"), "not piecewise linear"),
    (dict(nonlinearity="relu", negative_slope=0.1), "no negative slope"),
    (dict(num_layers=0), "num_layers"),
    (dict(dropout=1.5), "dropout"),
])
def test_bad_settings_are_refused_with_the_setting_named(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        ElmanRNN(3, 4, **kwargs)


def test_bad_inputs_are_refused_with_what_was_expected():
    module = ElmanRNN(3, 4)
    with pytest.raises(ShapeError, match="input_size=3"):
        module(torch.randn(5, 2, 4))
    with pytest.raises(ShapeError, match="h0"):
        module(torch.randn(5, 2, 3), torch.zeros(2, 2, 4))
    packed = torch.nn.utils.rnn.pack_sequence([torch.randn(3, 3), torch.randn(2, 3)])
    with pytest.raises(InvalidInputError, match="list"):
        module(packed)


@pytest.mark.parametrize("kwargs", [dict(num_layers=1), dict(num_layers=1, orthogonal=True),
                                    dict(num_layers=2, bidirectional=True, batch_first=True)])
def test_its_weights_under_their_names_make_the_sequence_recipe_compute_the_same(kwargs):
    import plnet.sequence as ps

    torch.manual_seed(3)
    module = ElmanRNN(3, 5, negative_slope=0.2, dtype=torch.float64, **kwargs)
    layers = ps.torch_rnn_layers(module.num_layers, bidirectional=module.bidirectional,
                                 nonlinearity=module.nonlinearity, alpha=module.negative_slope)
    params = {name: getattr(module, name).detach().numpy()
              for layer in layers for direction, _ in layer.directions
              for name in direction.names()}
    model = ps.elman(params, layers, readout="sequence")
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(t, 3)) for t in (4, 1, 6)]
    for x, want in zip(xs, model(xs)):
        out, _ = module(torch.as_tensor(x))  # unbatched [T, F] -> [T, D * H]
        np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-12, atol=1e-12)
