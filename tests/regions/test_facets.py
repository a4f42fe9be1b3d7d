"""Facets on hand-made regions: duplicate hyperplanes, zero rows, unbounded regions."""

from __future__ import annotations

import numpy as np

import plnet
from plnet.regions import facets


def test_duplicate_units_give_one_facet_with_both_rows():
    b = plnet.NetworkBuilder((2,))
    w = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])  # rows 0 and 1: one hyperplane x0 = 0
    net = b.build(b.relu(b.dense(b.input, w, np.zeros(3))))
    found = facets(net, np.array([0.5, 0.25]))
    assert sorted(found.rows.tolist()) == [0, 2]
    assert sorted(found.coincident[list(found.rows).index(0)].tolist()) == [0, 1]


def test_unbounded_region_keeps_its_only_facet_and_drops_dead_rows():
    b = plnet.NetworkBuilder((2,))
    w = np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    net = b.build(b.relu(b.dense(b.input, w, np.array([0.0, 1.0, -3.0]))))
    found = facets(net, np.array([1.0, 5.0]))  # 0 < x0 < 3: two facets, zero row dropped
    assert sorted(found.rows.tolist()) == [0, 2]
    assert found.units[0] == (net.pattern_nodes()[0], 0)
    np.testing.assert_allclose(found.distances, [1.0, 2.0])
