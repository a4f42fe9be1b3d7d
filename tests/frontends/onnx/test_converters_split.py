"""Split over its three forms (sizes as attribute or input, equal split, num_outputs);
every output is checked against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import plnet


def _split(ox, outputs, opset, axis=1, sizes=None, num_outputs=None, in_shape=(None, 6, 4)):
    names = [f"y{i}" for i in range(outputs)]
    attrs = {"axis": axis}
    inputs, consts = ["x"], {}
    if sizes is not None and opset < 13:
        attrs["split"] = sizes
    elif sizes is not None:
        inputs.append("s")
        consts["s"] = np.array(sizes, np.int64)
    if num_outputs is not None:
        attrs["num_outputs"] = num_outputs
    node = helper.make_node("Split", inputs, names, name="the_split", **attrs)
    return ox.make_model([node], [("x", list(in_shape))], names[0], consts, opset=opset,
                         extra_outputs=names[1:]), names


def _compare_every_output(ox, model, names, **kwargs):
    return [ox.convert_and_compare(model, output=name, **kwargs).output_shape for name in names]


@pytest.mark.parametrize("opset", [11, 13, 18])
@pytest.mark.parametrize("axis,sizes", [(1, [1, 2, 3]), (-1, [3, 1]), (2, [4])])
def test_split_with_sizes(ox, opset, axis, sizes):
    model, names = _split(ox, len(sizes), opset, axis=axis, sizes=sizes)
    shapes = _compare_every_output(ox, model, names)
    assert [s[axis % 3 - 1] for s in shapes] == sizes


@pytest.mark.parametrize("opset", [11, 13, 18])
def test_split_equally_without_sizes(ox, opset):
    if opset >= 18:  # the equal split needs num_outputs from opset 18 on
        model, names = _split(ox, 3, opset, num_outputs=3)
    else:
        model, names = _split(ox, 3, opset)
    assert _compare_every_output(ox, model, names) == [(2, 4)] * 3


def test_num_outputs_gives_a_smaller_last_chunk_like_torch_chunk(ox):
    model, names = _split(ox, 3, 18, axis=2, num_outputs=3, in_shape=(None, 2, 7))
    assert _compare_every_output(ox, model, names) == [(2, 3), (2, 3), (2, 1)]


def test_every_split_output_feeds_later_nodes(ox):
    node = helper.make_node("Split", ["x"], ["a", "b"], axis=1)
    relu = helper.make_node("Relu", ["a"], ["r"])
    add = helper.make_node("Sub", ["r", "b"], ["y"])
    model = ox.make_model([node, relu, add], [("x", [None, 4])], "y", opset=13)
    ox.convert_and_compare(model)


def test_splitting_a_symbolic_batch_is_refused(ox):
    model, _ = _split(ox, 2, 13, axis=0, sizes=[1, 1])
    with pytest.raises(plnet.UnsupportedOpError, match="'the_split' \\(Split, opset 13\\)"):
        plnet.from_onnx(model, output="y0")


def test_an_unequal_split_without_sizes_is_a_clear_error(ox):
    model, _ = _split(ox, 4, 13)
    with pytest.raises(plnet.ShapeError, match="does not split equally"):
        plnet.from_onnx(model, output="y0")
