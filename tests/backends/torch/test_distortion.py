"""Gradient distortion (§5.3, Appendix J) and integrated gradients (Appendix K)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from plnet.backends.torch import (compile, expected_distortion, integrated_gradients,
                                  label_gradients, max_distortion)
from plnet.builder import NetworkBuilder
from plnet.demo import relu_mlp
from plnet.errors import InvalidInputError


def affine_net(d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    b = NetworkBuilder((d,))
    return b.build(b.dense(b.input, rng.normal(size=(k, d)), rng.normal(size=k)))


def points(n, d, seed=0):
    return torch.as_tensor(np.random.default_rng(seed).uniform(0.1, 0.9, (n, d)))


def test_an_affine_network_has_zero_distortion_everywhere():
    module = compile(affine_net(), device="cpu", dtype=torch.float64)
    x, y = points(3, 4), torch.tensor([0, 1, 2])
    assert expected_distortion(module, x, y, 0.1, samples=50).values.abs().max() == 0
    assert max_distortion(module, x, y, 0.1, population=16, epochs=3).values.abs().max() == 0


@pytest.mark.parametrize("group_bytes", [None, 1])
def test_the_ga_maximum_bounds_every_expectation_sample_and_stays_in_the_box(group_bytes,
                                                                            monkeypatch):
    from plnet.backends.torch import distortion

    if group_bytes is not None:  # one point per group: the memory-bounded path
        monkeypatch.setattr(distortion, "CANDIDATE_BYTES", group_bytes)
    module = compile(relu_mlp((3, 16, 16, 4), 1), device="cpu", dtype=torch.float64)
    x, y, eps = points(5, 3, 1), torch.tensor([0, 1, 2, 3, 0]), 0.3
    sampled = expected_distortion(module, x, y, eps, samples=64, seed=2, keep_points=True)
    best = max_distortion(module, x, y, eps, population=64, epochs=5, seed=3,
                          initial=sampled.points)
    assert torch.all(best.values >= sampled.values.max(dim=1).values)
    low, high = (x - eps).clamp(min=0), (x + eps).clamp(max=1)
    assert torch.all(best.points >= low) and torch.all(best.points <= high)
    # the returned value is the distortion of the returned point
    grads = label_gradients(module, torch.cat([x, best.points]), torch.cat([y, y]))
    np.testing.assert_allclose((grads[5:] - grads[:5]).abs().sum(1), best.values)


def test_the_ga_population_never_leaves_the_box(monkeypatch):
    from plnet.backends.torch import distortion

    seen = []
    original = distortion._distortions

    def record(module, pts, labels, base, chunk):
        seen.append(pts.clone())
        return original(module, pts, labels, base, chunk)

    monkeypatch.setattr(distortion, "_distortions", record)
    module = compile(relu_mlp((2, 8, 8, 2), 0), device="cpu", dtype=torch.float64)
    x = torch.tensor([[0.02, 0.97], [0.5, 0.5]], dtype=torch.float64)
    max_distortion(module, x, torch.tensor([0, 1]), 0.2, population=12, epochs=4)
    low, high = (x - 0.2).clamp(min=0), (x + 0.2).clamp(max=1)
    assert len(seen) == 5
    for pop in seen:
        assert torch.all(pop >= low[:, None]) and torch.all(pop <= high[:, None])


def test_the_ga_agrees_with_brute_force_on_a_tiny_network():
    module = compile(relu_mlp((2, 6, 6, 2), 4), device="cpu", dtype=torch.float64)
    x, y, eps = torch.tensor([[0.5, 0.4]], dtype=torch.float64), torch.tensor([1]), 0.3
    axis = np.linspace(-eps, eps, 121)
    grid = torch.as_tensor(np.array([[0.5 + a, 0.4 + b] for a, b in itertools.product(axis,
                                                                                     axis)]))
    grads = label_gradients(module, torch.cat([x, grid]), torch.ones(len(grid) + 1).long())
    brute = (grads[1:] - grads[0]).abs().sum(1).max()
    found = max_distortion(module, x, y, eps, population=200, epochs=10, seed=0).values[0]
    assert found == pytest.approx(float(brute), rel=1e-9)


def test_the_search_is_seeded():
    module = compile(relu_mlp((3, 8, 8, 2), 2), device="cpu", dtype=torch.float64)
    x, y = points(2, 3, 5), torch.tensor([0, 1])
    a = max_distortion(module, x, y, 0.2, population=20, epochs=3, seed=7)
    b = max_distortion(module, x, y, 0.2, population=20, epochs=3, seed=7)
    assert torch.equal(a.points, b.points)


def test_integrated_gradients_sum_to_the_logit_difference_on_a_piecewise_linear_net():
    module = compile(relu_mlp((3, 16, 16, 2), 3), device="cpu", dtype=torch.float64)
    x, y = points(4, 3, 6), torch.tensor([0, 1, 1, 0])
    ig = integrated_gradients(module, x, y, steps=4096)
    with torch.no_grad():
        gap = module(x)[torch.arange(4), y] - module(torch.zeros_like(x))[torch.arange(4), y]
    np.testing.assert_allclose(ig.sum(1), gap, rtol=1e-3, atol=1e-4)


def test_integrated_gradients_of_an_affine_network_are_weight_times_input():
    net = affine_net(4, 2, 1)
    module = compile(net, device="cpu", dtype=torch.float64)
    x = points(2, 4)
    ig = integrated_gradients(module, x, torch.tensor([1, 0]), steps=3)
    w = net.params[next(iter(net.params))]
    np.testing.assert_allclose(ig, x.numpy() * w[[1, 0]], rtol=1e-12)


def test_points_outside_the_domain_and_bad_sizes_are_refused():
    module = compile(affine_net(), device="cpu", dtype=torch.float64)
    with pytest.raises(InvalidInputError, match="outside the domain"):
        expected_distortion(module, torch.full((1, 4), 2.0), [0], 0.1)
    with pytest.raises(InvalidInputError, match="population"):
        max_distortion(module, points(1, 4), [0], 0.1, population=1)
