"""GatherND and Tile with constant indices and repeats, one node each."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import plnet

GATHER_ND = [  # (data shape, indices, batch_dims)
    ([3, 4], [[1, -1], [0, 2]], 0),
    ([3, 4], [[2], [0], [2]], 0),
    ([2, 3, 4], [[[1, 0], [0, 2]]], 0),
    ([2, 3, 4], [[1], [-2]], 1),
    ([2, 3, 4], [[[2, 1]], [[0, 0]]], 1),
    ([2, 3, 4], [[[1], [3], [0]], [[2], [2], [-1]]], 2),
]


@pytest.mark.parametrize("shape,indices,batch_dims", GATHER_ND)
@pytest.mark.parametrize("opset", [12, 13])
def test_gather_nd_of_a_one_sample_input(ox, shape, indices, batch_dims, opset):
    model = ox.one_node("GatherND", shape, {"batch_dims": batch_dims},
                        {"i": np.array(indices, np.int64)}, opset=opset)
    ox.convert_and_compare(model, batch_dim=None)


def test_gather_nd_with_batch_dims_one_over_a_batch_fixed_at_one(ox):
    # the exporter's form: the leading axis is the batch, the file fixes it at 1
    model = ox.one_node("GatherND", [1, 3, 4], {"batch_dims": 1},
                        {"i": np.array([[[2, 1], [0, 3], [1, 1]]], np.int64)}, opset=13)
    net = ox.convert_and_compare(model, batch=4)
    assert net.output_shape == (1, 3)


def test_gather_nd_of_axes_before_the_batch_keeps_the_batch(ox):
    # the dynamo exporter's adaptive pooling: spatial axes moved first, then gathered
    indices = np.array([[[0, 1], [2, 0], [1, 1]], [[2, 2], [0, 0], [-1, 1]]], np.int64)
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[2, 3, 0, 1]),
             helper.make_node("GatherND", ["t", "i"], ["y"], name="the_gathernd")]
    model = ox.make_model(nodes, [("x", [None, 2, 3, 3])], "y", {"i": indices}, opset=13)
    net = ox.convert_and_compare(model, batch=4)
    assert net.output_shape == (2, 3, 2) and net.graph.graph["output_batch_axis"] == 2


def test_gather_nd_addressing_a_symbolic_batch_is_refused(ox):
    model = ox.one_node("GatherND", [None, 3], {}, {"i": np.array([[0, 1]], np.int64)},
                        opset=13)
    with pytest.raises(plnet.UnsupportedOpError, match="'the_gathernd'.*GatherND.*batch"):
        plnet.from_onnx(model)


def test_gather_nd_out_of_range_is_a_clear_error(ox):
    model = ox.one_node("GatherND", [3, 4], {}, {"i": np.array([[3, 0]], np.int64)}, opset=13)
    with pytest.raises(plnet.ShapeError, match="out of range"):
        plnet.from_onnx(model, batch_dim=None)


@pytest.mark.parametrize("repeats", [[1, 2, 1], [1, 1, 3], [1, 2, 2]])
@pytest.mark.parametrize("opset", [7, 13])
def test_tile_keeps_the_batch(ox, repeats, opset):
    model = ox.one_node("Tile", [None, 2, 3], consts={"r": np.array(repeats, np.int64)},
                        opset=opset)
    net = ox.convert_and_compare(model)
    assert net.output_shape == (2 * repeats[1], 3 * repeats[2])


def test_tiling_a_symbolic_batch_is_refused_and_a_batch_of_one_is_folded(ox):
    with pytest.raises(plnet.UnsupportedOpError, match="Tile of the batch axis"):
        plnet.from_onnx(ox.one_node("Tile", [None, 2], consts={"r": np.array([2, 1])}))
    model = ox.one_node("Tile", [1, 2], consts={"r": np.array([3, 2], np.int64)})
    assert ox.convert_and_compare(model).output_shape == (3, 4)


def test_unsqueeze_expand_and_squeeze_of_a_network_tensor(ox):
    nodes = [helper.make_node("Unsqueeze", ["x", "a"], ["u"]),
             helper.make_node("Expand", ["u", "shape"], ["e"]),
             helper.make_node("Relu", ["e"], ["r"]),
             helper.make_node("ReduceMax", ["r", "a"], ["m"], keepdims=1),
             helper.make_node("Squeeze", ["m", "a"], ["y"])]
    model = ox.make_model(nodes, [("x", [None, 3])], "y",
                          {"a": np.array([1], np.int64), "shape": np.array([1, 4, 3], np.int64)},
                          opset=18)
    assert ox.convert_and_compare(model).output_shape == (3,)
