"""Neighbours on hand-made networks: max-pool crossings and maps affine across a facet."""

from __future__ import annotations

import numpy as np

import plnet
from plnet.regions import neighbours


def test_a_max_pool_facet_moves_the_argmax_to_the_compared_position():
    b = plnet.NetworkBuilder((1, 3))
    net = b.build(b.max_pool(b.input, (3,)))
    x = np.array([[0.0, 2.0, 1.0]])
    found = neighbours(net, x)
    winners = sorted(int(plnet.activation_pattern(net, n.point[None]).indicators[
        net.pattern_nodes()[0]].ravel()[0]) for n in found)
    assert winners == [0, 2]  # either other position can win; slot 1 won at x
    assert not any(n.affine_across for n in found)


def test_a_unit_that_changes_nothing_downstream_is_affine_across():
    b = plnet.NetworkBuilder((2,))
    h = b.relu(b.dense(b.input, np.eye(2), np.zeros(2)))
    net = b.build(b.dense(h, np.array([[1.0, 0.0]]), np.zeros(1)))  # unit 1 is ignored
    found = neighbours(net, np.array([1.0, 1.0]))
    assert {n.unit[1]: n.affine_across for n in found} == {0: False, 1: True}


def test_a_unit_on_the_same_hyperplane_may_bend_instead_of_flipping():
    # relu(leaky(z)) with a negative slope: its row is z's on this side, but past z = 0 it
    # stays active (-0.2 z > 0): only the first unit on the hyperplane flips
    b = plnet.NetworkBuilder((2,))
    leaky = b.leaky_relu(b.dense(b.input, np.array([[1.0, 0.0]]), np.zeros(1)), alpha=-0.2)
    net = b.build(b.relu(b.concat(leaky, b.dense(b.input, np.array([[0.0, 1.0]]),
                                                   np.zeros(1)))))
    (across,) = [n for n in neighbours(net, np.array([1.0, 2.0])) if n.unit[1] == 0]
    pattern = plnet.activation_pattern(net, across.point[None]).indicators
    assert pattern[net.pattern_nodes()[0]].tolist() == [[False]]
    assert pattern[net.pattern_nodes()[1]].tolist() == [[True, True]]
