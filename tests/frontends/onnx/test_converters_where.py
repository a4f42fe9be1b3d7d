"""Where with a constant condition, one node each (and two tensors chosen between)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import plnet

RNG = np.random.default_rng(3)
COND = RNG.random((2, 1, 4)) < 0.5  # broadcasts against [N, 2, 3, 4] inputs


@pytest.mark.parametrize("fill_shape", [(), (4,), (2, 1, 1)])
@pytest.mark.parametrize("tensor_first", [True, False])
def test_where_between_a_tensor_and_a_constant(ox, fill_shape, tensor_first):
    fill = RNG.normal(size=fill_shape).astype(np.float32)
    inputs = ["c", "x", "f"] if tensor_first else ["c", "f", "x"]
    node = helper.make_node("Where", inputs, ["y"], name="the_where")
    model = ox.make_model([node], [("x", [None, 2, 3, 4])], "y", {"c": COND, "f": fill})
    net = ox.convert_and_compare(model, batch=4)
    assert net.output_shape == (2, 3, 4)


def test_where_masked_fill_of_a_transposed_batch_keeps_it(ox):
    # the dynamo exporter's adaptive pooling: masked_fill(mask, 0) with the batch on axis 2
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[2, 3, 0, 1]),
             helper.make_node("Where", ["c", "zero", "t"], ["y"], name="the_where")]
    model = ox.make_model(nodes, [("x", [None, 2, 3, 1])], "y",
                          {"c": RNG.random((3, 1, 1, 1)) < 0.5, "zero": np.float32(0)})
    net = ox.convert_and_compare(model, batch=3)
    assert net.graph.graph["output_batch_axis"] == 2


def test_where_between_two_tensors(ox):
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("Where", ["c", "x", "r"], ["y"], name="the_where")]
    model = ox.make_model(nodes, [("x", [None, 2, 3, 4])], "y", {"c": COND})
    net = ox.convert_and_compare(model, batch=4)
    assert net.num_units == 24


def test_where_is_listed_as_supported():
    assert "Where" in plnet.frontends.onnx.supported_ops()
