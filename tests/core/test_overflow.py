"""Huge weights: norms do not overflow, and overflow of the network itself is an error."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

import plnet
from plnet.analysis.norms import dual_norms
from plnet.errors import NonFiniteError
from plnet.testing import strategies as pst


def scaled_mlp(exponent: int, seed: int = 0, bias_exponent: int | None = None):
    """Layer k's weights times ``2**exponent`` and biases times ``2**(k * exponent)``: every
    unit's value and gradient scale by one power of two, so the margins are unchanged."""
    rng = np.random.default_rng(seed)
    s = 2.0 ** exponent
    s2 = 2.0 ** (2 * exponent if bias_exponent is None else bias_exponent)
    b = plnet.NetworkBuilder((3,))
    h = b.relu(b.dense(b.input, s * rng.normal(size=(4, 3)), s * rng.normal(size=4)))
    h = b.relu(b.dense(h, s * rng.normal(size=(3, 4)), s2 * rng.normal(size=3)))
    return b.build(b.dense(h, rng.normal(size=(2, 3))))


X = np.random.default_rng(1).normal(size=(6, 3))


@pytest.mark.parametrize("exponent", [500, -500])  # weights ~3e150 and ~3e-151
def test_margins_of_a_rescaled_network_are_unchanged(exponent):
    for p in (1, 2, np.inf):
        np.testing.assert_allclose(plnet.margin(scaled_mlp(exponent), X, p),
                                   plnet.margin(scaled_mlp(0), X, p), rtol=1e-12)


def test_margins_stay_ordered_at_weights_near_1e150():
    net = scaled_mlp(500)
    e_inf, e_2, e_1 = (plnet.margin(net, X, p) for p in (np.inf, 2, 1))
    assert (e_2 > 0).all()
    assert (e_inf <= e_2).all() and (e_2 <= e_1).all()


def test_overflowing_forward_names_the_node():
    net = scaled_mlp(515, bias_exponent=515)  # ~7e154: the second layer's values exceed float64
    second = [n for n in net.order if type(net.op(n)).__name__ == "Dense"][1]
    for evaluate in (net, plnet.linearize, lambda n, x: plnet.margin(n, x, 2),
                     plnet.activation_pattern):
        with pytest.raises(NonFiniteError, match="rescale") as info:
            evaluate(X) if evaluate is net else evaluate(net, X)
        assert info.value.node == second


@given(pst.network_and_points(batch_size=2))
def test_dual_norms_equal_the_naive_ones_on_well_scaled_networks(net_x):
    net, x = net_x
    grad = plnet.linearize(net, x).grad
    for q in (1, 2, np.inf):
        np.testing.assert_allclose(dual_norms(grad, q), np.linalg.norm(grad, ord=q, axis=2),
                                   rtol=1e-13)


def test_dual_norms_of_huge_and_tiny_gradients():
    grad = np.array([[3e200, 4e200], [3e-200, 4e-200], [0.0, 0.0]])
    np.testing.assert_allclose(dual_norms(grad, 2), [5e200, 5e-200, 0.0], rtol=1e-15)
    np.testing.assert_allclose(dual_norms(grad, 1), [7e200, 7e-200, 0.0], rtol=1e-15)
