"""Conv, pooling and batch norm as one-node models over their attributes and opsets."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import plnet

CONV_CASES = [
    # spatial, kernel, attributes
    ((7, 6), (3, 3), {}),
    ((7, 6), (3, 2), {"pads": [1, 0, 2, 1], "strides": [2, 1]}),
    ((8, 8), (3, 3), {"dilations": [2, 1], "pads": [2, 1, 2, 1]}),
    ((7, 7), (3, 3), {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    ((6, 7), (2, 3), {"auto_pad": "SAME_LOWER", "strides": [2, 1]}),
    ((6, 6), (3, 3), {"auto_pad": "VALID"}),
    ((9,), (3,), {"pads": [2, 1], "strides": [2], "dilations": [2]}),
    ((9,), (4,), {"auto_pad": "SAME_UPPER"}),
]


@pytest.mark.parametrize("spatial,kernel,attrs", CONV_CASES)
@pytest.mark.parametrize("group", [1, 2])
@pytest.mark.parametrize("opset", [7, 11, 17])
def test_conv_attributes(ox, spatial, kernel, attrs, group, opset):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 4 // group) + kernel).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], group=group, kernel_shape=list(kernel),
                            **attrs)
    model = ox.make_model([node], [("x", [None, 4, *spatial])], "y", {"w": w, "b": b},
                          opset=opset)
    net = ox.convert_and_compare(model)
    assert net.num_units == 0


def test_conv_without_bias_on_a_one_sample_input(ox):
    w = np.random.default_rng(1).standard_normal((2, 1, 3, 3)).astype(np.float32)
    model = ox.make_model([helper.make_node("Conv", ["x", "w"], ["y"])], [("x", [1, 1, 5, 5])],
                          "y", {"w": w})
    net = ox.convert_and_compare(model, batch_dim=None)
    assert net.input_shape == (1, 1, 5, 5) and net.output_shape == (1, 2, 3, 3)


POOL_CASES = [
    ((4, 4), {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}),
    ((5, 6), {"kernel_shape": [2, 2]}),
    ((5, 6), {"kernel_shape": [3, 2], "strides": [2, 1], "pads": [1, 0, 1, 1]}),
    ((7, 7), {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1}),
    ((7, 6), {"kernel_shape": [2, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    ((7, 6), {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_LOWER"}),
    ((9,), {"kernel_shape": [3], "strides": [2], "pads": [1, 1]}),
    ((10,), {"kernel_shape": [4], "strides": [3], "ceil_mode": 1}),
]


def pool_cases(opsets):
    """POOL_CASES x opsets, leaving out ceil_mode before opset 10 (which lacks it)."""
    return [(spatial, attrs, opset) for spatial, attrs in POOL_CASES for opset in opsets
            if opset >= 10 or "ceil_mode" not in attrs]


@pytest.mark.parametrize("spatial,attrs,opset", pool_cases([8, 11, 17]))
def test_max_pool_attributes(ox, spatial, attrs, opset):
    model = ox.one_node("MaxPool", [None, 2, *spatial], attrs, opset=opset)
    net = ox.convert_and_compare(model, batch=4)
    assert net.num_units > 0


@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize("storage_order", [0, 1])
def test_max_pool_dilation_and_storage_order(ox, dilation, storage_order):
    attrs = {"kernel_shape": [2, 2], "dilations": [dilation, dilation],
             "storage_order": storage_order}
    ox.convert_and_compare(ox.one_node("MaxPool", [None, 1, 6, 6], attrs, opset=12))


def test_max_pool_with_indices_output_is_refused(ox):
    node = helper.make_node("MaxPool", ["x"], ["y", "idx"], kernel_shape=[2, 2], name="mp")
    model = ox.make_model([node], [("x", [None, 1, 4, 4])], "y")
    with pytest.raises(plnet.UnsupportedOpError, match="'mp'.*Indices"):
        plnet.from_onnx(model)


@pytest.mark.parametrize("spatial,attrs,opset", pool_cases([9, 17, 19]))
@pytest.mark.parametrize("count_include_pad", [0, 1])
def test_average_pool_attributes(ox, spatial, attrs, count_include_pad, opset):
    attrs = dict(attrs, count_include_pad=count_include_pad)
    ox.convert_and_compare(ox.one_node("AveragePool", [None, 2, *spatial], attrs, opset=opset))


def test_average_pool_dilation_opset_19(ox):
    attrs = {"kernel_shape": [2, 2], "dilations": [2, 2], "pads": [1, 1, 0, 0]}
    ox.convert_and_compare(ox.one_node("AveragePool", [None, 1, 6, 6], attrs, opset=19))


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
@pytest.mark.parametrize("spatial", [(5,), (3, 4)])
def test_global_pools(ox, op, spatial):
    net = ox.convert_and_compare(ox.one_node(op, [None, 3, *spatial]))
    assert net.output_shape == (3,) + (1,) * len(spatial)


@pytest.mark.parametrize("opset", [7, 9, 14, 15])
@pytest.mark.parametrize("shape", [[None, 3], [None, 3, 5], [None, 3, 2, 4]])
def test_batch_normalization_is_folded(ox, opset, shape):
    rng = np.random.default_rng(2)
    stats = {"g": rng.uniform(0.5, 2, 3), "b": rng.standard_normal(3),
             "m": rng.standard_normal(3), "v": rng.uniform(0.5, 2, 3)}
    node = helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"], ["y"],
                            epsilon=1e-3)
    model = ox.make_model([node], [("x", shape)], "y",
                          {k: v.astype(np.float32) for k, v in stats.items()}, opset=opset)
    net = ox.convert_and_compare(model)
    assert [net.op(n).type_name for n in net.order] == ["input", "scale_shift"]


def test_batch_normalization_in_training_mode_is_refused(ox):
    ones = np.ones(2, np.float32)
    node = helper.make_node("BatchNormalization", ["x", "s", "s", "s", "s"], ["y"],
                            training_mode=1, name="bn")
    model = ox.make_model([node], [("x", [None, 2])], "y", {"s": ones}, opset=15)
    with pytest.raises(plnet.UnsupportedOpError, match="'bn'.*training"):
        plnet.from_onnx(model)


def test_three_d_convolution_is_refused_clearly(ox):
    w = np.ones((1, 1, 2, 2, 2), np.float32)
    model = ox.make_model([helper.make_node("Conv", ["x", "w"], ["y"], name="c3")],
                          [("x", [None, 1, 3, 3, 3])], "y", {"w": w})
    with pytest.raises(plnet.UnsupportedOpError, match="'c3'.*1-d and 2-d"):
        plnet.from_onnx(model)

