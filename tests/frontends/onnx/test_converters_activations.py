"""Activations and elementwise arithmetic as one-node models against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import plnet
from plnet.errors import NotPiecewiseLinearError

OPSETS = [7, 11, 13, 17]


@pytest.mark.parametrize("opset", OPSETS)
def test_relu_matches_onnxruntime_and_counts_one_unit_per_entry(ox, opset):
    net = ox.convert_and_compare(ox.one_node("Relu", [None, 3, 4], opset=opset))
    assert net.num_units == 12


@pytest.mark.parametrize("alpha", [0.01, 0.3, -0.5, 2.0])
def test_leaky_relu_keeps_alpha(ox, alpha):
    net = ox.convert_and_compare(ox.one_node("LeakyRelu", [None, 5], {"alpha": alpha}))
    (node,) = [n for n in net.order if net.op(n).type_name == "leaky_relu"]
    assert net.op(node).alpha == pytest.approx(alpha)


@pytest.mark.parametrize("lo,hi", [(0.0, 6.0), (-0.5, None), (None, 0.3), (-1.0, 1.0)])
@pytest.mark.parametrize("opset", [9, 13])
def test_clip_is_exact_with_relus(ox, lo, hi, opset):
    if opset < 11:
        attrs = {k: v for k, v in (("min", lo), ("max", hi)) if v is not None}
        model = ox.one_node("Clip", [None, 6], attrs, opset=opset)
    else:
        consts = {}
        node_inputs = ["x", "lo" if lo is not None else "", "hi" if hi is not None else ""]
        if lo is not None:
            consts["lo"] = np.float32(lo)
        if hi is not None:
            consts["hi"] = np.float32(hi)
        node = helper.make_node("Clip", node_inputs, ["y"])
        model = ox.make_model([node], [("x", [None, 6])], "y", consts, opset=opset)
    net = ox.convert_and_compare(model, batch=8)
    assert net.num_units == 6 * ((lo is not None) + (hi is not None))


@pytest.mark.parametrize("opset", [7, 13])
def test_abs_is_exact_with_two_relus(ox, opset):
    net = ox.convert_and_compare(ox.one_node("Abs", [None, 2, 3], opset=opset), batch=8)
    assert net.num_units == 2 * 6
    assert plnet.margin(net, np.array([[[1.0, -2.0, 0.5], [3.0, -0.25, 4.0]]]))[0] == 0.25


@pytest.mark.parametrize("attrs", [{}, {"alpha": 0.5, "beta": -0.25}])
def test_hard_sigmoid_is_an_exact_clip(ox, attrs):
    net = ox.convert_and_compare(ox.one_node("HardSigmoid", [None, 5], attrs), batch=16)
    assert {net.op(n).type_name for n in net.pattern_nodes()} == {"relu"}


PRELU_SLOPES = {  # ONNX input shape, slope shape (unidirectional numpy broadcasting)
    "scalar": ([None, 4], ()),
    "one": ([None, 4], (1,)),
    "per_feature": ([None, 4], (4,)),
    "per_channel_2d": ([None, 3, 2, 2], (3, 1, 1)),
    "per_channel_1d": ([None, 2, 5], (2, 1)),
    "per_column": ([None, 3, 2, 2], (2,)),
    "with_batch_axis": ([None, 3, 4], (1, 3, 4)),
}


@pytest.mark.parametrize("opset", [7, 9, 16, 17])
@pytest.mark.parametrize("case", sorted(PRELU_SLOPES))
def test_prelu_keeps_any_broadcastable_slope_as_a_parameter(ox, case, opset):
    in_shape, slope_shape = PRELU_SLOPES[case]
    rng = np.random.default_rng(3)
    slope = rng.choice([-0.5, 0.25, 1.5, 3.0], size=slope_shape).astype(np.float32)
    net = ox.convert_and_compare(ox.one_node("PRelu", in_shape, consts={"s": slope},
                                             opset=opset))
    (node,) = net.pattern_nodes()
    op = net.op(node)
    assert op.type_name == "prelu"
    stored = net.params[op.slope]
    assert stored.size == slope.size and np.allclose(stored.ravel(), slope.ravel())


def test_prelu_slope_that_does_not_broadcast_is_a_shape_error(ox):
    model = ox.one_node("PRelu", [None, 3, 4], consts={"s": np.float32([0.1, 0.2, 0.3])})
    with pytest.raises(plnet.ShapeError, match="the_prelu"):
        plnet.from_onnx(model)


CONSTANT_SHAPES = [(), (1,), (4,), (3, 1), (1, 3, 4), (2, 1, 3, 4)]


# constant / x is not piecewise linear: tested separately below
@pytest.mark.parametrize("op,constant_first", [
    (op, first) for op in ("Add", "Sub", "Mul", "Div") for first in (False, True)
    if not (op == "Div" and first)])
@pytest.mark.parametrize("shape", CONSTANT_SHAPES)
def test_arithmetic_with_a_constant_broadcasts_like_numpy(ox, op, shape, constant_first):
    rng = np.random.default_rng(1)
    c = (rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1, 1], size=shape)).astype(np.float32)
    inputs = ["c", "x"] if constant_first else ["x", "c"]
    node = helper.make_node(op, inputs, ["y"])
    # the file fixes the batch at 1: a constant with a leading 2 makes two rows per sample
    ox.convert_and_compare(ox.make_model([node], [("x", [1, 3, 4])], "y", {"c": c}), batch=4)
    ox.convert_and_compare(ox.make_model([node], [("x", [None, 3, 4])], "y", {"c": c})
                           if len(shape) < 4 else
                           ox.make_model([node], [("x", [3, 4])], "y", {"c": c}),
                           batch_dim=0 if len(shape) < 4 else None)


def test_add_and_sub_of_two_tensors(ox):
    x_plus = helper.make_node("Add", ["x", "x2"], ["s"])
    sub = helper.make_node("Sub", ["s", "x"], ["y"])  # (x + 2x) - x = 2x
    two = helper.make_node("Mul", ["x", "two"], ["x2"])
    model = ox.make_model([two, x_plus, sub], [("x", [None, 4])], "y", {"two": np.float32(2.0)})
    net = ox.convert_and_compare(model)
    x = np.random.default_rng(0).standard_normal((3, 4))
    assert np.allclose(net(x), 2 * x)


def test_add_of_two_inputs_joins_them_into_one_vector(ox):
    node = helper.make_node("Add", ["a", "b"], ["y"])
    model = ox.make_model([node], [("a", [None, 3]), ("b", [None, 1])], "y")
    net = plnet.from_onnx(model)
    assert net.input_shape == (4,)
    assert net.graph.graph["onnx_inputs"] == [("a", 0, (3,)), ("b", 3, (1,))]
    x = np.random.default_rng(0).standard_normal((2, 4))
    assert np.allclose(net(x), x[:, :3] + x[:, 3:])


@pytest.mark.parametrize("op", ["Mul", "Div"])
def test_product_of_two_tensors_is_not_piecewise_linear(ox, op):
    node = helper.make_node(op, ["x", "x"], ["y"], name="prod")
    model = ox.make_model([node], [("x", [None, 2])], "y")
    with pytest.raises(NotPiecewiseLinearError, match="'prod'"):
        plnet.from_onnx(model)


def test_constant_divided_by_tensor_is_not_piecewise_linear(ox):
    model = ox.make_model([helper.make_node("Div", ["c", "x"], ["y"])], [("x", [None, 2])], "y",
                       {"c": np.float32(1.0)})
    with pytest.raises(NotPiecewiseLinearError):
        plnet.from_onnx(model)


@pytest.mark.parametrize("op", ["Sigmoid", "Tanh", "Softmax", "Exp", "Gelu", "Elu"])
def test_non_piecewise_linear_ops_name_op_node_and_opset(ox, op):
    model = ox.one_node(op, [None, 3], opset=20)
    with pytest.raises(NotPiecewiseLinearError) as info:
        plnet.from_onnx(model)
    message = str(info.value)
    assert op in message and f"the_{op.lower()}" in message and "opset 20" in message
    assert isinstance(info.value, plnet.UnsupportedOpError)


def test_unknown_op_is_unsupported_and_named(ox):
    model = ox.one_node("Hardmax", [None, 3])
    with pytest.raises(plnet.UnsupportedOpError, match="Hardmax.*no plnet converter"):
        plnet.from_onnx(model)


def test_sum_of_tensors_and_constants(ox):
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Sum", ["x", "r", "c", "x"], ["y"])]
    model = ox.make_model(nodes, [("x", [None, 3])], "y", {"c": np.float32([1.0, 2.0, 3.0])})
    net = ox.convert_and_compare(model)
    x = np.random.default_rng(0).standard_normal((2, 3))
    assert np.allclose(net(x), 2 * x + np.maximum(x, 0) + [1.0, 2.0, 3.0])
