"""Resize (opsets 10 to 19) and Upsample (7 to 9) against onnxruntime to 1e-6 (float32) and
against onnx's reference evaluator to 1e-12 (float64, which onnxruntime's Resize lacks)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import plnet

TIGHT = 1e-6
COORDINATES = ["half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel"]
NEAREST = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
SCALES = [(2.0, 1.5), (0.5, 0.8), (3.0, 1.0), (1.0, 0.6)]


def _resize_nodes(scales=None, sizes=None, opset=13, **attrs):
    """``Resize(x)`` with constant scales, or sizes built from the input's shape like the
    exporters do (the batch and channel sizes come from ``Shape``)."""
    nodes, consts = [], {}
    if sizes is not None:
        nodes += [helper.make_node("Shape", ["x"], ["dims"]),
                  helper.make_node("Slice", ["dims", "zero", "two"], ["lead"]),
                  helper.make_node("Concat", ["lead", "hw"], ["sizes"], axis=0)]
        consts.update(zero=np.array([0], np.int64), two=np.array([2], np.int64),
                      hw=np.array(sizes, np.int64))
        inputs = ["x", "roi", "", "sizes"] if opset < 13 else ["x", "", "", "sizes"]
    else:
        consts["scales"] = np.array((1.0, 1.0) + tuple(scales), np.float32)
        inputs = ["x", "roi", "scales"] if opset < 13 else ["x", "", "scales"]
    if opset < 13:
        consts["roi"] = np.array([], np.float32)
        if sizes is not None:
            inputs[2] = "no_scales"
            consts["no_scales"] = np.array([], np.float32)
    nodes.append(helper.make_node("Resize", inputs, ["y"], name="the_resize", **attrs))
    return nodes, consts


def _model(ox, in_shape=(None, 2, 4, 5), opset=13, **kwargs):
    nodes, consts = _resize_nodes(opset=opset, **kwargs)
    return ox.make_model(nodes, [("x", list(in_shape))], "y", consts, opset=opset)


def _compare(ox, model, batch=3, **kwargs):
    net = plnet.from_onnx(model, **kwargs)
    x = ox.random_batch(np.random.default_rng(0), net, batch)
    ox.assert_close(net(x), ox.ort_outputs(model, net, x), rtol=TIGHT)
    return net


@pytest.mark.parametrize("coordinates", COORDINATES + ["tf_half_pixel_for_nn"])
@pytest.mark.parametrize("nearest_mode", NEAREST)
@pytest.mark.parametrize("scales", SCALES)
@pytest.mark.parametrize("opset", [11, 13, 18, 19])
def test_nearest_resize_with_scales(ox, coordinates, nearest_mode, scales, opset):
    _compare(ox, _model(ox, opset=opset, scales=scales, mode="nearest",
                        coordinate_transformation_mode=coordinates, nearest_mode=nearest_mode))


@pytest.mark.parametrize("coordinates", COORDINATES)
@pytest.mark.parametrize("mode", ["linear", "cubic"])
@pytest.mark.parametrize("scales", SCALES)
@pytest.mark.parametrize("opset", [11, 13, 18, 19])
def test_linear_and_cubic_resize_with_scales(ox, coordinates, mode, scales, opset):
    _compare(ox, _model(ox, opset=opset, scales=scales, mode=mode,
                        coordinate_transformation_mode=coordinates))


@pytest.mark.parametrize("coordinates", COORDINATES)
@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("sizes", [(8, 7), (3, 2), (1, 5)])
@pytest.mark.parametrize("opset", [11, 13, 18])
def test_resize_to_sizes_keeps_a_symbolic_batch(ox, coordinates, mode, sizes, opset):
    net = _compare(ox, _model(ox, opset=opset, sizes=sizes, mode=mode,
                              coordinate_transformation_mode=coordinates))
    assert net.output_shape == (2,) + sizes and net.graph.graph["output_batch_axis"] == 0


@pytest.mark.parametrize("exclude_outside", [0, 1])
@pytest.mark.parametrize("a", [-0.75, -0.5])
def test_cubic_coefficient_and_exclude_outside(ox, exclude_outside, a):
    _compare(ox, _model(ox, scales=(2.0, 1.5), mode="cubic", cubic_coeff_a=a,
                        exclude_outside=exclude_outside))


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_half_pixel_symmetric_at_opset_19(ox, mode):
    _compare(ox, _model(ox, opset=19, scales=(2.0, 0.6), mode=mode,
                        coordinate_transformation_mode="half_pixel_symmetric"))


@pytest.mark.parametrize("policy", ["stretch", "not_larger", "not_smaller"])
def test_axes_and_keep_aspect_ratio_at_opset_18(ox, policy):
    node = helper.make_node("Resize", ["x", "", "", "s"], ["y"], mode="linear", axes=[3, 2],
                            keep_aspect_ratio_policy=policy)
    model = ox.make_model([node], [("x", [None, 2, 4, 5])], "y",
                          {"s": np.array([7, 6], np.int64)}, opset=18)
    _compare(ox, model)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("scales", [(2.0, 3.0), (1.0, 0.5)])
def test_resize_10(ox, mode, scales):
    model = ox.one_node("Resize", [None, 2, 4, 5], {"mode": mode},
                        {"s": np.array((1.0, 1.0) + scales, np.float32)}, opset=10)
    _compare(ox, model)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("opset", [7, 8, 9])
def test_upsample(ox, mode, opset):
    scales = [1.0, 1.0, 2.0, 3.0]
    if opset < 9:
        model = ox.one_node("Upsample", [None, 2, 3, 4], {"mode": mode, "scales": scales},
                            opset=opset)
    else:
        model = ox.one_node("Upsample", [None, 2, 3, 4], {"mode": mode},
                            {"s": np.array(scales, np.float32)}, opset=opset)
    _compare(ox, model)


def test_linear_resize_is_a_dense_map_and_nearest_a_selection(ox):
    for mode, kinds in (("linear", {"dense"}), ("nearest", {"take"})):
        net = _compare(ox, _model(ox, scales=(2.0, 1.5), mode=mode))
        ops = {net.op(n).type_name for n in net.graph if n != net.input_name}
        assert kinds <= ops and not ops & {"relu", "max_pool"}


@pytest.mark.parametrize("mode,coordinates", [("nearest", "half_pixel"),
                                              ("nearest", "asymmetric"),
                                              ("linear", "align_corners"),
                                              ("linear", "pytorch_half_pixel"),
                                              ("linear", "half_pixel")])
def test_float64_resize_matches_the_reference_evaluator_to_1e_12(ox, mode, coordinates):
    # scales whose output lengths are exact: the reference evaluator's align_corners uses
    # length * scale where onnxruntime (and plnet) use the integer output length
    node = helper.make_node("Resize", ["x", "", "s"], ["y"], mode=mode,
                            coordinate_transformation_mode=coordinates)
    graph = helper.make_graph(
        [node], "resize", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [1, 2, 4, 6])],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, None)],
        [numpy_helper.from_array(np.array([1, 1, 1.5, 0.5], np.float32), "s")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    net = plnet.from_onnx(model, check=False)  # onnxruntime has no double Resize
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 6))
    expected = ReferenceEvaluator(model).run(None, {"x": x})[0]
    np.testing.assert_allclose(net(x), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("attrs,match", [
    ({"coordinate_transformation_mode": "tf_crop_and_resize"}, "tf_crop_and_resize"),
    ({"mode": "linear", "antialias": 1}, "antialias"),
])
def test_unsupported_resize_attributes_are_refused_clearly(ox, attrs, match):
    model = _model(ox, opset=18, scales=(0.5, 0.5), **attrs)
    with pytest.raises(plnet.UnsupportedOpError, match=f"'the_resize' \\(Resize, opset 18\\).*"
                                                       f"{match}"):
        plnet.from_onnx(model)


def test_resizing_a_symbolic_batch_is_refused(ox):
    node = helper.make_node("Resize", ["x", "", "s"], ["y"], name="the_resize")
    model = ox.make_model([node], [("x", [None, 2, 3])], "y",
                          {"s": np.array([2.0, 1.0, 1.0], np.float32)}, opset=13)
    with pytest.raises(plnet.UnsupportedOpError, match="Resize of the batch axis"):
        plnet.from_onnx(model)


def test_cubic_halving_uses_the_exact_keys_weights_with_edge_clamping(ox):
    # half_pixel at scale 1/2: every output sits halfway between two inputs, where the cubic
    # weights (a = -0.75) are -0.09375, 0.59375, 0.59375, -0.09375: exact binary fractions
    model = ox.one_node("Resize", [1, 1, 1, 6], {"mode": "cubic"},
                        {"roi": np.array([], np.float32),
                         "s": np.array([1, 1, 1, 0.5], np.float32)}, opset=11)
    net = plnet.from_onnx(model)
    x = np.arange(1.0, 7.0).reshape(1, 1, 1, 6) ** 2  # 1, 4, 9, ..., 36
    far, near = -0.09375, 0.59375
    expected = [far * 1 + near * 1 + near * 4 + far * 9,    # neighbours -1 (clamped), 0, 1, 2
                far * 4 + near * 9 + near * 16 + far * 25,
                far * 16 + near * 25 + near * 36 + far * 36]  # neighbour 6 clamped to 5
    np.testing.assert_array_equal(net(x).ravel(), expected)
