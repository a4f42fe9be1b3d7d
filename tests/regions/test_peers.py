"""plnet's slices and local search against Regioncam and Relucent on random MLPs.

Both peers are test dependencies (the ``test`` extra); Relucent needs Python 3.11 or later,
so on older Pythons its comparisons are skipped, and only there.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from plnet.regions import explore, slice2d
from plnet.analysis import activation_pattern
from plnet.regions.peers import random_mlp, regioncam_faces, relucent_patterns

#: Regioncam computes in float32: a region smaller than this it may lose, or it may split a
#: sliver off a region (seen: 4e-15 and 2e-14 on 64x4 and 32x3 nets)
FLOAT32_SLIVER = 1e-12

NEEDS_RELUCENT = pytest.mark.skipif(sys.version_info < (3, 11),
                                    reason="relucent needs Python >= 3.11; it cannot be "
                                           "installed here")


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
@pytest.mark.parametrize("hidden, seed", [((8,), 0), ((16, 16), 1), ((32, 32, 32), 2),
                                          ((64, 64, 64, 64), 3), ((32, 32, 32), 105),
                                          ((64, 64, 64, 64), 100)])
def test_slice_counts_equal_regioncams(hidden, seed, activation):
    net, layers = random_mlp((2, *hidden, 3), seed, activation)
    s = slice2d(net, np.zeros(2), [1.0, 0.0], [0.0, 1.0])
    points, areas = regioncam_faces(layers, activation)
    slivers = int((s.areas < FLOAT32_SLIVER).sum() + (areas < FLOAT32_SLIVER).sum())
    assert abs(s.count - len(areas)) <= slivers
    if slivers == 0:
        assert s.count == len(areas)
    # region by region: every face of Regioncam's is one of ours, and the other way round
    theirs = activation_pattern(net, points[areas >= FLOAT32_SLIVER]).keys()
    assert len(set(theirs)) == len(theirs)
    ours = dict(zip(s.patterns, s.areas))
    assert set(theirs) <= set(ours)
    assert {k for k, a in ours.items() if a >= 10 * FLOAT32_SLIVER} <= set(theirs)
    np.testing.assert_allclose(s.areas.sum(), 4.0, rtol=1e-12)


@NEEDS_RELUCENT
@pytest.mark.parametrize("widths, seed", [((2, 8, 8, 2), 0),
                                         pytest.param((3, 6, 5, 2), 1, marks=pytest.mark.slow)])
def test_explore_finds_relucents_regions(widths, seed):
    net, layers = random_mlp(widths, seed)
    found = explore(net, np.zeros(widths[0]), 1.0, p=np.inf)
    assert found.graph["complete"]
    theirs = relucent_patterns(layers, 1.0, net)
    assert len(theirs) == len(set(theirs))
    assert set(found.nodes) == set(theirs)
    if widths[0] == 2:  # the l_inf ball of radius 1 is the slice's box
        assert slice2d(net, np.zeros(2), [1, 0], [0, 1]).count == len(theirs)
