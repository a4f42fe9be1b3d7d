"""Max, Min and Mean of tensors and constants (broadcasting), and Neg, one node each."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import helper

import plnet

SHAPES = {"x": [None, 3, 4], "a": [None, 3, 4], "row": [None, 1, 4], "col": [None, 3, 1]}


def _model(ox, op, inputs, consts=None, opset=13):
    """``op`` of the named inputs (network inputs from SHAPES, else constants)."""
    node = helper.make_node(op, inputs, ["y"], name="the_op")
    graph_inputs = [(n, SHAPES[n]) for n in dict.fromkeys(inputs) if n in SHAPES]
    return ox.make_model([node], graph_inputs, "y", consts, opset=opset)


RNG = np.random.default_rng(0)
CONSTS = {"c": RNG.standard_normal(4).astype(np.float32),
          "k": RNG.standard_normal((3, 1)).astype(np.float32),
          "s": np.float32(0.25), "w": RNG.standard_normal((1, 3, 4)).astype(np.float32)}


@pytest.mark.parametrize("op", ["Max", "Min", "Mean"])
@pytest.mark.parametrize("inputs", [["x", "a"], ["x", "row"], ["col", "x", "row"],
                                    ["x", "w"], ["x", "c"], ["k", "x"], ["x", "s", "c"],
                                    ["x", "a", "c"], ["x"]])
@pytest.mark.parametrize("opset", [8, 13])
def test_elementwise_extremes_and_mean_broadcast_like_onnxruntime(ox, op, inputs, opset):
    consts = {k: v for k, v in CONSTS.items() if k in inputs}
    net = ox.convert_and_compare(_model(ox, op, inputs, consts, opset))
    assert net.output_shape == (3, 4)


@pytest.mark.parametrize("op", ["Max", "Min"])
def test_max_and_min_are_exact_relu_macros_with_one_unit_per_pair_and_entry(ox, op):
    net = ox.convert_and_compare(_model(ox, op, ["x", "a", "c"], {"c": CONSTS["c"]}))
    x = ox.random_batch(np.random.default_rng(2), net)
    assert plnet.linearize(net, x).z.shape[1] == 2 * 12  # two pairs, 12 entries each


def test_max_of_a_tensor_and_itself_minus_one_picks_the_tensor(ox):
    sub = helper.make_node("Sub", ["x", "one"], ["xm"])
    node = helper.make_node("Max", ["x", "xm"], ["y"])
    model = ox.make_model([sub, node], [("x", [None, 3])], "y", {"one": np.float32(1.0)})
    net = ox.convert_and_compare(model)
    x = np.array([[0.5, -2.0, 3.0]])
    np.testing.assert_array_equal(net(x), x)
    np.testing.assert_array_equal(plnet.linearize(net, x).jacobian[0], np.eye(3))


@pytest.mark.parametrize("opset", [7, 13])
def test_neg(ox, opset):
    ox.convert_and_compare(ox.one_node("Neg", [None, 2, 3], opset=opset))


def test_reciprocal_of_a_tensor_is_not_piecewise_linear(ox):
    with pytest.raises(plnet.NotPiecewiseLinearError, match="'the_reciprocal'.*Reciprocal"):
        plnet.from_onnx(ox.one_node("Reciprocal", [None, 3]))


def test_division_by_a_reciprocal_constant_is_a_scale(ox):
    recip = helper.make_node("Reciprocal", ["c"], ["r"])
    div = helper.make_node("Div", ["x", "r"], ["y"])
    model = ox.make_model([recip, div], [("x", [None, 3])], "y",
                          {"c": np.array([2.0, -4.0, 0.5], np.float32)})
    net = ox.convert_and_compare(model)
    np.testing.assert_allclose(net(np.ones((1, 3))), [[2.0, -4.0, 0.5]])


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(op=st.sampled_from(["Max", "Min", "Mean"]), data=st.data())
def test_any_broadcast_of_tensors_and_a_constant_matches_onnxruntime(ox, op, data):
    full = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3), label="shape")

    def operand_shape(label):  # the full shape with some axes of size 1
        ones = data.draw(st.lists(st.booleans(), min_size=len(full), max_size=len(full)),
                         label=label)
        return [1 if one else d for one, d in zip(ones, full)]

    count = data.draw(st.integers(1, 3), label="tensors")
    names = [f"t{i}" for i in range(count)]
    shapes = [full] + [operand_shape(f"shape{i}") for i in range(1, count)]
    inputs, consts = list(names), {}
    if data.draw(st.booleans(), label="with a constant"):
        cshape = operand_shape("constant")[data.draw(st.integers(0, len(full)), label="drop"):]
        consts["c"] = np.random.default_rng(0).standard_normal(cshape).astype(np.float32)
        inputs.insert(data.draw(st.integers(0, count), label="at"), "c")
    node = helper.make_node(op, inputs, ["y"])
    model = ox.make_model([node], [(n, [None] + s) for n, s in zip(names, shapes)], "y",
                          consts)
    assert ox.convert_and_compare(model).output_shape == tuple(full)
