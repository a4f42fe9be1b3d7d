"""ConvTranspose as one-node models over its attributes and opsets, against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import plnet
from plnet.errors import ShapeError, UnsupportedOpError

CASES = [
    # spatial, kernel, attributes
    ((5, 4), (3, 3), {}),
    ((5, 4), (3, 2), {"pads": [1, 0, 2, 1], "strides": [2, 1]}),
    ((4, 4), (3, 3), {"strides": [2, 2], "output_padding": [1, 0], "pads": [1, 1, 1, 1]}),
    ((4, 5), (2, 3), {"dilations": [2, 1], "strides": [3, 2], "output_padding": [2, 1],
                      "pads": [0, 2, 1, 0]}),
    ((4, 4), (3, 3), {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    ((5, 3), (3, 2), {"auto_pad": "SAME_LOWER", "strides": [2, 1]}),
    ((5, 4), (3, 3), {"auto_pad": "VALID", "strides": [2, 1]}),
    ((4, 4), (3, 3), {"output_shape": [8, 7], "strides": [2, 2]}),
    ((4, 4), (3, 2), {"output_shape": [8, 7], "strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    ((4, 4), (3, 2), {"output_shape": [8, 7], "strides": [2, 2], "auto_pad": "SAME_LOWER"}),
    ((6,), (3,), {"pads": [2, 1], "strides": [2], "dilations": [2], "output_padding": [1]}),
    ((5,), (2,), {"auto_pad": "SAME_UPPER", "strides": [2]}),
    ((5,), (2,), {"output_shape": [9], "strides": [2]}),
]


def _model(ox, spatial, kernel, attrs, group=2, opset=17, bias=True):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 6 // group) + kernel).astype(np.float32)
    consts = {"w": w, "b": rng.standard_normal(6).astype(np.float32)} if bias else {"w": w}
    node = helper.make_node("ConvTranspose", ["x", *consts], ["y"], name="up", group=group,
                            **attrs)
    return ox.make_model([node], [("x", [None, 4, *spatial])], "y", consts, opset=opset)


@pytest.mark.parametrize("spatial,kernel,attrs", CASES)
@pytest.mark.parametrize("group", [1, 2])
@pytest.mark.parametrize("opset", [7, 11, 17])
def test_conv_transpose_attributes(ox, spatial, kernel, attrs, group, opset):
    net = ox.convert_and_compare(_model(ox, spatial, kernel, attrs, group, opset))
    assert [net.op(n).type_name for n in net.order] == ["input", "conv_transpose"]


def test_conv_transpose_without_bias_and_with_kernel_shape(ox):
    model = _model(ox, (3, 3), (2, 2), {"kernel_shape": [2, 2], "strides": [2, 2]}, bias=False)
    ox.convert_and_compare(model)


@pytest.mark.parametrize("auto_pad,want", [("SAME_UPPER", (0, 1)), ("SAME_LOWER", (1, 0)),
                                             ("NOTSET", (1, 0))])
def test_output_shape_puts_an_odd_padding_where_the_spec_says(ox, auto_pad, want):
    # full length (5 - 1) * 2 + 2 = 10, output_shape 9: one position of padding
    model = _model(ox, (5,), (2,), {"output_shape": [9], "strides": [2], "auto_pad": auto_pad})
    net = ox.convert_and_compare(model)
    assert net.op("up").padding == (want,)


@pytest.mark.parametrize("attrs", [{"output_shape": [12], "strides": [2]},
                                   {"auto_pad": "SAME_UPPER", "strides": [3]}])
def test_an_output_longer_than_the_full_output_is_refused(ox, attrs):
    # the spec splits a negative padding over both ends; onnxruntime appends it at the end
    # (output_shape) or ignores it (auto_pad)
    model = _model(ox, (5,), (2,), attrs)
    with pytest.raises(ShapeError, match="'up'.*longer than the full output"):
        plnet.from_onnx(model)


def test_three_d_transposed_convolution_is_refused_clearly(ox):
    w = np.ones((1, 1, 2, 2, 2), np.float32)
    model = ox.make_model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up3")],
                          [("x", [1, 1, 3, 3, 3])], "y", {"w": w})
    with pytest.raises(UnsupportedOpError, match="'up3'.*1-d and 2-d ConvTranspose"):
        plnet.from_onnx(model)


@pytest.mark.parametrize("output_shape", [[8, 7, 1], [1, 6, 8, 7]])
def test_output_shape_must_list_the_spatial_sizes(ox, output_shape):
    # ONNX's own shape inference refuses the [N, C, *spatial] form too
    model = _model(ox, (4, 4), (3, 3), {"output_shape": output_shape, "strides": [2, 2]})
    with pytest.raises(ShapeError, match="'up'.*output_shape"):
        plnet.from_onnx(model)


@pytest.mark.parametrize("output_padding,strides,dilations", [
    ([1, 1], [1, 2], [2, 1]),   # torch allows output_padding < dilation; onnxruntime does not
    ([0, 1], [2, 2], [1, 1]),
])
def test_exported_transposed_convolutions_run_in_onnxruntime_and_read_back(
        ox, output_padding, strides, dilations):
    rng = np.random.default_rng(3)
    b = plnet.NetworkBuilder((2, 3, 4))
    node = b.conv_transpose(b.input, rng.normal(size=(2, 3, 2, 2)), rng.normal(size=3),
                            strides, ((0, 0), (1, 0)), output_padding, dilations)
    net = b.build(b.relu(node))
    model = plnet.to_onnx(net)
    x = ox.random_batch(rng, net)
    got = np.asarray(ox.run_ort(model, {net.input_name: x}), np.float64)
    ox.assert_close(got, net(x))
    ox.assert_close(plnet.from_onnx(model)(x), net(x))
