"""The numpy analyses on a sequence model give each sample what its length's network gives."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import plnet
import plnet.sequence as ps
from plnet.errors import ShapeError, TieError
from plnet.tolerances import REFERENCE_RTOL

LENGTHS = [3, 1, 4, 3, 2]


def per_length(model, xs, analysis, *args, **kwargs):
    """The reference: ``analysis`` on each length's network with that length's samples."""
    out = [None] * len(xs)
    for t, idx in ps.group_by_length([len(x) for x in xs]).items():
        result = analysis(model.unroll(t), np.stack([xs[i] for i in idx]), *args, **kwargs)
        for k, i in enumerate(idx):
            out[i] = result[k]
    return np.array(out)


@pytest.fixture
def model_and_xs(make_elman, sequences):
    return make_elman(num_layers=2, bidirectional=True, initial_state=True), sequences(LENGTHS)


@pytest.mark.parametrize("p", [1, 2, np.inf])
def test_margins_equal_the_network_of_each_length(model_and_xs, p):
    model, xs = model_and_xs
    eps = plnet.margin(model, xs, p=p)
    assert eps.shape == (len(xs),)
    np.testing.assert_array_equal(eps, per_length(model, xs, plnet.margin, p=p))
    one_at_a_time = [plnet.margin(model.unroll(len(x)), x[None], p=p)[0] for x in xs]
    np.testing.assert_allclose(eps, one_at_a_time, rtol=REFERENCE_RTOL)


def test_a_padded_batch_with_lengths_equals_the_list(model_and_xs):
    model, xs = model_and_xs
    padded = ps.sequence_batch(xs, model.feature_shape).padded(value=123.0)
    np.testing.assert_array_equal(plnet.margin(model, padded, lengths=LENGTHS),
                                  plnet.margin(model, xs))
    np.testing.assert_array_equal(plnet.margin(model, model.batch(padded, LENGTHS)),
                                  plnet.margin(model, xs))


def test_linearizations_and_patterns_are_per_sample(model_and_xs):
    model, xs = model_and_xs
    lins = plnet.linearize(model, xs)
    patterns = plnet.activation_pattern(model, xs)
    assert len(lins) == len(patterns) == len(xs)
    for x, lin, pattern in zip(xs, lins, patterns):
        net = model.unroll(len(x))
        ref = plnet.linearize(net, x[None])
        for field in ("x", "z", "grad", "signs", "output", "jacobian", "offset"):
            np.testing.assert_allclose(getattr(lin, field), getattr(ref, field),
                                       rtol=REFERENCE_RTOL, atol=1e-14, err_msg=field)
        assert lin.pattern_keys() == ref.pattern_keys()
        assert pattern.keys() == plnet.activation_pattern(net, x[None]).keys()


def test_region_takes_one_sequence(model_and_xs):
    model, xs = model_and_xs
    poly = plnet.region(model, xs[2])
    ref = plnet.region(model.unroll(4), xs[2])
    np.testing.assert_array_equal(poly.A, ref.A)
    np.testing.assert_array_equal(poly.b, ref.b)
    with pytest.raises(ShapeError, match="one sequence"):
        plnet.region(model, xs[:2])


def test_directional_margins_take_one_direction_per_sample(model_and_xs):
    model, xs = model_and_xs
    rng = np.random.default_rng(5)
    vs = [rng.normal(size=x.shape) for x in xs]
    got = plnet.directional_margin(model, xs, vs)
    expected = [plnet.directional_margin(model.unroll(len(x)), x[None], v[None])[0]
                for x, v in zip(xs, vs)]
    np.testing.assert_allclose(got, expected, rtol=REFERENCE_RTOL)
    padded_v = ps.sequence_batch(vs, model.feature_shape).padded()
    np.testing.assert_array_equal(plnet.directional_margin(model, xs, padded_v), got)
    with pytest.raises(ShapeError, match="sample 1"):
        plnet.directional_margin(model, xs, [vs[0]] + [vs[0]] * 4)


def test_the_l1_bisection_is_per_sample(model_and_xs):
    model, xs = model_and_xs
    bracket = plnet.l1_margin_bisection(model, xs)
    lower = per_length(model, xs, lambda net, x: plnet.l1_margin_bisection(net, x).lower)
    np.testing.assert_array_equal(bracket.lower, lower)
    assert bracket.lower.shape == bracket.upper.shape == bracket.capped.shape == (len(xs),)


def test_region_counts_add_up_over_lengths(model_and_xs):
    model, xs = model_and_xs
    count = plnet.count_linear_regions(model, xs + xs)
    assert (count.lower, count.upper, count.n_points) == (5, 5, 10)


def test_tied_samples_are_named_by_their_index_in_the_batch():
    params = {"w_ih": np.array([[1.0, 0.0]]), "w_hh": np.array([[0.5]])}
    model = ps.elman(params, [ps.ElmanLayer("w_ih", "w_hh")], readout="last")
    xs = [np.array([[1.0, 2.0], [1.0, 1.0]]), np.array([[1.0, 1.0]]),
          np.array([[0.0, 3.0], [2.0, 1.0]])]  # the last one's first step is exactly 0
    with pytest.raises(TieError) as info:
        plnet.count_linear_regions(model, xs)
    assert list(info.value.points) == [2]
    count = plnet.count_linear_regions(model, xs, on_tie="exclude")
    assert count.tied_points == (2,) and count.n_points == 2
    assert plnet.margin(model, xs)[2] == 0.0


def test_networks_still_take_their_own_batches_and_the_signatures_show_lengths():
    b = plnet.NetworkBuilder((2,))
    net = b.build(b.relu(b.dense(b.input, np.eye(2))))
    np.testing.assert_array_equal(plnet.margin(net, np.array([[1.0, -2.0]])), [1.0])
    with pytest.raises(TypeError):
        plnet.margin(net, np.ones((1, 2)), lengths=[1])
    for func in (plnet.margin, plnet.linearize, plnet.region, plnet.directional_margin,
                 plnet.count_linear_regions, plnet.activation_pattern,
                 plnet.l1_margin_bisection):
        assert "lengths" in inspect.signature(func).parameters, func.__name__
        assert "Sequence models" in func.__doc__
