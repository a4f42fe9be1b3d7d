"""The analyses run unchanged on converted models, and their gradients are torch's autograd
of the original module (float64)."""

from __future__ import annotations

import numpy as np
import pytest

import plnet

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional


def _models():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 8), nn.LeakyReLU(0.1),
                        nn.Linear(8, 3))
    cnn = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(),
                        nn.Conv2d(3, 3, 3, stride=2), nn.ReLU(), nn.Flatten(),
                        nn.Linear(3 * 2 * 2, 4))
    with torch.no_grad():
        cnn[1].running_mean.uniform_(-0.5, 0.5)
        cnn[1].running_var.uniform_(0.5, 2.0)
    return {"mlp": (mlp, (6,)), "cnn": (cnn, (2, 5, 5))}


MODELS = _models()


def _pre_activations(model, x):
    """Inputs of every ReLU/LeakyReLU module, flattened and concatenated in call order."""
    seen = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].flatten(1)))
             for m in model.modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU))]
    try:
        out = model(x)
    finally:
        for h in hooks:
            h.remove()
    return torch.cat(seen, dim=1), out


@pytest.mark.parametrize("name", sorted(MODELS))
def test_unit_values_and_gradients_equal_autograd(name):
    model, shape = MODELS[name]
    model = model.double().eval()
    x = np.random.default_rng(0).normal(size=(3,) + shape)
    net = plnet.from_torch(model, torch.as_tensor(x))
    lin = plnet.linearize(net, x)
    for i in range(x.shape[0]):
        xi = torch.as_tensor(x[i:i + 1])
        z, _ = _pre_activations(model, xi)
        np.testing.assert_allclose(lin.z[i], z[0].detach().numpy(), rtol=1e-9, atol=1e-12)
        grad = torch.autograd.functional.jacobian(
            lambda v: _pre_activations(model, v.reshape(xi.shape))[0][0], xi.flatten())
        np.testing.assert_allclose(lin.grad[i], grad.numpy(), rtol=1e-9, atol=1e-12)
        jac = torch.autograd.functional.jacobian(
            lambda v: model(v.reshape(xi.shape))[0], xi.flatten())
        np.testing.assert_allclose(lin.jacobian[i], jac.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_points_inside_the_certified_margin_keep_the_torch_pattern(name):
    model, shape = MODELS[name]
    model = model.double().eval()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4,) + shape)
    net = plnet.from_torch(model, torch.as_tensor(x))
    eps = plnet.margin(net, x, p=2)
    assert (eps > 0).all() and np.isfinite(eps).all()
    with torch.no_grad():
        z0, _ = _pre_activations(model, torch.as_tensor(x))
        for _ in range(5):
            v = rng.normal(size=x.shape)
            v /= np.linalg.norm(v.reshape(len(x), -1), axis=1).reshape((-1,) + (1,) * len(shape))
            y = x + v * (0.999 * eps).reshape((-1,) + (1,) * len(shape))
            z1, _ = _pre_activations(model, torch.as_tensor(y))
            assert torch.equal(z0 > 0, z1 > 0)


def test_maxpool_and_rnn_models_linearize_to_autograd():
    torch.manual_seed(3)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.RNN(3, 4, nonlinearity="relu", batch_first=True, num_layers=2)
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            out, _ = self.rnn(F.max_pool1d(x.transpose(1, 2), 2).transpose(1, 2))
            return self.fc(out[:, -1])

    model = Model().double().eval()
    x = np.random.default_rng(2).normal(size=(2, 6, 3))
    net = plnet.from_torch(model, torch.as_tensor(x))
    lin = plnet.linearize(net, x)
    for i in range(2):
        xi = torch.as_tensor(x[i:i + 1])
        jac = torch.autograd.functional.jacobian(lambda v: model(v.reshape(xi.shape))[0],
                                                 xi.flatten())
        np.testing.assert_allclose(lin.jacobian[i], jac.numpy(), rtol=1e-9, atol=1e-12)
    assert net.num_units == 3 * 3 + 2 * 3 * 4  # max-pool comparisons + RNN ReLUs
