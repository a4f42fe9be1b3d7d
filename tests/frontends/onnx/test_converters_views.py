"""Reshapes, transposes, slicing, gathering, padding and pass-through ops, one node each."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

import plnet


@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1, -3])
def test_flatten_axis_on_a_one_sample_input(ox, axis):
    net = ox.convert_and_compare(ox.one_node("Flatten", [2, 3, 2, 1], {"axis": axis}),
                                 batch_dim=None)
    assert len(net.output_shape) == 2


@pytest.mark.parametrize("axis", [1, 2, -2])
def test_flatten_keeps_a_symbolic_batch(ox, axis):
    model = ox.one_node("Flatten", [None, 1, 3, 2], {"axis": axis})
    net = ox.convert_and_compare(model)
    assert net.graph.graph["output_batch_axis"] == 0


def test_flatten_merging_a_symbolic_batch_is_refused(ox):
    model = ox.one_node("Flatten", [None, 2, 3], {"axis": 0})
    with pytest.raises(plnet.UnsupportedOpError, match="batch axis"):
        plnet.from_onnx(model)


RESHAPE_CASES = [
    ([0, -1], [None, 2, 3], 0), ([-1, 3, 2], [None, 6], 0), ([0, 1, 0, -1], [None, 2, 2], 0),
    ([1, 4], [2, 2], 0), ([-1], [2, 2], 0), ([4, 1], [2, 2], 1), ([2, 1, 3], [3, 2], 0)]


# allowzero exists from opset 14 on
@pytest.mark.parametrize("target,in_shape,allowzero,opset", [
    case + (opset,) for case in RESHAPE_CASES for opset in (7, 14) if opset >= 14 or not case[2]])
def test_reshape_targets(ox, target, in_shape, allowzero, opset):
    attrs = {"allowzero": allowzero} if opset >= 14 else {}
    model = ox.one_node("Reshape", in_shape, attrs, {"s": np.array(target, np.int64)},
                        opset=opset)
    ox.convert_and_compare(model, batch_dim=0 if None in in_shape else None)


def test_reshape_to_a_zero_size_tensor_is_a_clear_error(ox):
    model = ox.one_node("Reshape", [2, 2], {"allowzero": 1},
                        {"s": np.array([0, 4], np.int64)}, opset=14)
    with pytest.raises(plnet.ShapeError, match="empty"):
        plnet.from_onnx(model, batch_dim=None)


def test_reshape_dropping_a_fixed_batch_of_one_works_for_any_batch(ox):
    model = ox.one_node("Reshape", [1, 2, 3], consts={"s": np.array([6], np.int64)})
    net = ox.convert_and_compare(model, batch=5)
    assert net.output_shape == (6,) and net.graph.graph["output_batch_axis"] is None


@pytest.mark.parametrize("target,shape", [([2, 12], (12,)), ([2, -1, 3], (4, 3)),
                                          ([2, 0, 2, 2], (3, 2, 2))])
def test_reshape_led_by_the_files_fixed_batch_size_keeps_the_batch(ox, target, shape):
    # the exporters' static form: a batch of 2 fixed in the file, flattened to [2, 12]
    model = ox.one_node("Reshape", [2, 3, 4], consts={"s": np.array(target, np.int64)})
    net = plnet.from_onnx(model)
    assert net.output_shape == shape and net.graph.graph["output_batch_axis"] == 0
    x = ox.random_batch(np.random.default_rng(0), net, batch=2)
    ox.assert_close(net(x), ox.run_ort(model, {"x": x}).astype(np.float64))


def test_reshape_of_a_fixed_batch_of_two_that_mixes_samples_is_refused(ox):
    model = ox.one_node("Reshape", [2, 3, 4], consts={"s": np.array([3, 8], np.int64)})
    with pytest.raises(plnet.UnsupportedOpError, match="'the_reshape'.*merges the batch"):
        plnet.from_onnx(model)


@pytest.mark.parametrize("perm,shape", [([0, 2, 1], [None, 2, 3]), ([0, 3, 1, 2], [None, 4, 5, 2]),
                                        ([1, 0, 2], [None, 2, 3]), (None, [2, 3, 4])])
def test_transpose(ox, perm, shape):
    attrs = {} if perm is None else {"perm": perm}
    ox.convert_and_compare(ox.one_node("Transpose", shape, attrs),
                           batch_dim=0 if None in shape else None)


def test_transpose_moving_the_batch_keeps_it_tracked(ox):
    t1 = helper.make_node("Transpose", ["x"], ["t"], perm=[1, 0, 2])
    relu = helper.make_node("Relu", ["t"], ["r"])
    t2 = helper.make_node("Transpose", ["r"], ["y"], perm=[1, 0, 2])
    net = ox.convert_and_compare(ox.make_model([t1, relu, t2], [("x", [None, 2, 3])], "y"))
    assert net.graph.graph["output_batch_axis"] == 0 and net.output_shape == (2, 3)


@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("axes", [None, [2], [0, 2], [-2]])
def test_squeeze_attribute_and_input_forms(ox, opset, axes):
    if opset < 13:
        model = ox.one_node("Squeeze", [1, 2, 1, 3], {} if axes is None else {"axes": axes},
                            opset=opset)
    else:
        consts = {} if axes is None else {"a": np.array(axes, np.int64)}
        model = ox.one_node("Squeeze", [1, 2, 1, 3], consts=consts, opset=opset)
    ox.convert_and_compare(model, batch_dim=None)
    ox.convert_and_compare(model)  # the file's batch of 1 on axis 0


@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("axes", [[0], [1, -1], [0, 3]])
def test_unsqueeze_attribute_and_input_forms(ox, opset, axes):
    if opset < 13:
        model = ox.one_node("Unsqueeze", [None, 2, 3], {"axes": axes}, opset=opset)
    else:
        model = ox.one_node("Unsqueeze", [None, 2, 3], consts={"a": np.array(axes, np.int64)},
                            opset=opset)
    net = ox.convert_and_compare(model)
    assert net.graph.graph["output_batch_axis"] == (1 if 0 in axes else 0)


@pytest.mark.parametrize("axis", [1, 2, -1])
def test_concat_of_tensors_and_constants(ox, axis):
    c = np.random.default_rng(0).standard_normal((1, 2, 3)).astype(np.float32)
    relu = helper.make_node("Relu", ["x"], ["r"])
    cat = helper.make_node("Concat", ["x", "r", "c"] if axis != 1 else ["x", "r"], ["y"],
                           axis=axis)
    model = ox.make_model([relu, cat], [("x", [1, 2, 3])], "y", {"c": c} if axis != 1 else {})
    ox.convert_and_compare(model, batch=4)


SLICE_CASES = [
    ([1], [3], [1], [1]), ([0, -3], [2, 100], [1, 2], [1, 2]), ([3], [0], [2], [-1]),
    ([-1], [-100], [2], [-2]), ([0], [2**62], [0], [1])]


# steps other than 1 exist from opset 10 on
@pytest.mark.parametrize("opset,starts,ends,axes,steps", [
    (opset,) + case for case in SLICE_CASES for opset in (9, 13)
    if opset >= 10 or all(s == 1 for s in case[3])])
def test_slice_forms(ox, opset, starts, ends, axes, steps):
    if opset < 10:
        model = ox.one_node("Slice", [None, 3, 5], {"starts": starts, "ends": ends,
                                                     "axes": axes}, opset=opset)
    else:
        consts = {k: np.array(v, np.int64) for k, v in
                  (("s", starts), ("e", ends), ("a", axes), ("t", steps))}
        model = ox.one_node("Slice", [None, 3, 5], consts=consts, opset=opset)
    ox.convert_and_compare(model)


@pytest.mark.parametrize("indices", [1, -1, [0, 2, 2], [[0, 1], [2, 0]]])
@pytest.mark.parametrize("axis", [1, 2, -1])
def test_gather_with_constant_indices(ox, indices, axis):
    model = ox.one_node("Gather", [None, 3, 4], {"axis": axis},
                        {"i": np.array(indices, np.int64)})
    ox.convert_and_compare(model)


def test_gather_with_input_dependent_indices_is_refused(ox):
    node = helper.make_node("Gather", ["c", "x"], ["y"], name="g")
    model = ox.make_model([node], [("x", [None, 2])], "y", {"c": np.ones(3, np.float32)})
    with pytest.raises(plnet.PlnetError, match="'g'"):
        plnet.from_onnx(model)


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect"])
@pytest.mark.parametrize("opset", [9, 13])
@pytest.mark.parametrize("pads", [[0, 1, 2, 0, 2, 1], [0, 0, 1, 0, 0, 0], [0, -1, 1, 0, 1, -2]])
def test_pad_modes(ox, mode, opset, pads):
    if opset < 11:
        model = ox.one_node("Pad", [None, 3, 4], {"pads": pads, "mode": mode}, opset=opset)
    else:
        model = ox.one_node("Pad", [None, 3, 4], {"mode": mode},
                            {"p": np.array(pads, np.int64)}, opset=opset)
    ox.convert_and_compare(model)


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect"])
@pytest.mark.parametrize("axes", [[2], [-1, 1], [1, 2]])
def test_pad_of_chosen_axes_at_opset_18(ox, mode, axes):
    pads = [1, 2] * len(axes)
    consts = {"p": np.array(pads, np.int64), "v": np.array(-0.5 if mode == "constant" else 0,
                                                           np.float32),
              "a": np.array(axes, np.int64)}
    ox.convert_and_compare(ox.one_node("Pad", [None, 3, 4], {"mode": mode}, consts, opset=18))


def test_pad_with_a_nonzero_constant(ox):
    model = ox.one_node("Pad", [None, 2, 2], {}, {"p": np.array([0, 1, 0, 0, 1, 1], np.int64),
                                                  "v": np.array(1.5, np.float32)}, opset=13)
    ox.convert_and_compare(model)


@pytest.mark.parametrize("opset", [7, 12, 13])
def test_dropout_in_inference_is_the_identity(ox, opset):
    net = ox.convert_and_compare(ox.one_node("Dropout", [None, 3], opset=opset))
    assert [net.op(n).type_name for n in net.order] == ["input"]


def test_dropout_in_training_mode_is_refused(ox):
    model = ox.one_node("Dropout", [None, 3], consts={"r": np.array(0.5, np.float32),
                                                      "t": np.array(True)}, opset=13)
    with pytest.raises(plnet.UnsupportedOpError, match="training"):
        plnet.from_onnx(model)


def test_cast_to_float_passes_and_to_int_is_refused(ox):
    ox.convert_and_compare(ox.one_node("Cast", [None, 3], {"to": TensorProto.FLOAT}))
    with pytest.raises(plnet.UnsupportedOpError, match="Cast"):
        plnet.from_onnx(ox.one_node("Cast", [None, 3], {"to": TensorProto.INT32}), check=False)


@pytest.mark.parametrize("opset", [9, 13, 17])
def test_legacy_flatten_through_shape_arithmetic_keeps_a_symbolic_batch(ox, opset):
    if opset < 13:
        unsq = helper.make_node("Unsqueeze", ["n"], ["n1"], axes=[0])
        consts = {}
    else:
        unsq = helper.make_node("Unsqueeze", ["n", "ax"], ["n1"])
        consts = {"ax": np.array([0], np.int64)}
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Constant", [], ["zero"], value=helper.make_tensor(
                 "zero", TensorProto.INT64, [], [0])),
             helper.make_node("Gather", ["s", "zero"], ["n"], axis=0), unsq,
             helper.make_node("Constant", [], ["m1"], value=helper.make_tensor(
                 "m1", TensorProto.INT64, [1], [-1])),
             helper.make_node("Concat", ["n1", "m1"], ["shape"], axis=0),
             helper.make_node("Reshape", ["x", "shape"], ["y"])]
    model = ox.make_model(nodes, [("x", [None, 2, 3, 2])], "y", consts, opset=opset)
    net = ox.convert_and_compare(model, batch=4)
    assert net.output_shape == (12,) and net.graph.graph["output_batch_axis"] == 0


def test_expand_broadcasts_a_tensor(ox):
    model = ox.one_node("Expand", [None, 1, 3], consts={"s": np.array([2, 1], np.int64)})
    net = ox.convert_and_compare(model)
    assert net.output_shape == (2, 3)


def test_identity_and_constant_chain(ox):
    nodes = [helper.make_node("Constant", [], ["c"], value_float=2.0),
             helper.make_node("Identity", ["x"], ["i"]), helper.make_node("Mul", ["i", "c"], ["y"])]
    net = ox.convert_and_compare(ox.make_model(nodes, [("x", [None, 2])], "y"))
    x = np.ones((1, 2))
    assert np.allclose(net(x), 2 * x)
