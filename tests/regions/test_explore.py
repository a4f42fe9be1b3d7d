"""explore: the regions met by a ball, checked against dense sampling of the ball."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import plnet
from plnet.regions import explore
from plnet.testing import strategies as pst

pytest.importorskip("cvxpy")  # the exact extra: explore's programs inside the ball

POOLED_CNNS = pst.networks(families=("cnn1d",), input_shapes=[(1, 3), (1, 4)],
                           ops=["conv", "max_pool", "relu", "dense", "flatten"], max_units=12)
RNNS = pst.networks(families=("rnn",), input_shapes=[(2, 1), (3, 1)], max_units=12)


def _mlp(seed, d=2, width=8):
    rng = np.random.default_rng(seed)
    b = plnet.NetworkBuilder((d,))
    h = b.relu(b.dense(b.input, rng.normal(size=(width, d)), rng.normal(size=width)))
    h = b.relu(b.dense(h, rng.normal(size=(width, width)) / 2, rng.normal(size=width)))
    return b.build(b.dense(h, rng.normal(size=(2, width)), rng.normal(size=2)))


def _ball_samples(x, radius, p, n, seed):
    rng = np.random.default_rng(seed)
    y = rng.uniform(-radius, radius, size=(n, x.size))
    norms = np.linalg.norm(y, ord=p, axis=1)
    return x + y[norms < radius]


def _check_graph(net, x, graph, radius, p):
    assert not any(u == v for u, v in graph.edges)  # adjacent nodes differ in pattern
    for key, data in graph.nodes(data=True):
        point = data["point"]
        assert np.linalg.norm((point - x).ravel(), ord=p) < radius
        assert plnet.activation_pattern(net, point[None]).keys()[0] == key
        y = net(point[None]).reshape(-1)
        np.testing.assert_allclose(data["jacobian"] @ point.ravel() + data["offset"], y,
                                   rtol=1e-9, atol=1e-9 * (1 + np.abs(y).max()))
        centre = data["chebyshev_center"]
        assert np.linalg.norm((centre - x).ravel(), ord=p) + data["chebyshev_radius"] \
            <= radius * (1 + 1e-6)
        assert plnet.region(net, point).contains(centre)[0]


@pytest.mark.parametrize("p", [2, np.inf, 1])
def test_explore_finds_every_region_that_dense_sampling_of_a_2d_ball_finds(p):
    net, x, radius = _mlp(0), np.array([0.1, -0.2]), 1.0
    graph = explore(net, x, radius, p=p)
    assert graph.graph["complete"]
    sampled = set(plnet.activation_pattern(net, _ball_samples(x, radius, p, 20000, 1)).keys())
    assert sampled <= set(graph.nodes)
    assert len(graph) <= len(sampled) + 3  # the rest are slivers that sampling missed
    _check_graph(net, x, graph, radius, p)


def test_explore_on_a_1d_input_finds_the_intervals_sampling_finds():
    net, x = _mlp(3, d=1, width=6), np.array([0.3])
    graph = explore(net, x, 2.0)
    grid = x + np.linspace(-2, 2, 40001)[1:-1, None]
    assert set(plnet.activation_pattern(net, grid).keys()) == set(graph.nodes)
    assert nx_is_a_path(graph)


def nx_is_a_path(graph):
    degrees = sorted(d for _, d in graph.degree)
    return len(graph) == 1 or degrees == [1, 1] + [2] * (len(graph) - 2)


def test_limit_stops_the_search_and_marks_the_graph_incomplete():
    graph = explore(_mlp(0), np.array([0.1, -0.2]), 1.0, limit=3)
    assert len(graph) == 3 and graph.graph["complete"] is False


@pytest.mark.slow
@settings(max_examples=5)
@given(net=POOLED_CNNS | RNNS, seed=st.integers(0, 2**16))
def test_explore_on_max_pool_and_recurrent_networks(net, seed):
    x = np.random.default_rng(seed).normal(size=net.input_shape)
    graph = explore(net, x, 0.5, limit=60)
    _check_graph(net, x, graph, 0.5, 2)
    if graph.graph["complete"]:
        sampled = plnet.activation_pattern(net, _ball_samples(x.ravel(), 0.5, 2, 400, seed)
                                           .reshape((-1,) + net.input_shape))
        assert set(sampled.keys()) <= set(graph.nodes)


def test_facets_neighbours_and_explore_print_nothing(capfd):
    net, x = _mlp(0), np.array([0.1, -0.2])
    plnet.regions.neighbours(net, x)
    explore(net, x, 0.3)
    assert capfd.readouterr() == ("", "")
