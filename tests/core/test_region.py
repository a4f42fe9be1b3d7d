"""The region S(x) as halfspaces: one row per unit; max pooling's comparison rows (App. E)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import plnet
from plnet.errors import ShapeError
from plnet.testing import strategies as pst


@settings(max_examples=50)
@given(pst.network_and_points(batch_size=1))
def test_the_region_has_one_row_per_unit_and_contains_its_point(net_x):
    net, x = net_x
    poly = plnet.region(net, x[0])
    lin = plnet.linearize(net, x)
    assert len(poly) == net.num_units == sum(net.unit_counts().values())
    assert poly.A.shape == (net.num_units, net.input_size)
    assert poly.contains(x[0])[0] and poly.contains(x)[0]
    np.testing.assert_allclose(poly.slack(x[0])[0], lin.slack[0], rtol=1e-9, atol=1e-9)
    assert poly.unit_slices == lin.unit_slices
    assert np.array_equal(plnet.region(net, x).A, poly.A)
    for node, rows in poly.unit_slices.items():
        assert rows.stop - rows.start == net.unit_counts()[node]


def pooled(shape, x_values, **pool):
    b = plnet.NetworkBuilder(shape)
    net = b.build(b.max_pool(b.input, **pool))
    return net, plnet.region(net, np.asarray(x_values, dtype=float).reshape(shape))


def comparison_rows(pairs, d):
    rows = np.zeros((len(pairs), d))
    for r, (sel, other) in enumerate(pairs):
        rows[r, sel], rows[r, other] = 1.0, -1.0
    return rows


def test_a_1d_max_pool_adds_n_minus_1_comparison_rows_per_output():
    # windows [0, 1], [2, 3] and, with ceil_mode, the partial window [4] (no row)
    net, poly = pooled((1, 5), [1, 3, 2, 0, 5], kernel=2, ceil_mode=True)
    assert net.output_shape == (1, 3) and net.num_units == 2
    np.testing.assert_array_equal(poly.A, comparison_rows([(1, 0), (2, 3)], 5))
    np.testing.assert_array_equal(poly.b, [0.0, 0.0])


def test_a_2d_max_pool_window_adds_three_rows_from_the_selected_position():
    net, poly = pooled((1, 2, 2), [[1, 2], [4, 3]], kernel=2)
    assert net.num_units == 3
    np.testing.assert_array_equal(poly.A, comparison_rows([(2, 0), (2, 1), (2, 3)], 4))


def test_padding_and_dilation_only_compare_positions_inside_the_input():
    # kernel 3, padding 1, length 3: windows {0, 1}, {0, 1, 2}, {1, 2}: 1 + 2 + 1 rows
    net, poly = pooled((2, 3), [[0, 5, 1], [7, 6, 8]], kernel=3, stride=1, padding=1)
    assert net.num_units == 2 * 4
    want = comparison_rows([(1, 0), (1, 0), (1, 2), (1, 2),
                            (3, 4), (5, 3), (5, 4), (5, 4)], 6)
    np.testing.assert_array_equal(poly.A, want)
    # dilation 2 on length 4: windows {0, 2} and {1, 3}
    net, poly = pooled((1, 4), [0, 1, 2, -1], kernel=2, stride=1, dilation=2)
    np.testing.assert_array_equal(poly.A, comparison_rows([(2, 0), (1, 3)], 4))


def test_max_pool_rows_after_a_dense_layer_are_differences_of_weight_rows():
    # Appendix E: S(x) = {y : (W_i - W_j) y + b_i - b_j >= 0} for the selected i
    w = np.array([[1.0, 2.0], [-1.0, 0.5], [0.3, -2.0]])
    bias = np.array([0.1, 0.2, -0.3])
    b = plnet.NetworkBuilder((2,))
    h = b.reshape(b.dense(b.input, w, bias), (1, 3))
    net = b.build(b.max_pool(h, 3))
    x = np.array([1.0, 1.0])  # z = (3.1, -0.3, -2.0): the first wins
    poly = plnet.region(net, x)
    np.testing.assert_allclose(poly.A, [w[0] - w[1], w[0] - w[2]])
    np.testing.assert_allclose(poly.b, [bias[1] - bias[0], bias[2] - bias[0]])
    assert poly.contains(x)[0] and not poly.contains([-1.0, -1.0])[0]


def test_equal_maxima_are_a_tie_and_pick_the_first_slot():
    b = plnet.NetworkBuilder((1, 4))
    net = b.build(b.max_pool(b.input, 2))
    pattern = plnet.activation_pattern(net, np.array([[[2.0, 2.0, 1.0, 3.0]]]))
    assert pattern.ties.tolist() == [True]
    assert pattern.tie_units.tolist() == [[True, False]]
    assert pattern.indicators[net.pattern_nodes()[0]].tolist() == [[[0, 1]]]
    assert plnet.margin(net, np.array([[[2.0, 2.0, 1.0, 3.0]]]), 2)[0] == 0.0


def test_relu_rows_are_the_signed_pre_activation_gradients():
    w = np.array([[1.0, -1.0], [2.0, 0.0]])
    b = plnet.NetworkBuilder((2,))
    net = b.build(b.relu(b.dense(b.input, w, np.array([0.0, -1.0]))))
    poly = plnet.region(net, np.array([1.0, 0.0]))  # z = (1, 1): both active
    np.testing.assert_array_equal(poly.A, w)
    np.testing.assert_array_equal(poly.b, [0.0, 1.0])
    poly = plnet.region(net, np.array([-1.0, 0.0]))  # z = (-1, -3): both inactive
    np.testing.assert_array_equal(poly.A, -w)
    assert poly.contains(np.array([[-5.0, 0.0], [0.0, 0.0], [0.6, 0.0]])).tolist() == [
        True, True, False]
    assert poly.nonzero_rows().all()


def test_region_refuses_several_points_and_misshapen_queries():
    b = plnet.NetworkBuilder((2,))
    net = b.build(b.relu(b.input))
    with pytest.raises(ShapeError, match="region takes one point of shape \\(2,\\)"):
        plnet.region(net, np.ones((2, 2)))
    with pytest.raises(ShapeError, match="do not fit a region over inputs \\(2,\\)"):
        plnet.region(net, np.ones(2)).contains(np.ones(3))
