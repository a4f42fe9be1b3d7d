"""Margins and squared norms stream over chunks of axes: the dense ``[B, N, D]`` gradient
tensor is never allocated when only its per-unit reductions are asked for."""

from __future__ import annotations

import numpy as np
import pytest

import plnet

torch = pytest.importorskip("torch")

from torch.profiler import profile  # noqa: E402

from plnet.backends.torch import compile, gradients, host_memory  # noqa: E402
from plnet.backends.torch.certificates import margins  # noqa: E402
from plnet.backends.torch.gradients import unit_gradient_sqnorms, unit_gradients  # noqa: E402


def _conv_net(rng):
    b = plnet.NetworkBuilder((3, 12, 12))
    h = b.relu(b.conv(b.input, rng.normal(size=(6, 3, 3, 3)), rng.normal(size=6), padding=1))
    h = b.max_pool(h, 2)
    skip = h
    h = b.relu(b.add(b.conv(h, rng.normal(size=(6, 6, 3, 3)), None, padding=1), skip))
    return b.build(b.dense(b.flatten(h), rng.normal(size=(4, int(np.prod(b.shape(h)))))))


def _largest_allocation(fn) -> int:
    """The largest allocation ``fn`` makes, torch's (the profiler's) or a large result's
    from numpy's kernel-zeroed memory (:mod:`plnet.backends.torch.host_memory`)."""
    host = []

    def recorded(shape, dtype, device):
        tensor = zeros(shape, dtype, device)
        host.append(tensor.numel() * tensor.element_size())
        return tensor

    zeros, host_memory.zeros = host_memory.zeros, recorded
    try:
        with profile(profile_memory=True) as prof:
            fn()
    finally:
        host_memory.zeros = zeros
    return max([event.cpu_memory_usage for event in prof.events()] + host)


@pytest.fixture
def setting(monkeypatch):
    """A conv net whose dense gradient tensor exceeds the engines' (lowered) budget."""
    net = _conv_net(np.random.default_rng(0))
    module = compile(net, device="cpu", dtype=torch.float64)
    x = torch.tensor(np.random.default_rng(1).normal(size=(6,) + net.input_shape))
    dense = 6 * module.num_units * module.input_size * 8
    budget = dense // 16
    monkeypatch.setattr(gradients, "WORKSPACE_BYTES", budget)
    return module, x, dense, budget


def test_the_check_sees_the_dense_tensor(setting):
    """The measurement itself: the dense engine's result is one allocation of that size."""
    module, x, dense, _ = setting
    with torch.no_grad():
        assert _largest_allocation(lambda: unit_gradients(module, x)) >= dense


@pytest.mark.parametrize("p", [1, 2, float("inf")])
def test_margins_stay_under_the_budget(setting, p):
    module, x, dense, budget = setting
    with torch.no_grad():
        largest = _largest_allocation(lambda: margins(module, x, p=p))
    assert largest <= budget < dense


def test_squared_norms_stay_under_the_budget(setting):
    module, x, dense, budget = setting
    largest = _largest_allocation(lambda: unit_gradient_sqnorms(module, x))
    assert largest <= budget < dense
