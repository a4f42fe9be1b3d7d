"""Activations as modules, functions and methods; identity-like layers; layers that are not
piecewise linear; dropping a trailing softmax."""

from __future__ import annotations

import pytest

import plnet
from plnet.errors import NotPiecewiseLinearError, UnsupportedOpError

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional


class Head(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        return self.fn(self.lin(x))


ACTIVATIONS = {
    "relu_module": (nn.ReLU(), "relu"),
    "relu_inplace": (nn.ReLU(inplace=True), "relu"),
    "F_relu": (F.relu, "relu"),
    "torch_relu": (torch.relu, "relu"),
    "relu_method": (lambda x: x.relu(), "relu"),
    "leaky_module": (nn.LeakyReLU(0.2), "leaky_relu"),
    "leaky_default": (nn.LeakyReLU(), "leaky_relu"),
    "F_leaky": (lambda x: F.leaky_relu(x, 0.3), "leaky_relu"),
    "F_leaky_kw": (lambda x: F.leaky_relu(x, negative_slope=-0.5), "leaky_relu"),
    "prelu_single": (nn.PReLU(init=0.1), "prelu"),
    "prelu_per_channel": (nn.PReLU(num_parameters=3, init=-0.4), "prelu"),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_matches_torch(convert_and_compare, name):
    fn, op = ACTIVATIONS[name]
    net = convert_and_compare(Lambda(fn), (3, 4))
    assert [net.op(n).type_name for n in net.order] == ["input", "dense", op]
    assert net.num_units == 12


class ChannelPrelu(nn.Module):
    """Conv, per-channel PReLU module, the same PReLU again (tied), F.prelu with one slope."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 2)
        self.act = nn.PReLU(num_parameters=3)
        self.slope = nn.Parameter(torch.tensor([2.5]))
        with torch.no_grad():
            self.act.weight.copy_(torch.tensor([-0.5, 0.3, 1.8]))

    def forward(self, x):
        return F.prelu(self.act(self.act(self.conv(x))), self.slope)


def test_prelu_keeps_per_channel_slopes_as_tied_parameters(convert_and_compare):
    net = convert_and_compare(ChannelPrelu(), (1, 4, 4))
    ops = [net.op(n) for n in net.pattern_nodes()]
    assert [op.type_name for op in ops] == ["prelu"] * 3
    assert ops[0].slope == ops[1].slope != ops[2].slope  # one module used twice stays tied
    assert net.params[ops[0].slope].shape == (3, 1, 1)
    assert net.params[ops[2].slope].shape == ()


def test_prelu_with_slopes_that_fit_no_channel_is_unsupported():
    module = Lambda(lambda x: F.prelu(x.reshape(-1, 2, 2), torch.ones(4)))
    with pytest.raises(UnsupportedOpError, match="4 slopes"):
        plnet.from_torch(module, torch.randn(2, 4))


def test_leaky_relu_keeps_its_slope():
    net = plnet.from_torch(nn.Sequential(nn.LeakyReLU(0.25)), torch.randn(2, 3))
    assert net.op("0").alpha == 0.25


@pytest.mark.parametrize("layer", [nn.Dropout(0.3), nn.Dropout1d(0.5), nn.Identity(),
                                   nn.AlphaDropout(0.2)])
def test_identity_like_layers_are_dropped_in_eval_mode(convert_and_compare, layer):
    net = convert_and_compare(nn.Sequential(nn.Linear(4, 4), layer, nn.ReLU()), (3, 4))
    assert [net.op(n).type_name for n in net.order] == ["input", "dense", "relu"]


def test_functional_dropout_follows_the_training_flag(convert_and_compare):
    class Model(nn.Module):
        def forward(self, x):
            return F.dropout(x, 0.5, training=self.training).relu()

    convert_and_compare(Model(), (4,))
    with pytest.raises(UnsupportedOpError, match="eval"):
        plnet.from_torch(Model().train(), torch.randn(2, 4))


def test_dropout_in_train_mode_is_an_error():
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5)).train()
    with pytest.raises(UnsupportedOpError, match=r"Dropout.*training mode.*eval\(\)"):
        plnet.from_torch(model, torch.randn(2, 3))


@pytest.mark.parametrize("layer,name", [
    (nn.Sigmoid(), "Sigmoid"), (nn.Tanh(), "Tanh"), (nn.Softmax(dim=1), "Softmax"),
    (nn.GELU(), "GELU"), (nn.SiLU(), "SiLU"), (nn.ELU(), "ELU"), (nn.Softplus(), "Softplus"),
    (nn.LayerNorm(4), "LayerNorm"), (torch.sigmoid, "sigmoid"), (torch.tanh, "tanh"),
    (F.gelu, "gelu"), (lambda x: x.softmax(-1), "softmax"), (lambda x: x * x, "product"),
    (lambda x: x / (x.relu() + 1), "dividing by a tensor"), (torch.exp, "exp"),
])
def test_non_piecewise_linear_layers_are_refused_with_their_name(layer, name):
    model = Lambda(layer) if not isinstance(layer, nn.Module) else \
        nn.Sequential(nn.Linear(4, 4), layer)
    with pytest.raises(NotPiecewiseLinearError, match=name) as info:
        plnet.from_torch(model, torch.randn(2, 4))
    assert "torch.fx node" in str(info.value)


@pytest.mark.parametrize("layer", [
    nn.ReLU6(), nn.Hardtanh(), nn.Hardtanh(-0.5, 2.0), nn.Hardsigmoid(), F.relu6,
    lambda x: F.hardtanh(x, -2.0, 0.5), F.hardsigmoid, torch.abs, lambda x: x.abs(),
    lambda x: x.clamp(min=0), lambda x: torch.clamp(x, max=0.5), lambda x: x.clip(-1, 1),
    lambda x: torch.clip(x, min=-0.3)])
def test_clamps_and_abs_are_exact_with_relus(convert_and_compare, layer):
    head = layer if isinstance(layer, nn.Module) else Head(layer)
    model = nn.Sequential(nn.Linear(4, 6), head, nn.Linear(6, 2)).double().eval()
    net = convert_and_compare(model, (4,))
    assert all(net.op(n).type_name == "relu" for n in net.pattern_nodes())


def test_clamp_with_a_tensor_bound_is_refused():
    model = Head(lambda x: x.clamp(min=torch.zeros(4)))
    with pytest.raises(UnsupportedOpError, match="tensor min"):
        plnet.from_torch(nn.Sequential(nn.Linear(4, 4), model), torch.randn(2, 4))


@pytest.mark.parametrize("layer", [nn.Softshrink(), nn.Hardshrink(), nn.Threshold(0.1, 0.0)])
def test_piecewise_linear_layers_without_an_ir_op_are_unsupported(layer):
    with pytest.raises(UnsupportedOpError) as info:
        plnet.from_torch(nn.Sequential(nn.Linear(4, 4), layer), torch.randn(2, 4))
    assert not isinstance(info.value, NotPiecewiseLinearError)
    assert type(layer).__name__ in str(info.value)


def test_unknown_layers_are_unsupported_and_named():
    with pytest.raises(UnsupportedOpError, match="Embedding"):
        plnet.from_torch(nn.Sequential(nn.Embedding(3, 2)), torch.zeros(2, 4))


@pytest.mark.parametrize("trailing", [nn.Softmax(dim=1), nn.LogSoftmax(dim=-1), nn.Sigmoid(),
                                      lambda x: F.softmax(x, dim=1),
                                      lambda x: x.log_softmax(1), torch.sigmoid])
def test_trailing_probability_map_is_dropped_only_when_asked(convert_and_compare, trailing):
    head = trailing if isinstance(trailing, nn.Module) else Head(trailing)
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4), head).double().eval()
    with pytest.raises(NotPiecewiseLinearError):
        plnet.from_torch(model, torch.randn(2, 4))
    net = plnet.from_torch(model, torch.randn(2, 4), drop_trailing=True)
    x = torch.randn(5, 4, dtype=torch.float64)
    with torch.no_grad():
        logits = model[:3](x)
    assert torch.allclose(torch.as_tensor(net(x.numpy())), logits, rtol=1e-12, atol=1e-12)
    assert len(net.graph.graph["dropped"]) == 1


def test_softmax_over_the_batch_is_not_dropped():
    model = nn.Sequential(nn.Linear(4, 4), nn.Softmax(dim=0))
    with pytest.raises(UnsupportedOpError, match="batch axis"):
        plnet.from_torch(model, torch.randn(2, 4), drop_trailing=True)


def test_only_a_trailing_softmax_is_dropped():
    model = nn.Sequential(nn.Linear(4, 4), nn.Softmax(dim=1), nn.Linear(4, 2))
    with pytest.raises(NotPiecewiseLinearError, match="Softmax"):
        plnet.from_torch(model, torch.randn(2, 4), drop_trailing=True)
