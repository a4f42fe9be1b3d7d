"""Stability bounds along coordinates: exact, sound, and vectorized over every direction."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import plnet
import plnet.sequence as ps
from plnet.testing import strategies as pst

#: a relative step just inside / just beyond a bound
STEP = 1e-7


def pattern_key(net, y):
    return plnet.activation_pattern(net, y[None]).keys()[0]


def assert_bounds_are_tight(model, x, bounds):
    """Just inside each finite bound the pattern is x's, just beyond it changes."""
    net = model.unroll(len(x))
    key = pattern_key(net, x)
    for sign, ts in ((1.0, bounds.plus), (-1.0, bounds.minus)):
        for index in zip(*np.nonzero(np.isfinite(ts))):
            t = ts[index]
            e = np.zeros_like(x)
            e[index] = sign
            assert pattern_key(net, x + (1 - STEP) * t * e) == key, (sign, index)
            assert pattern_key(net, x + ((1 + STEP) * t + 1e-12) * e) != key, (sign, index)


@settings(max_examples=30)
@given(pst.elman_model_and_batch(batch_size=3, max_length=4))
def test_stability_bounds_are_where_the_pattern_changes(model_xs):
    model, xs = model_xs
    for x, bounds in zip(xs, ps.stability_bounds(model, xs)):
        assert bounds.plus.shape == bounds.minus.shape == x.shape
        assert (bounds.plus >= 0).all() and (bounds.minus >= 0).all()
        assert_bounds_are_tight(model, x, bounds)


@settings(max_examples=20)
@given(pst.elman_model_and_batch(batch_size=2, max_length=4))
def test_stability_bounds_equal_directional_margins_along_each_coordinate(model_xs):
    model, xs = model_xs
    x = xs[0]
    bounds = ps.stability_bounds(model, x)
    eye = np.eye(x.size).reshape((x.size,) + x.shape)
    net = model.unroll(len(x))
    along = np.broadcast_to(x, eye.shape)
    np.testing.assert_allclose(plnet.directional_margin(net, along, eye),
                               bounds.plus.ravel(), rtol=1e-12)
    np.testing.assert_allclose(plnet.directional_margin(net, along, -eye),
                               bounds.minus.ravel(), rtol=1e-12)


def test_one_sequence_a_list_and_a_padded_batch_agree(make_elman, sequences):
    model = make_elman(bidirectional=True)
    xs = sequences([3, 5, 2])
    one = [ps.stability_bounds(model, x) for x in xs]
    listed = ps.stability_bounds(model, xs)
    padded = ps.stability_bounds(model, ps.sequence_batch(xs, (3,)).padded(), lengths=[3, 5, 2])
    for a, b, c in zip(one, listed, padded):
        np.testing.assert_allclose(a.plus, b.plus, rtol=1e-12)
        np.testing.assert_array_equal(b.plus, c.plus)
        np.testing.assert_array_equal(b.minus, c.minus)


def test_a_coordinate_that_no_unit_depends_on_is_unbounded():
    params = {"w_ih": np.array([[1.0, 0.0]]), "w_hh": np.array([[0.5]])}
    model = ps.elman(params, [ps.ElmanLayer("w_ih", "w_hh")], readout="last")
    bounds = ps.stability_bounds(model, np.array([[1.0, 5.0], [-3.0, 2.0]]))
    assert np.isinf(bounds.plus[:, 1]).all() and np.isinf(bounds.minus[:, 1]).all()
    # step 1: z = x_10 + 0.5 * relu(x_00) = -3 + 0.5 = -2.5 < 0; step 0: z = 1
    assert bounds.plus[1, 0] == pytest.approx(2.5)  # x_10 up to -0.5
    assert np.isinf(bounds.minus[1, 0])
    assert bounds.minus[0, 0] == pytest.approx(1.0)  # x_00 down to 0
    assert bounds.plus[0, 0] == pytest.approx(5.0)  # 0.5 * x_00 - 3 reaches 0 at x_00 = 6


def test_a_network_gets_bounds_for_its_whole_batch():
    b = plnet.NetworkBuilder((2,))
    net = b.build(b.relu(b.dense(b.input, np.array([[1.0, 1.0]]), np.array([-1.0]))))
    bounds = ps.stability_bounds(net, np.array([[2.0, 0.0]]))
    np.testing.assert_allclose(bounds.minus, [[1.0, 1.0]])
    assert np.isinf(bounds.plus).all()
