"""Approximate ROLL (paper, Eq. 10): the sampled squared-norm estimate is unbiased."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import plnet

torch = pytest.importorskip("torch")

from plnet.backends.torch import compile, roll_regularizer  # noqa: E402
from plnet.backends.torch.gradients import unit_gradient_sqnorms  # noqa: E402
from plnet.backends.torch.losses import sample_axes  # noqa: E402


def test_the_estimate_averaged_over_every_axis_subset_is_exact(mlp_net, make_points):
    # Uniform sampling without replacement draws each k-subset with equal probability, so
    # the expectation is exactly the average over all subsets.
    module = compile(mlp_net, device="cpu", dtype=torch.float64)
    x = torch.tensor(make_points(mlp_net, batch=3))
    d, k = module.input_size, 2
    _, exact = unit_gradient_sqnorms(module, x)
    estimates = [unit_gradient_sqnorms(module, x, axes=torch.tensor(axes))[1] * (d / k)
                 for axes in itertools.combinations(range(d), k)]
    torch.testing.assert_close(torch.stack(estimates).mean(dim=0), exact, rtol=1e-12,
                               atol=1e-12)


def test_sampled_roll_is_unbiased_statistically(mlp_net, make_points):
    """Mean of 3000 sampled losses within 5 standard errors of the exact loss.

    With a correct (unbiased) estimator the z-score is approximately standard normal (CLT
    over 3000 i.i.d. draws), so this fails by chance with probability about 6e-7; the
    seed is fixed, so the outcome is reproducible.
    """
    module = compile(mlp_net, device="cpu", dtype=torch.float64)
    x = torch.tensor(make_points(mlp_net, batch=4))
    exact = float(roll_regularizer(module, x, C=0.5).detach())
    gen = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        draws = np.array([float(roll_regularizer(module, x, C=0.5, samples=2, generator=gen))
                          for _ in range(3000)])
    stderr = draws.std(ddof=1) / np.sqrt(draws.size)
    assert draws.std() > 0  # the estimate really varies: the test has power
    assert abs(draws.mean() - exact) < 5 * stderr, (draws.mean(), exact, stderr)


def test_sampling_every_axis_is_the_exact_loss(mlp_net, make_points):
    module = compile(mlp_net, device="cpu", dtype=torch.float64)
    x = torch.tensor(make_points(mlp_net, batch=3))
    torch.testing.assert_close(roll_regularizer(module, x, C=1.0, samples=module.input_size),
                               roll_regularizer(module, x, C=1.0))


def test_axes_are_distinct_in_range_and_follow_the_generator():
    a = sample_axes(50, 7, "cpu", torch.Generator().manual_seed(3))
    b = sample_axes(50, 7, "cpu", torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.unique().numel() == 7
    assert int(a.min()) >= 0 and int(a.max()) < 50


def test_every_axis_is_drawn_equally_often():
    # 20000 draws of 3 axes out of 10: each axis count is Binomial(20000, 0.3), sd ~ 65;
    # a 6-sd band fails by chance with probability below 1e-8 (seed fixed anyway).
    gen = torch.Generator().manual_seed(0)
    counts = torch.zeros(10)
    for _ in range(20000):
        counts[sample_axes(10, 3, "cpu", gen)] += 1
    assert (counts - 6000).abs().max() < 6 * np.sqrt(20000 * 0.3 * 0.7)


def test_the_sampled_loss_uses_the_drawn_axes_scaled_by_d_over_k(mlp_net, make_points):
    module = compile(mlp_net, device="cpu", dtype=torch.float64)
    x = make_points(mlp_net, batch=3)
    d, k = module.input_size, 3
    axes = sample_axes(d, k, "cpu", torch.Generator().manual_seed(11)).numpy()
    lin = plnet.linearize(mlp_net, x)
    sq = (lin.grad[:, :, axes] ** 2).sum(axis=2) * d / k
    expected = (sq + 0.9 * np.maximum(0, 1 - np.abs(lin.z))).mean()
    got = roll_regularizer(module, torch.tensor(x), C=0.9, samples=k,
                           generator=torch.Generator().manual_seed(11))
    np.testing.assert_allclose(float(got.detach()), expected, rtol=1e-10)


def test_sampled_loss_gradients_equal_central_finite_differences(mlp_net, make_points):
    module = compile(mlp_net, device="cpu", dtype=torch.float64)
    x = torch.tensor(make_points(mlp_net, batch=3))

    def loss():  # the same axes at every evaluation
        return roll_regularizer(module, x, C=1.1, samples=2,
                                generator=torch.Generator().manual_seed(5))

    params = list(module.parameters())
    grads = torch.autograd.grad(loss(), params, allow_unused=True, materialize_grads=True)
    for p, g in zip(params, grads):
        flat = p.detach().view(-1)
        for i in range(0, flat.numel(), max(1, flat.numel() // 3)):
            with torch.no_grad():
                old = float(flat[i])
                flat[i] = old + 1e-6
                up = float(loss())
                flat[i] = old - 1e-6
                down = float(loss())
                flat[i] = old
            np.testing.assert_allclose(float(g.view(-1)[i]), (up - down) / 2e-6, rtol=1e-5,
                                       atol=1e-7)
