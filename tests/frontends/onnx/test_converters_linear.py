"""Gemm and MatMul with a constant operand, as one-node models against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import plnet

OPSETS = [7, 9, 11, 13, 17]


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("trans_a", [0, 1])
@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (0.5, -2.0), (2.0, 0.0)])
def test_gemm_attributes(ox, opset, trans_a, trans_b, alpha, beta):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3) if trans_b else (3, 4)).astype(np.float32)
    c = rng.standard_normal(4).astype(np.float32)
    attrs = {"alpha": alpha, "beta": beta, "transA": trans_a, "transB": trans_b}
    node = helper.make_node("Gemm", ["x", "w", "c"], ["y"], **attrs)
    # transA transposes the batch away: only meaningful on a one-sample input
    if trans_a:
        model = ox.make_model([node], [("x", [3, 1])], "y", {"w": w, "c": c}, opset=opset)
        ox.convert_and_compare(model, batch_dim=None)
    else:
        model = ox.make_model([node], [("x", [None, 3])], "y", {"w": w, "c": c}, opset=opset)
        net = ox.convert_and_compare(model)
        assert net.input_shape == (3,) and net.output_shape == (4,)


def _types(net):
    return [net.op(n).type_name for n in net.order]


#: C shapes that are the same for every row of Gemm's [M, N] output: the dense op's bias
ROW_INDEPENDENT_C = [(), (1,), (4,), (1, 1), (1, 4)]


@pytest.mark.parametrize("c_shape", ROW_INDEPENDENT_C)
@pytest.mark.parametrize("beta", [1.0, -0.5])
def test_gemm_c_broadcast_over_rows_is_the_dense_bias(ox, c_shape, beta):
    rng = np.random.default_rng(6)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    c = rng.standard_normal(c_shape).astype(np.float32)
    node = helper.make_node("Gemm", ["x", "w", "c"], ["y"], transB=1, beta=beta, name="g")
    model = ox.make_model([node], [("x", [None, 3])], "y", {"w": w, "c": c})
    net = ox.convert_and_compare(model, batch=5)
    assert _types(net) == ["input", "dense"]
    bias = net.params[net.op("g").bias]
    assert np.array_equal(bias, np.broadcast_to(beta * c.astype(np.float64).reshape(-1), (4,)))


@pytest.mark.parametrize("c_shape", [(2, 4), (2, 1)])
def test_gemm_c_varying_over_rows_is_exact_on_a_one_sample_input(ox, c_shape):
    rng = np.random.default_rng(7)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    c = rng.standard_normal(c_shape).astype(np.float32)
    node = helper.make_node("Gemm", ["x", "w", "c"], ["y"], beta=2.0)
    model = ox.make_model([node], [("x", [2, 3])], "y", {"w": w, "c": c})
    net = ox.convert_and_compare(model, batch_dim=None)
    assert net.output_shape == (2, 4)


def test_gemm_c_varying_over_the_batch_is_exact_when_the_file_fixes_one_row(ox):
    c = np.arange(4, dtype=np.float32).reshape(1, 4)
    node = helper.make_node("Gemm", ["x", "w", "c"], ["y"])
    model = ox.make_model([node], [("x", [1, 3])], "y",
                          {"w": np.ones((3, 4), np.float32), "c": c})
    assert _types(ox.convert_and_compare(model, batch=3)) == ["input", "dense"]


@pytest.mark.parametrize("c_shape", [(2, 4), (2, 1)])
def test_gemm_c_varying_over_a_symbolic_batch_is_refused(ox, c_shape):
    node = helper.make_node("Gemm", ["x", "w", "c"], ["y"], name="g")
    model = ox.make_model([node], [("x", [None, 3])], "y",
                          {"w": np.ones((3, 4), np.float32), "c": np.ones(c_shape, np.float32)})
    with pytest.raises(plnet.UnsupportedOpError, match="'g'.*batch axis"):
        plnet.from_onnx(model)


def test_gemm_c_of_the_wrong_width_is_a_shape_error(ox):
    node = helper.make_node("Gemm", ["x", "w", "c"], ["y"], name="g")
    model = ox.make_model([node], [("x", [None, 3])], "y",
                          {"w": np.ones((3, 4), np.float32), "c": np.ones(3, np.float32)})
    with pytest.raises(plnet.ShapeError, match="'g'.*C of shape \\[3\\].*4 columns"):
        plnet.from_onnx(model)


def test_gemm_with_constant_a_and_tensor_b(ox):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 3)).astype(np.float32)
    node = helper.make_node("Gemm", ["a", "x"], ["y"], transB=1)
    model = ox.make_model([node], [("x", [4, 3])], "y", {"a": a})
    net = ox.convert_and_compare(model, batch_dim=None)
    assert net.output_shape == (2, 4)


def test_gemm_on_transposed_batch_with_symbolic_batch_is_refused(ox):
    w = np.ones((1, 2), np.float32)
    node = helper.make_node("Gemm", ["x", "w"], ["y"], transA=1, name="g")
    model = ox.make_model([node], [("x", [None, 1])], "y", {"w": w})
    with pytest.raises(plnet.UnsupportedOpError, match="'g'.*batch"):
        plnet.from_onnx(model)


@pytest.mark.parametrize("x_shape,w_shape", [
    ([None, 3], (3, 5)), ([None, 2, 3], (3, 4)), ([None, 3], (3,)), ([None, 2, 4, 3], (3, 2))])
def test_matmul_with_constant_on_the_right(ox, x_shape, w_shape):
    w = np.random.default_rng(2).standard_normal(w_shape).astype(np.float32)
    ox.convert_and_compare(ox.make_model([helper.make_node("MatMul", ["x", "w"], ["y"])],
                                         [("x", x_shape)], "y", {"w": w}))


@pytest.mark.parametrize("x_shape,w_shape", [
    ([None, 3, 2], (4, 3)), ([None, 3, 5], (3,)), ([None, 2, 3, 2], (5, 3))])
def test_matmul_with_constant_on_the_left(ox, x_shape, w_shape):
    w = np.random.default_rng(3).standard_normal(w_shape).astype(np.float32)
    ox.convert_and_compare(ox.make_model([helper.make_node("MatMul", ["w", "x"], ["y"])],
                                         [("x", x_shape)], "y", {"w": w}))


def test_matmul_left_constant_on_a_one_sample_input(ox):
    w = np.random.default_rng(4).standard_normal((4, 5)).astype(np.float32)
    model = ox.make_model([helper.make_node("MatMul", ["w", "x"], ["y"])], [("x", [5])], "y",
                          {"w": w})
    net = ox.convert_and_compare(model, batch_dim=None)
    assert net.output_shape == (4,)


def test_matmul_plus_bias_is_a_dense_layer(ox):
    rng = np.random.default_rng(5)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "b"],
                                                                            ["y"])]
    model = ox.make_model(nodes, [("x", [None, 3])], "y",
                          {"w": rng.standard_normal((3, 2)).astype(np.float32),
                           "b": rng.standard_normal(2).astype(np.float32)})
    net = ox.convert_and_compare(model)
    assert [net.op(n).type_name for n in net.order] == ["input", "dense"]
    assert net.op(net.output).bias is not None


def test_matmul_of_two_tensors_is_not_piecewise_linear(ox):
    model = ox.make_model([helper.make_node("MatMul", ["x", "x"], ["y"])], [("x", [None, 2, 2])],
                          "y")
    with pytest.raises(plnet.NotPiecewiseLinearError):
        plnet.from_onnx(model)
