"""The batch-reducing analyses split the batch to a memory budget with identical results."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

import plnet
from plnet.analysis.budget import bytes_per_point
from plnet.errors import MemoryBudgetError
from plnet.testing import strategies as pst


@given(pst.network_and_points(batch_size=5))
def test_chunked_analyses_equal_one_chunk(net_x):
    net, x = net_x
    one = bytes_per_point(net)  # one point per chunk; BLAS rounds by batch shape, hence rtol
    for p in (1, 2, np.inf):
        np.testing.assert_allclose(plnet.margin(net, x, p, budget=one), plnet.margin(net, x, p),
                                   rtol=1e-12)
    v = np.ones(net.input_shape)
    np.testing.assert_allclose(plnet.directional_margin(net, x, v, budget=one),
                               plnet.directional_margin(net, x, v), rtol=1e-12)
    if not plnet.linearize(net, x).ties.any():
        assert tuple(plnet.count_linear_regions(net, x, budget=one)) == tuple(
            plnet.count_linear_regions(net, x))


def test_the_environment_budget_splits_the_batch(monkeypatch):
    b = plnet.NetworkBuilder((3,))
    net = b.build(b.dense(b.relu(b.dense(b.input, np.eye(3), np.ones(3))), np.ones((1, 3))))
    x = np.random.default_rng(0).normal(size=(7, 3))
    whole = plnet.l1_margin_bisection(net, x)
    monkeypatch.setenv("PLNET_MEMORY_BUDGET", "1")
    with pytest.raises(MemoryBudgetError, match="budget= argument"):
        plnet.margin(net, x)
    monkeypatch.setenv("PLNET_MEMORY_BUDGET", str(bytes_per_point(net) + 8 * 100))
    np.testing.assert_allclose(plnet.l1_margin_bisection(net, x).lower, whole.lower, rtol=1e-12)


def test_linearize_out_of_memory_says_what_it_needed():
    d = 4000
    b = plnet.NetworkBuilder((d,))
    net = b.build(b.relu(b.dense(b.input, np.zeros((d, d)))))
    with pytest.raises(MemoryBudgetError, match="smaller batches") as info:
        plnet.linearize(net, np.zeros((4000, d)))  # [B, N, D] is 477 GiB
    assert info.value.needed_bytes >= 4000 * d * d * 8


def test_tensors_before_the_first_pattern_op_cost_no_memory_per_point():
    rng = np.random.default_rng(0)
    b = plnet.NetworkBuilder((50,))
    wide = b.dense(b.input, rng.normal(size=(400, 50)))  # shared by every point: batch axis 1
    h = b.relu(b.dense(wide, rng.normal(size=(3, 400))))
    net = b.build(b.dense(h, rng.normal(size=(2, 3))))
    # per point: 3 unit gradients, the ReLU's and the output's Jacobians (3 + 2 rows of D)
    assert bytes_per_point(net) == 8 * 50 * (3 + (3 + 2) + 2)
