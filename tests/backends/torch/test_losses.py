"""ROLL regularizers against direct numpy computations from the float64 reference."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import plnet

torch = pytest.importorskip("torch")

from plnet.backends.torch import (compile, distance_regularizer, max_relaxation,  # noqa: E402
                                  roll_regularizer)


def scalar(t) -> float:
    return float(t.detach())


def reference_terms(net, x):
    """Every unit's z and squared gradient norm, from plnet.linearize (float64)."""
    lin = plnet.linearize(net, x)
    return lin.z, (lin.grad ** 2).sum(axis=2)


def numpy_roll(z, sq, C, gamma):
    losses = sq + C * np.maximum(0.0, 1.0 - np.abs(z))
    k = max(1, math.ceil(Fraction(gamma) * z.shape[1] / 100))
    return np.sort(losses, axis=1)[:, ::-1][:, :k].mean(axis=1).mean()


@pytest.mark.parametrize("gamma", [100, 50, 10])
def test_roll_regularizer_equals_the_reference_on_every_small_net(small_net, make_points, gamma):
    x = make_points(small_net, batch=4)
    z, sq = reference_terms(small_net, x)
    module = compile(small_net, device="cpu", dtype=torch.float64)
    got = roll_regularizer(module, torch.tensor(x), C=0.8, gamma=gamma)
    np.testing.assert_allclose(scalar(got), numpy_roll(z, sq, 0.8, gamma), rtol=1e-10)


def test_roll_with_gamma_100_equals_the_explicit_mean(mlp_net, make_points):
    x = make_points(mlp_net, batch=6)
    z, sq = reference_terms(mlp_net, x)
    module = compile(mlp_net, device="cpu", dtype=torch.float64)
    explicit = np.mean([[s + 2.0 * max(0.0, 1 - abs(v)) for v, s in zip(zr, sr)]
                        for zr, sr in zip(z, sq)])
    np.testing.assert_allclose(scalar(roll_regularizer(module, torch.tensor(x), C=2.0)),
                               explicit, rtol=1e-10)


def test_max_pool_comparison_rows_count_as_units(cnn_max_net, make_points):
    x = make_points(cnn_max_net, batch=3)
    z, sq = reference_terms(cnn_max_net, x)
    relu_units = sum(n for node, n in cnn_max_net.unit_counts().items()
                     if cnn_max_net.op(node).type_name != "max_pool")
    assert z.shape[1] > relu_units
    module = compile(cnn_max_net, device="cpu", dtype=torch.float64)
    got = max_relaxation(module, torch.tensor(x), C=1.5)
    expected = (sq + 1.5 * np.maximum(0, 1 - np.abs(z))).max(axis=1).mean()
    np.testing.assert_allclose(scalar(got), expected, rtol=1e-10)


def test_distance_regularizer_is_minus_the_mean_certified_l2_margin(small_net, make_points):
    x = make_points(small_net, batch=4)
    margins = plnet.margin(small_net, x, p=2)
    expected = -np.where(np.isfinite(margins), margins, 0.0).mean()
    module = compile(small_net, device="cpu", dtype=torch.float64)
    np.testing.assert_allclose(scalar(distance_regularizer(module, torch.tensor(x))), expected,
                               rtol=1e-10)


def test_softmin_relaxation_equals_its_numpy_formula(residual_net, make_points):
    x = make_points(residual_net, batch=4)
    z, sq = reference_terms(residual_net, x)
    with np.errstate(divide="ignore"):
        d = np.where(sq > 0, np.abs(z) / np.sqrt(np.where(sq > 0, sq, 1)), np.inf)
    t = 0.05
    lse = d.min(axis=1) * -1 / t + np.log(np.exp(-(d - d.min(axis=1, keepdims=True)) / t)
                                          .sum(axis=1))
    module = compile(residual_net, device="cpu", dtype=torch.float64)
    got = roll_regularizer(module, torch.tensor(x), C=1.0, relaxation="softmin_distance")
    np.testing.assert_allclose(scalar(got), (t * lse).mean(), rtol=1e-10)


def test_a_zero_gradient_unit_keeps_only_its_hinge_in_the_relaxed_losses():
    # Unit 2 of the second layer reads only the first unit, which is dead at x: its gradient
    # is zero, so its relaxed loss is C * max(0, 1 - |z|) = C * (1 - 0.25).
    b = plnet.NetworkBuilder((2,))
    h = b.relu(b.dense(b.input, [[1.0, 0.0], [0.0, 1.0]], [-10.0, 0.0]))
    h = b.relu(b.dense(h, [[0.0, 1.0], [1.0, 0.0]], [0.0, 0.25]))
    net = b.build(b.dense(h, [[1.0, 1.0]]))
    x = np.array([[0.5, 2.0]])
    z, sq = reference_terms(net, x)
    assert sq[0, 3] == 0 and z[0, 3] == 0.25
    module = compile(net, device="cpu", dtype=torch.float64)
    got = roll_regularizer(module, torch.tensor(x), C=3.0, relaxation="max")
    np.testing.assert_allclose(scalar(got), max(sq[0] + 3.0 * np.maximum(0, 1 - abs(z[0]))))
    dist = distance_regularizer(module, torch.tensor(x))
    np.testing.assert_allclose(scalar(dist), -plnet.margin(net, x)[0])


def test_regularizer_gradients_equal_central_finite_differences(mlp_net, make_points):
    x = torch.tensor(make_points(mlp_net, batch=3))
    module = compile(mlp_net, device="cpu", dtype=torch.float64)
    for relaxation, gamma in (("roll", 100), ("roll", 40), ("max", 100), ("distance", 100)):
        module.zero_grad()
        roll_regularizer(module, x, C=1.3, gamma=gamma, relaxation=relaxation).backward()
        for name, p in module.named_parameters():
            flat = p.detach().view(-1)
            for i in range(0, flat.numel(), max(1, flat.numel() // 4)):
                def at(delta):
                    with torch.no_grad():
                        old = float(flat[i])
                        flat[i] = old + delta
                        value = float(roll_regularizer(module, x, C=1.3, gamma=gamma,
                                                       relaxation=relaxation))
                        flat[i] = old
                    return value

                h = 1e-6  # small enough that no unit changes side: the loss is smooth there
                fd = (at(h) - at(-h)) / (2 * h)
                grad = 0.0 if p.grad is None else float(p.grad.view(-1)[i])
                np.testing.assert_allclose(grad, fd, rtol=1e-5,
                                           atol=1e-7, err_msg=f"{relaxation} {name}[{i}]")


def test_regularizer_gradients_equal_autograd_through_the_jacobian(views_net, make_points):
    x = torch.tensor(make_points(views_net, batch=3))
    module = compile(views_net, device="cpu", dtype=torch.float64)

    def baseline():
        def units(xf):
            return module(xf.reshape(x.shape), return_units=True)[1].sum(0)

        jac = torch.autograd.functional.jacobian(units, x.reshape(3, -1), create_graph=True)
        sq = (jac ** 2).sum(dim=2).T  # [B, N]
        z = module(x, return_units=True)[1]
        return (sq + 0.6 * torch.relu(1 - z.abs())).mean()

    params = list(module.parameters())
    ours = torch.autograd.grad(roll_regularizer(module, x, C=0.6), params, allow_unused=True,
                               materialize_grads=True)
    ref = torch.autograd.grad(baseline(), params, allow_unused=True, materialize_grads=True)
    assert any(g.abs().sum() > 0 for g in ref)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bad, match", [
    (dict(C=-1.0), "C "), (dict(C=float("nan")), "C "), (dict(gamma=0), "gamma"),
    (dict(gamma=100.5), "gamma"), (dict(gamma=float("nan")), "gamma"),
    (dict(samples=0), "samples"), (dict(samples=7), "exceeds the input size"),
    (dict(samples=True), "samples"), (dict(samples=2, gamma=50), "biased"),
    (dict(samples=2, relaxation="max"), "biased"), (dict(relaxation="nope"), "unknown"),
])
def test_bad_regularizer_options_raise_plnet_errors(mlp_net, make_points, bad, match):
    module = compile(mlp_net, device="cpu", dtype=torch.float64)
    x = torch.tensor(make_points(mlp_net, batch=2))
    kwargs = dict(C=1.0, **bad) if "C" not in bad else bad
    with pytest.raises(plnet.InvalidInputError, match=match):
        roll_regularizer(module, x, **kwargs)


def test_a_relaxation_returning_the_wrong_shape_is_reported(mlp_net, make_points):
    module = compile(mlp_net, device="cpu", dtype=torch.float64)
    x = torch.tensor(make_points(mlp_net, batch=2))
    with pytest.raises(plnet.InvalidInputError, match="one loss per point"):
        roll_regularizer(module, x, C=1.0, relaxation=lambda z, sq, *, C, gamma: sq.sum())


def test_regularizer_runs_on_every_device(mlp_net, make_points, device):
    module = compile(mlp_net, device=device, dtype=torch.float32)
    x = torch.tensor(make_points(mlp_net, batch=4), dtype=torch.float32, device=device)
    z, sq = reference_terms(mlp_net, x.cpu().double().numpy())
    got = roll_regularizer(module, x, C=1.0)
    np.testing.assert_allclose(scalar(got), numpy_roll(z, sq, 1.0, 100), rtol=1e-4)
