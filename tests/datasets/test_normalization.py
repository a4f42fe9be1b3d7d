"""Folded input normalization: margins of raw inputs, without hand rescaling.

What holds, for a network ``net`` trained on ``(x - mu) / sigma`` and its folded version
``raw = prepend_normalization(net, mu, sigma)``: with one scalar sigma, for every p,
``margin(raw, x) = sigma * margin(net, (x - mu) / sigma)`` (the paper's Eq. 24); with
per-channel sigmas, ``min(sigma) * m <= margin(raw, x) <= max(sigma) * m`` where m is the
normalized margin, and the raw margin is exactly ``min |z| / ||grad_x z||_q`` in raw space.
"""

from __future__ import annotations

import numpy as np
import pytest

import plnet
from plnet.builder import NetworkBuilder
from plnet.datasets import prepend_normalization
from plnet.demo import relu_mlp
from plnet.errors import InvalidInputError

P_VALUES = (1, 2, np.inf)


def image_net(seed: int) -> plnet.Network:
    rng = np.random.default_rng(seed)
    b = NetworkBuilder((2, 3, 3))
    h = b.flatten(b.input)
    h = b.relu(b.dense(h, rng.normal(size=(12, 18)), rng.normal(size=12) * 0.1))
    h = b.dense(h, rng.normal(size=(3, 12)))
    return b.build(h)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scalar_sigma_margins_equal_sigma_times_the_normalized_margins(seed):
    net = relu_mlp((5, 16, 16, 3), seed)
    mu, sigma = 0.1307, 0.3081
    raw = prepend_normalization(net, mu, sigma)
    x = np.random.default_rng(seed).uniform(0, 1, (20, 5))
    np.testing.assert_allclose(raw(x), net((x - mu) / sigma), rtol=1e-12, atol=1e-12)
    for p in P_VALUES:
        np.testing.assert_allclose(plnet.margin(raw, x, p=p),
                                   sigma * plnet.margin(net, (x - mu) / sigma, p=p),
                                   rtol=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_per_channel_sigma_margins_lie_between_the_extreme_rescalings(seed):
    net = image_net(seed)
    mu, sigma = np.array([0.485, 0.456]), np.array([0.2, 0.5])
    raw = prepend_normalization(net, mu, sigma)
    x = np.random.default_rng(seed).uniform(0, 1, (15, 2, 3, 3))
    normalized = (x - mu[:, None, None]) / sigma[:, None, None]
    np.testing.assert_allclose(raw(x), net(normalized), rtol=1e-12, atol=1e-12)
    for p in P_VALUES:
        m_raw, m_norm = plnet.margin(raw, x, p=p), plnet.margin(net, normalized, p=p)
        assert np.all(m_raw >= sigma.min() * m_norm * (1 - 1e-9))
        assert np.all(m_raw <= sigma.max() * m_norm * (1 + 1e-9))
    # and strictly inside the bounds somewhere: the per-channel factor is not a scalar
    m_raw, m_norm = plnet.margin(raw, x, p=2), plnet.margin(net, normalized, p=2)
    assert np.any(~np.isclose(m_raw, sigma.min() * m_norm) & ~np.isclose(m_raw,
                                                                         sigma.max() * m_norm))


def test_the_original_network_is_unchanged_and_bad_sigmas_are_refused():
    net = relu_mlp((4, 8, 2), 0)
    before = len(net.graph)
    prepend_normalization(net, 0.0, 2.0)
    assert len(net.graph) == before
    with pytest.raises(InvalidInputError, match="std"):
        prepend_normalization(net, 0.0, 0.0)
    with pytest.raises(InvalidInputError, match="mean"):
        prepend_normalization(net, np.zeros(3), 1.0)
