"""A per-output scale/shift after a dense or conv layer is folded into the layer, exactly."""

from __future__ import annotations

import numpy as np
from onnx import helper

import plnet
from plnet.frontends.onnx.fusion import fold_scale_shifts


def _types(net):
    return [net.op(n).type_name for n in net.order]


def _bn_inputs(rng, channels):
    return {"gamma": rng.standard_normal(channels).astype(np.float32),
            "beta": rng.standard_normal(channels).astype(np.float32),
            "mean": rng.standard_normal(channels).astype(np.float32),
            "var": rng.uniform(0.5, 2.0, channels).astype(np.float32)}


def test_conv_then_batch_norm_is_one_conv_with_a_bias(ox):
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", ["x", "w"], ["h"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("BatchNormalization", ["h", "gamma", "beta", "mean", "var"],
                              ["y"])]
    model = ox.make_model(nodes, [("x", [None, 2, 5, 5])], "y",
                          {"w": rng.standard_normal((3, 2, 3, 3)).astype(np.float32),
                           **_bn_inputs(rng, 3)})
    net = ox.convert_and_compare(model, batch=4)
    assert _types(net) == ["input", "conv"] and net.op("conv").bias is not None


def test_matmul_add_and_batch_norm_fold_into_one_dense(ox):
    rng = np.random.default_rng(1)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
             helper.make_node("Add", ["h", "b"], ["a"]),
             helper.make_node("BatchNormalization", ["a", "gamma", "beta", "mean", "var"],
                              ["y"])]
    model = ox.make_model(nodes, [("x", [None, 3])], "y",
                          {"w": rng.standard_normal((3, 4)).astype(np.float32),
                           "b": rng.standard_normal(4).astype(np.float32),
                           **_bn_inputs(rng, 4)})
    assert _types(ox.convert_and_compare(model, batch=4)) == ["input", "dense"]


def test_a_layer_feeding_two_nodes_keeps_its_scale_shift(ox):
    rng = np.random.default_rng(2)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]),
             helper.make_node("Add", ["h", "b"], ["a"]),
             helper.make_node("Add", ["a", "h"], ["y"])]
    model = ox.make_model(nodes, [("x", [None, 3])], "y",
                          {"w": rng.standard_normal((3, 4)).astype(np.float32),
                           "b": rng.standard_normal(4).astype(np.float32)})
    net = ox.convert_and_compare(model)
    assert sorted(_types(net)) == ["add", "dense", "input", "scale_shift"]


def test_a_shift_varying_along_another_axis_stays_a_scale_shift(ox):
    rng = np.random.default_rng(3)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]),
             helper.make_node("Add", ["h", "b"], ["y"])]
    model = ox.make_model(nodes, [("x", [None, 2, 3])], "y",
                          {"w": rng.standard_normal((3, 4)).astype(np.float32),
                           "b": rng.standard_normal((2, 1)).astype(np.float32)})
    assert _types(ox.convert_and_compare(model)) == ["input", "dense", "scale_shift"]


def test_tied_weights_are_not_folded():
    b = plnet.NetworkBuilder((3,))
    first = b.dense(b.input, np.ones((3, 3)), name="first")
    second = b.dense(first, "first.weight", name="second")
    out = b.scale_shift(second, np.full(3, 2.0), np.ones(3), name="ss")
    graph, params = b.graph.copy(), dict(b.params)
    assert fold_scale_shifts(graph, params, b.shapes, out) == "ss"
    assert "ss" in graph and np.array_equal(params["first.weight"], np.ones((3, 3)))


def test_folding_an_untied_layer_keeps_the_function():
    rng = np.random.default_rng(4)
    b = plnet.NetworkBuilder((4, 3))
    h = b.dense(b.input, rng.standard_normal((2, 3)), name="d")
    out = b.scale_shift(h, rng.standard_normal((1, 2)), rng.standard_normal(2), name="ss")
    before = b.build(out)
    graph, params = b.graph.copy(), dict(b.params)
    output = fold_scale_shifts(graph, params, b.shapes, out)
    assert output == "d" and "ss" not in graph
    after = plnet.Network(graph, {k: params[k] for k in graph.nodes["d"]["op"].param_names()},
                          output)
    x = rng.standard_normal((5, 4, 3))
    assert np.allclose(after(x), before(x), rtol=1e-12, atol=1e-12)
