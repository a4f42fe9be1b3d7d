"""Certificates on random sequence models and variable-length batches (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import plnet
from plnet.analysis import binding_units, margin_from
from plnet.testing import strategies as pst
from plnet.testing.sampling import ball_points, steepest_exit
from plnet.tolerances import INSIDE_SHRINK, REFERENCE_RTOL, SOLVER_ATOL, SOLVER_RTOL

PS = (1, 2, np.inf)
#: where a margin is infinite, balls of this radius are probed instead
FAR = 10.0


@settings(max_examples=30)
@given(pst.elman_model_and_batch(batch_size=st.integers(1, 5)))
def test_certificates_on_a_variable_length_batch_equal_each_lengths_network(model_xs):
    model, xs = model_xs
    for p in PS:
        eps = plnet.margin(model, xs, p=p)
        for x, e in zip(xs, eps):
            ref = plnet.margin(model.unroll(len(x)), x[None], p=p)[0]
            np.testing.assert_allclose(e, ref, rtol=REFERENCE_RTOL)


@settings(max_examples=30)
@given(pst.elman_model_and_batch(batch_size=2), st.integers(0, 2**32 - 1))
def test_points_inside_the_ball_keep_the_pattern_and_beyond_it_the_pattern_changes(model_xs,
                                                                                     seed):
    model, xs = model_xs
    rng = np.random.default_rng(seed)
    lins = plnet.linearize(model, xs)
    for x, lin in zip(xs, lins):
        net = model.unroll(len(x))
        key = lin.pattern_keys()[0]
        for p in PS:
            eps = margin_from(lin, p)[0]
            radius = (1 - INSIDE_SHRINK) * (eps if np.isfinite(eps) else FAR)
            points = ball_points(x, radius, p, 16, rng)
            pattern = plnet.activation_pattern(net, points.reshape((-1,) + x.shape))
            assert pattern.keys() == [key] * len(points), f"p={p}"
            k = binding_units(lin, p)[0]
            if k < 0 or eps == 0:
                continue
            u = steepest_exit(lin.grad[0, k], lin.signs[0, k], p)
            beyond = x.ravel() + eps * (1 + 1e-6) * u + 1e-12 * u
            assert plnet.activation_pattern(net, beyond.reshape((1,) + x.shape)).keys()[0] \
                != key, f"p={p}: the pattern survived the margin"


@settings(max_examples=8)
@given(pst.elman_model_and_batch(batch_size=1, max_length=3, max_hidden=3, max_layers=1))
def test_the_exact_solver_agrees_on_small_models(model_xs):
    exact = pytest.importorskip("plnet.exact")
    pytest.importorskip("cvxpy")
    model, (x,) = model_xs
    net = model.unroll(len(x))
    for p in PS:
        eps = plnet.margin(model, [x], p=p)[0]
        if not np.isfinite(eps):
            continue
        # plnet.exact reads the region through plnet.region, so it takes the model as well
        assert abs(exact.exact_margin(model, x, p) - eps) <= SOLVER_ATOL + SOLVER_RTOL * eps
        assert exact.verify_ball(net, x, eps * (1 - INSIDE_SHRINK), p).verified


@settings(max_examples=15)
@given(model=pst.elman_models())
def test_tied_parameters_stay_tied_through_save_and_load(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "model.npz"
    model.save(path)
    loaded = plnet.load(path)
    assert loaded.recipe == model.recipe
    assert sorted(loaded.params) == sorted(model.params)
    nets = [loaded.unroll(t) for t in (1, 2, 5)]
    for name, value in loaded.params.items():
        np.testing.assert_array_equal(value, model.params[name])
        for net in nets:
            if name in net.params:
                assert net.params[name] is value
