"""Activation patterns: indicators per node, keys, and tie reporting."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings

import plnet
from plnet.testing import strategies as pst


@settings(max_examples=40)
@given(pst.network_and_points(batch_size=3))
def test_the_pattern_matches_the_linearization_and_keys_identify_it(net_x):
    net, x = net_x
    pattern = plnet.activation_pattern(net, x)
    lin = plnet.linearize(net, x)
    assert pattern.batch_size == 3
    assert list(pattern.indicators) == net.pattern_nodes()
    for node, indicator in pattern.indicators.items():
        np.testing.assert_array_equal(indicator, lin.indicators[node])
    assert pattern.tie_units.shape == (3, net.num_units)
    assert pattern.keys() == lin.pattern_keys()
    doubled = plnet.activation_pattern(net, np.concatenate([x, x]))
    assert doubled.keys()[:3] == doubled.keys()[3:] == pattern.keys()


def test_relu_indicators_are_strictly_positive_pre_activations():
    b = plnet.NetworkBuilder((3,))
    net = b.build(b.relu(b.input, name="r"))
    pattern = plnet.activation_pattern(net, np.array([[1.0, 0.0, -1.0], [2.0, 3.0, 4.0]]))
    assert pattern.indicators["r"].tolist() == [[True, False, False], [True, True, True]]
    assert pattern.ties.tolist() == [True, False]
    assert pattern.tie_units.tolist() == [[False, True, False], [False, False, False]]
    keys = pattern.keys()
    assert keys[0] != keys[1]


def test_a_network_without_pattern_ops_has_one_empty_pattern():
    b = plnet.NetworkBuilder((2,))
    net = b.build(b.dense(b.input, np.ones((1, 2))))
    pattern = plnet.activation_pattern(net, np.ones((2, 2)))
    assert pattern.indicators == {} and pattern.keys() == [b"", b""]
    assert pattern.tie_units.shape == (2, 0) and not pattern.ties.any()
