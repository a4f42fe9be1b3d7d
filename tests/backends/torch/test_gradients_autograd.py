"""Gradients of losses built from unit gradients, and argument checking."""

from __future__ import annotations

import numpy as np
import pytest

from plnet.errors import InvalidInputError, ShapeError, UnsupportedOpError
from plnet.tolerances import REFERENCE_RTOL

torch = pytest.importorskip("torch")

from plnet.backends.torch import compile, unit_gradient_sqnorms, unit_gradients  # noqa: E402
from plnet.backends.torch.recursion import unsupported_nodes  # noqa: E402


def naive_sqnorms(module, x):
    """Squared gradient norms by double back-propagation, unit by unit (slow, obvious)."""
    out = []
    for xi in x:
        xi = xi.reshape((1,) + module.input_shape).clone().requires_grad_(True)
        _, z = module(xi, return_units=True)
        rows = []
        for j in range(z.shape[1]):
            (g,) = torch.autograd.grad(z[0, j], xi, create_graph=True, allow_unused=True)
            rows.append(torch.zeros((), dtype=xi.dtype) if g is None else g.square().sum())
        out.append(torch.stack(rows))
    return torch.stack(out)


def loss_of(z, sq):
    # a ROLL-like loss: hinge on |z| plus a weighted sum of gradient norms
    weights = torch.linspace(0.5, 1.5, z.shape[1], dtype=z.dtype)
    return (torch.relu(1 - z.abs()) + sq * weights).sum() + sq.square().sum()


def param_grads(module, loss):
    params = list(module.parameters())
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]


@pytest.mark.parametrize("name", ["mlp_net", "cnn_pooled_net", "views_net", "residual_net",
                                  "rnn_net"])
def test_parameter_gradients_through_sqnorms_equal_double_backprop(name, request, make_points):
    net = request.getfixturevalue(name)
    x = torch.as_tensor(make_points(net, batch=2))
    module = compile(net, device="cpu", dtype=torch.float64)
    _, z_ref = module(x, return_units=True)
    expected = param_grads(module, loss_of(z_ref, naive_sqnorms(module, x)))
    methods = ["perturbation"] + ([] if unsupported_nodes(module) else ["recursion"])
    for method in methods:
        z, sq = unit_gradient_sqnorms(module, x, method=method, chunk_size=4)
        got = param_grads(module, loss_of(z, sq))
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-8,
                                       atol=1e-8 * (1 + e.abs().max().item()))


def test_unit_gradients_are_differentiable_in_the_parameters(rnn_net, make_points):
    x = torch.as_tensor(make_points(rnn_net, batch=2))
    module = compile(rnn_net, device="cpu", dtype=torch.float64)
    _, grad = unit_gradients(module, x)
    assert grad.requires_grad
    _, sq = unit_gradient_sqnorms(module, x)
    a = param_grads(module, grad.square().sum())
    b = param_grads(module, sq.sum())
    for ga, gb in zip(a, b):
        np.testing.assert_allclose(ga.numpy(), gb.numpy(), rtol=REFERENCE_RTOL, atol=1e-12)
    with torch.no_grad():
        _, grad = unit_gradients(module, x)
    assert not grad.requires_grad


def test_bad_arguments_raise_plnet_errors(mlp_net, cnn_avg_net):
    module = compile(mlp_net, device="cpu")
    x = np.zeros((2,) + mlp_net.input_shape)
    with pytest.raises(InvalidInputError, match="method"):
        unit_gradients(module, x, method="backprop")
    with pytest.raises(InvalidInputError, match="axes"):
        unit_gradients(module, x, axes=[mlp_net.input_size])
    with pytest.raises(InvalidInputError, match="axes"):
        unit_gradients(module, x, axes=[])
    with pytest.raises(InvalidInputError, match="chunk_size"):
        unit_gradients(module, x, chunk_size=0)
    with pytest.raises(InvalidInputError, match="NaN"):
        unit_gradients(module, np.full_like(x, np.nan))
    with pytest.raises(InvalidInputError, match="empty"):
        unit_gradients(module, x[:0])
    with pytest.raises(ShapeError):
        unit_gradients(module, x[:, :-1])
    with pytest.raises(InvalidInputError, match="CompiledNetwork"):
        unit_gradients(mlp_net, x)
    conv = compile(cnn_avg_net, device="cpu")
    with pytest.raises(UnsupportedOpError, match="conv.*perturbation"):
        unit_gradients(conv, np.zeros((1,) + cnn_avg_net.input_shape), method="recursion")


def test_the_fused_sum_of_squares_passes_gradcheck():
    from plnet.backends.torch.sinks import SumOfSquares

    g = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(SumOfSquares.apply, (g,))
    assert torch.autograd.gradgradcheck(SumOfSquares.apply, (g,))
    np.testing.assert_allclose(SumOfSquares.apply(g).detach().numpy(),
                               (g.detach().numpy() ** 2).sum(axis=2), rtol=1e-14)
