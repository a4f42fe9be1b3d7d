"""Bad input raises the right plnet error, with a message naming what is wrong."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

import plnet
from plnet.errors import (GraphError, InvalidInputError, MissingDependencyError, PlnetError,
                          SerializationError, ShapeError, require)
from plnet.ops import Add, Dense, Input, Op, ReLU


def small_net():
    b = plnet.NetworkBuilder((2,))
    return b.build(b.dense(b.relu(b.dense(b.input, np.eye(2), np.ones(2))), np.ones((1, 2))))


def graph(*nodes, edges=()):
    g = nx.DiGraph()
    for name, op in nodes:
        g.add_node(name, op=op)
    for u, v, slot in edges:
        g.add_edge(u, v, slot=slot)
    return g


def test_every_error_is_a_plnet_error_and_a_builtin_category():
    assert issubclass(ShapeError, ValueError) and issubclass(ShapeError, PlnetError)
    assert issubclass(GraphError, PlnetError) and issubclass(SerializationError, PlnetError)
    assert issubclass(MissingDependencyError, ImportError)
    assert issubclass(plnet.NotPiecewiseLinearError, plnet.UnsupportedOpError)


@pytest.mark.parametrize("bad, message", [
    (np.ones((3,)), r"x has shape \(3,\); expected \[B, \*\(2,\)\] with the batch first"),
    (np.ones(2), r"for a single point, pass x\[None\]"),
    (np.ones((1, 2, 1)), r"x has shape \(1, 2, 1\)"),
])
def test_wrongly_shaped_inputs_are_refused(bad, message):
    net = small_net()
    for analysis in (net, lambda x: plnet.linearize(net, x), lambda x: plnet.margin(net, x)):
        with pytest.raises(ShapeError, match=message):
            analysis(bad)


@pytest.mark.parametrize("bad, message", [
    (np.array([["a", "b"]]), "x has dtype <U1; expected real numbers"),
    (np.array([[1 + 1j, 0]]), "x has dtype complex128"),
    (np.array([[1.0, np.nan]]), r"x holds NaN or inf \(first at index \(0, 1\)\)"),
    (np.array([[np.inf, 0.0], [0, 0]]), r"x holds NaN or inf \(first at index \(0, 0\)\)"),
    (np.zeros((0, 2)), r"x is an empty batch \(B = 0\)"),
])
def test_malformed_inputs_are_refused(bad, message):
    with pytest.raises(InvalidInputError, match=message):
        plnet.activation_pattern(small_net(), bad)


def test_an_empty_dataset_is_refused_by_counting():
    with pytest.raises(InvalidInputError, match=r"X is an empty batch"):
        plnet.count_linear_regions(small_net(), np.zeros((0, 2)))


def test_non_finite_weights_are_refused_naming_the_parameter():
    b = plnet.NetworkBuilder((2,))
    with pytest.raises(InvalidInputError, match=r"parameter 'fc.weight' holds NaN or inf "
                                                r"\(first at index \(1, 0\)\)"):
        b.dense(b.input, np.array([[1.0, 2.0], [np.inf, 0.0]]), name="fc")
    net = small_net()
    name = sorted(net.params)[0]
    with pytest.raises(InvalidInputError, match=f"parameter '{name}' holds NaN"):
        net.with_params({name: np.full(net.params[name].shape, np.nan)})
    with pytest.raises(InvalidInputError, match="parameter 'w' has dtype <U1"):
        plnet.Network(graph(("x", Input((2,))), ("d", Dense("w")), edges=[("x", "d", 0)]),
                      {"w": np.array([["a", "b"]])}, "d")


@pytest.mark.parametrize("p", [3, 0.5, 0, "l2", None, -1])
def test_unsupported_norms_are_refused(p):
    net = small_net()
    with pytest.raises(InvalidInputError, match=f"p must be 1, 2 or inf, got {p!r}"):
        plnet.margin(net, np.ones((1, 2)), p)


def test_zero_and_malformed_directions_are_refused():
    net = small_net()
    x = np.ones((2, 2))
    with pytest.raises(InvalidInputError, match="a direction is the zero vector"):
        plnet.directional_margin(net, x, np.zeros(2))
    with pytest.raises(InvalidInputError, match="a direction is the zero vector"):
        plnet.directional_margin(net, x, np.array([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(InvalidInputError, match=r"directions of shape \(3,\)"):
        plnet.directional_margin(net, x, np.ones(3))
    with pytest.raises(InvalidInputError, match="directions hold NaN or inf"):
        plnet.directional_margin(net, x, np.array([np.nan, 1.0]))


def test_a_cycle_is_refused_naming_its_nodes():
    g = graph(("x", Input((2,))), ("a", Add()), ("r", ReLU()),
              edges=[("x", "a", 0), ("r", "a", 1), ("a", "r", 0)])
    with pytest.raises(GraphError, match=r"cycle through nodes .*'a'.*acyclic"):
        plnet.Network(g, {}, "r")


def test_several_inputs_are_refused():
    g = graph(("x", Input((2,))), ("y", Input((2,))), ("a", Add()),
              edges=[("x", "a", 0), ("y", "a", 1)])
    with pytest.raises(GraphError, match=r"exactly one input node, found 2: \['x', 'y'\]"):
        plnet.Network(g, {}, "a")


def test_several_outputs_and_dangling_nodes_are_refused():
    g = graph(("x", Input((2,))), ("r", ReLU()), ("s", ReLU()),
              edges=[("x", "r", 0), ("x", "s", 0)])
    with pytest.raises(GraphError, match=r"node 's' \(relu\) is not used by any node and is not "
                                         r"the output 'r'"):
        plnet.Network(g, {}, "r")
    with pytest.raises(GraphError, match="the output node 'missing' is not in the graph"):
        plnet.Network(graph(("x", Input((2,)))), {}, "missing")


def test_malformed_edges_and_nodes_are_refused():
    g = graph(("x", Input((2,))), ("r", ReLU()), edges=[("x", "r", 3)])
    with pytest.raises(GraphError, match=r"node 'r' \(relu\) has input slots \[3\]"):
        plnet.Network(g, {}, "r")
    g = graph(("x", Input((2,))), ("r", "relu"), edges=[("x", "r", 0)])
    with pytest.raises(GraphError, match="node 'r' has no 'op' attribute"):
        plnet.Network(g, {}, "r")
    g = graph(("x", Input((2,))), ("d", Dense("w")), edges=[("x", "d", 0)])
    with pytest.raises(GraphError, match="node 'd' \\(dense\\) refers to parameter 'w', which "
                                         "is not in the parameter store"):
        plnet.Network(g, {}, "d")


def test_shape_errors_name_the_node_and_what_was_expected():
    b = plnet.NetworkBuilder((2,))
    with pytest.raises(ShapeError, match=r"node 'fc' \(dense\): dense weight 'fc.weight' is "
                                         r"\(3, 4\) \(\[out, in\]\) but the input's per-sample "
                                         r"shape is \(2,\)"):
        b.dense(b.input, np.ones((3, 4)), name="fc")
    with pytest.raises(ShapeError, match=r"add input 1 has shape \(3,\), input 0 has \(2,\)"):
        b.add(b.input, b.dense(b.input, np.ones((3, 2))))
    with pytest.raises(ShapeError, match=r"conv with a 1-d kernel needs per-sample input"):
        b.conv(b.input, np.ones((1, 1, 2)))
    with pytest.raises(ShapeError, match=r"cannot reshape per-sample \(2,\) to \(3,\)"):
        b.reshape(b.input, (3,))


def test_non_piecewise_linear_choices_are_refused():
    b = plnet.NetworkBuilder((2, 2))
    with pytest.raises(InvalidInputError, match="tanh is not piecewise linear"):
        b.rnn(b.input, np.ones((2, 2)), np.ones((2, 2)), nonlinearity="tanh")
    with pytest.raises(InvalidInputError, match="leaky_relu alpha must be finite"):
        b.leaky_relu(b.input, float("nan"))


def test_deserializing_an_unknown_op_names_it():
    with pytest.raises(SerializationError, match=r"unknown op type 'sigmoid'; known: \["):
        Op.from_dict({"type": "sigmoid"})
    with pytest.raises(SerializationError, match=r"op 'relu' has unknown attributes \['beta'\]"):
        Op.from_dict({"type": "relu", "beta": 1.0})


def test_a_missing_optional_dependency_names_the_extra():
    with pytest.raises(MissingDependencyError, match=r"pip install \"plnet\[exact\]\""):
        require("plnet_no_such_module", "exact", "the ball check")


def test_a_missing_solver_is_reported_with_what_to_install(monkeypatch):
    cp = pytest.importorskip("cvxpy")
    from plnet import exact

    monkeypatch.setattr(cp, "installed_solvers", lambda: ["SCS"])
    with pytest.raises(MissingDependencyError, match="HIGHS.*pip install highspy"):
        exact.verify_ball(small_net(), np.ones(2), 0.1, p=1)
    with pytest.raises(MissingDependencyError, match="CLARABEL.*pip install clarabel"):
        exact.facet_distances(small_net(), np.ones(2), p=2)


def test_strategy_options_that_make_no_sense_are_refused():
    pytest.importorskip("hypothesis")
    from plnet.testing import strategies as pst

    with pytest.raises(InvalidInputError, match=r"unknown families \['transformer'\]"):
        pst.networks(families=["transformer"])
    with pytest.raises(InvalidInputError, match=r"unknown op types \['softmax'\]"):
        pst.networks(ops=["dense", "softmax"])
    with pytest.raises(InvalidInputError, match=r"min_units > 0 needs one of .*'prelu'.*'relu'"):
        pst.networks(ops=["dense"])
