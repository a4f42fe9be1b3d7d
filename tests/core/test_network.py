"""Network: validation, shapes, unit counts, copies, read-only parameters, display."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings

import plnet
from plnet.errors import InvalidInputError
from plnet.testing import strategies as pst


@settings(max_examples=50)
@given(pst.networks())
def test_order_is_topological_and_shapes_match_the_forward(net):
    position = {n: i for i, n in enumerate(net.order)}
    assert set(net.order) == set(net.graph)
    assert all(position[u] < position[v] for u, v in net.graph.edges)
    assert net.order[0] == net.input_name
    assert net.input_size == math.prod(net.input_shape) <= 64
    x = np.random.default_rng(0).normal(size=(2,) + net.input_shape)
    assert net(x).shape == (2,) + net.output_shape
    assert net.pattern_nodes() == [n for n in net.order if net.op(n).carries_pattern]
    assert net.num_units == sum(net.unit_counts().values()) == plnet.linearize(net, x).z.shape[1]
    for name in net.order:
        inputs = net.inputs_of(name)
        slots = [net.graph.edges[u, name]["slot"] for u in inputs]
        assert slots == list(range(len(inputs)))


@settings(max_examples=25)
@given(pst.networks())
def test_copies_and_parameter_swaps_are_independent(net):
    twin = net.copy()
    assert twin.to_dict() == net.to_dict() and twin.graph is not net.graph
    name = sorted(net.params)[0] if net.params else None
    if name is None:
        return
    changed = net.with_params({name: net.params[name] + 1.0})
    np.testing.assert_array_equal(changed.params[name], net.params[name] + 1.0)
    assert changed.graph is not net.graph


def test_parameters_are_read_only_float64():
    b = plnet.NetworkBuilder((2,))
    net = b.build(b.dense(b.input, np.ones((1, 2), dtype=np.int32)))
    weight = net.params["dense_1.weight"]
    assert weight.dtype == np.float64
    with pytest.raises(ValueError):
        weight[0, 0] = 5.0
    with pytest.raises(InvalidInputError, match=r"unknown parameter names \['nope'\]"):
        net.with_params({"nope": np.ones(1)})


def test_unit_counts_per_node():
    b = plnet.NetworkBuilder((2, 6))
    h = b.relu(b.conv(b.input, np.ones((3, 2, 3)), name="c"), name="r")
    p = b.max_pool(h, 2, name="m")  # [3, 4] -> [3, 2], windows of 2: one row each
    net = b.build(b.leaky_relu(b.flatten(p), 0.2, name="l"))
    assert net.unit_counts() == {"r": 12, "m": 6, "l": 6}
    assert net.num_units == 24
    assert "units N=24" in net.summary()
    assert repr(net) == "Network(6 nodes, input (2, 6), output (6,), N=24)"
    rows = net.summary_rows()
    assert [r[0] for r in rows] == net.order and rows[-1][4] == 6


def test_the_output_may_be_any_node_and_an_input_only_network_is_allowed():
    b = plnet.NetworkBuilder((3,))
    r = b.relu(b.input, name="r")
    net = b.build(r)
    assert net.output == "r" and net.output_shape == (3,)
    g = nx.DiGraph()
    g.add_node("x", op=plnet.ops.Input((2,)))
    identity = plnet.Network(g, {}, "x")
    np.testing.assert_array_equal(identity(np.ones((1, 2))), np.ones((1, 2)))
    assert identity.num_units == 0


def test_an_input_used_twice_feeds_both_slots(tmp_path):
    # x + x: a DiGraph holds one edge per pair, which then carries both slots
    b = plnet.NetworkBuilder((3,))
    h = b.relu(b.input)
    out = b.add(h, h, b.input)
    net = b.build(out)
    assert net.inputs_of(out) == [h, h, b.input]
    x = np.array([[1.0, -2.0, 3.0]])
    np.testing.assert_array_equal(net(x), [[3.0, -2.0, 9.0]])
    np.testing.assert_array_equal(plnet.linearize(net, x).jacobian[0], np.diag([3.0, 1.0, 3.0]))
    net.save(tmp_path / "net.npz")
    np.testing.assert_array_equal(plnet.load(tmp_path / "net.npz")(x), net(x))
