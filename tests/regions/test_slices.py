"""Exact 2-d and 1-d slices on hand-built networks of every kind of op."""

from __future__ import annotations

import re

import numpy as np
import pytest

import plnet
from plnet.builder import NetworkBuilder
from plnet.errors import InvalidInputError, ShapeError
from plnet.regions import slice1d, slice2d
from tests.regions.slice_checks import check_edges, check_grid, check_partition, keys_at


def _mlp(widths, seed, activation="relu", d_in=2):
    rng = np.random.default_rng(seed)
    b = NetworkBuilder((d_in,))
    h, d = b.input, d_in
    for w in widths:
        h = b.dense(h, rng.standard_normal((w, d)) / np.sqrt(d), 0.5 * rng.standard_normal(w))
        h = b.relu(h) if activation == "relu" else b.leaky_relu(h, 0.1)
        d = w
    return b.build(b.dense(h, rng.standard_normal((3, d)), np.zeros(3)))


def _pooled_cnn(seed):
    """A 1-d conv, a ReLU, max pooling over windows of 3 and a residual add."""
    rng = np.random.default_rng(seed)
    b = NetworkBuilder((1, 6))
    h = b.relu(b.conv(b.input, rng.standard_normal((2, 1, 3)), rng.standard_normal(2)))
    h = b.max_pool(h, 3, stride=1)
    h = b.add(h, b.conv(b.input, rng.standard_normal((2, 1, 5)), None))
    h = b.leaky_relu(h, 0.2)
    return b.build(b.dense(b.flatten(h), rng.standard_normal((2, 4)), np.zeros(2)))


def _plane(net, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(net.input_shape), rng.standard_normal(net.input_shape),
            rng.standard_normal(net.input_shape))


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_mlp_slice_has_one_exact_polygon_per_pattern(activation):
    net = _mlp([8, 8], 0, activation)
    s = slice2d(net, np.zeros(2), [1, 0], [0, 1])
    assert s.count > 10
    check_partition(net, s)
    check_edges(net, s)


@pytest.mark.parametrize("seed", range(3))
def test_conv_max_pool_residual_slice_matches_brute_force(seed):
    net = _pooled_cnn(seed)
    x0, u, v = _plane(net, seed)
    s = slice2d(net, x0, u, v, bounds=(-2, 2, -1.5, 1.5))
    assert s.count > 5
    check_partition(net, s)
    check_edges(net, s)
    check_grid(net, s)


def test_max_pool_comparisons_split_cells_and_equal_patterns_merge():
    # the max of three lines: three regions, although splitting by comparisons one at a time
    # cuts the plane into more pieces first
    b = NetworkBuilder((2,))
    h = b.dense(b.input, np.array([[1.0, 0.0], [-0.5, 0.8], [-0.5, -0.8]]), np.zeros(3))
    h = b.max_pool(b.reshape(h, (1, 3)), 3)
    net = b.build(b.flatten(h))
    s = slice2d(net, np.zeros(2), [1, 0], [0, 1])
    assert s.count == 3 and s.linear_count == 3
    check_partition(net, s)
    check_edges(net, s)
    check_grid(net, s)


def test_linear_count_merges_patterns_with_one_affine_map():
    # the second unit never reaches the output: its switch changes the pattern, not the map
    b = NetworkBuilder((2,))
    h = b.relu(b.dense(b.input, np.eye(2), np.zeros(2)))
    net = b.build(b.dense(h, np.array([[1.0, 0.0]]), np.zeros(1)))
    s = slice2d(net, np.zeros(2), [1, 0], [0, 1])
    assert s.count == 4
    assert s.linear_count == 2
    np.testing.assert_allclose(sorted(s.areas), [1, 1, 1, 1])


def test_slice_through_a_prelu_rnn_matches_brute_force():
    rng = np.random.default_rng(3)
    b = NetworkBuilder((3, 2))
    h = b.rnn(b.input, rng.standard_normal((4, 2)), 0.5 * rng.standard_normal((4, 4)),
              rng.standard_normal(4), None)
    h = b.prelu(h, np.array(rng.uniform(-0.5, 0.5)))
    net = b.build(b.dense(b.flatten(h), rng.standard_normal((2, h_size(b, h))), None))
    x0, u, v = _plane(net, 4)
    s = slice2d(net, x0, u, v)
    check_partition(net, s)
    check_edges(net, s)
    check_grid(net, s, n=40)


def h_size(b, node):
    return int(np.prod(b.shape(node)))


def test_slice1d_intervals_cover_the_segment_and_patterns_change_at_each_end():
    net = _mlp([6, 6], 1)
    s = slice1d(net, [0.1, -0.2], [1.0, 0.5], bounds=(-3, 3))
    iv = s.intervals
    assert iv[0, 0] == -3 and iv[-1, 1] == 3
    np.testing.assert_allclose(iv[1:, 0], iv[:-1, 1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(s.areas.sum(), 6)
    check_partition(net, s)
    check_edges(net, s)


def test_slice_of_an_affine_network_is_the_whole_box():
    b = NetworkBuilder((2,))
    net = b.build(b.dense(b.input, np.ones((1, 2)), np.zeros(1)))
    s = slice2d(net, np.zeros(2), [1, 0], [0, 1], bounds=(0, 2, 0, 3))
    assert s.count == 1 and s.areas.tolist() == [6.0]


def test_slice_polygon_keys_are_the_analysis_pattern_keys():
    net = _mlp([5], 2)
    s = slice2d(net, np.zeros(2), [1, 0], [0, 1])
    lin = plnet.linearize(net, s.to_input(s.centers()))
    assert lin.pattern_keys() == s.patterns == keys_at(net, s, s.centers())


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(x0=np.zeros(3)), ShapeError, "x0 has shape (3,)"),
    (dict(v=[2.0, 0.0]), InvalidInputError, "linearly dependent"),
    (dict(bounds=(1, -1, 0, 1)), InvalidInputError, "lo < hi"),
    (dict(bounds=(0, 1, 0)), InvalidInputError, "4 finite numbers"),
    (dict(u=[np.nan, 0.0]), InvalidInputError, "u has non-finite"),
])
def test_bad_slice_arguments_say_what_to_fix(kwargs, error, words):
    net = _mlp([3], 0)
    args = dict(x0=np.zeros(2), u=[1.0, 0.0], v=[0.0, 1.0], bounds=(-1, 1, -1, 1)) | kwargs
    with pytest.raises(error, match=re.escape(words)):
        slice2d(net, **args)


def test_slice1d_rejects_a_zero_direction():
    with pytest.raises(InvalidInputError, match="direction u is zero"):
        slice1d(_mlp([3], 0), np.zeros(2), np.zeros(2))


def _relu_lines(weights, biases):
    b = NetworkBuilder((2,))
    h = b.relu(b.dense(b.input, np.asarray(weights, float), np.asarray(biases, float)))
    return b.build(b.dense(h, np.ones((1, len(biases))), None))


def test_lines_through_one_vertex_cut_clean_sectors():
    # the first two cuts make a vertex at 0 that lies exactly on the third line
    net = _relu_lines([[1, 0], [0, 1], [1, -1]], [0, 0, 0])
    s = slice2d(net, np.zeros(2), [1, 0], [0, 1])
    assert s.count == 6
    assert all(len(p) == len(np.unique(p, axis=0)) for p in s.polygons)
    np.testing.assert_allclose(sorted(s.areas), [0.5, 0.5, 0.5, 0.5, 1, 1])
    check_partition(net, s)
    check_edges(net, s)


def test_slivers_thinner_than_the_tolerance_merge_into_a_neighbour():
    # two parallel lines 1e-13 apart: the strip between them is below SLICE_RTOL
    net = _relu_lines([[1, 0], [1, 0]], [0, -1e-13])
    s = slice2d(net, np.zeros(2), [1, 0], [0, 1])
    assert s.count == 2
    np.testing.assert_allclose(sorted(s.areas), [2, 2], rtol=1e-12)
    wide = slice2d(_relu_lines([[1, 0], [1, 0]], [0, -1e-3]), np.zeros(2), [1, 0], [0, 1])
    assert wide.count == 3
