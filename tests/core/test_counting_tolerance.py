"""Lemma 7's lower bound merges Jacobians equal up to round-off, and never splits them."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import plnet
from plnet.analysis import RegionCounter
from plnet.analysis.counting import distinct_jacobians

# 2.001e-6 sits on an edge of a 2e-9 grid (the old rounding of 1e-9 * (1 + max|J|)):
# a Jacobian one side of it and one a few ulps away on the other side were counted as two
EDGE = 2e-9 * 1000.5


def test_jacobians_a_few_ulps_apart_count_as_one_region():
    a = np.array([[1.0, EDGE]])
    b = np.array([[1.0, np.nextafter(np.nextafter(EDGE, 1.0), 1.0)]])
    counter = RegionCounter()
    counter.add_points([b"pattern-a", b"pattern-b"], np.stack([a, b]), np.zeros(2, bool))
    assert tuple(counter.result()) == (1, 2)


def test_clearly_different_jacobians_count_as_two_regions():
    counter = RegionCounter()
    jac = np.stack([np.array([[1.0, 2.0]]), np.array([[1.0, 2.001]])])
    counter.add_points([b"a", b"b"], jac, np.zeros(2, bool))
    assert tuple(counter.result()) == (2, 2)


@given(st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_round_off_never_raises_the_count(k, seed):
    rng = np.random.default_rng(seed)
    distinct = rng.normal(size=(k, 2, 3))
    copies = [j * (1 + rng.uniform(-4, 4, size=j.shape) * np.finfo(float).eps)
              for j in distinct for _ in range(3)]
    assert distinct_jacobians(copies) == k


def test_the_bounds_of_a_network_stay_ordered():
    b = plnet.NetworkBuilder((2,))
    net = b.build(b.dense(b.relu(b.dense(b.input, np.eye(2))), np.ones((1, 2))))
    lo, hi = plnet.count_linear_regions(net, np.array([[1.0, 1.0], [-1.0, 1.0], [-1, -1.0]]))
    assert (lo, hi) == (3, 3)
