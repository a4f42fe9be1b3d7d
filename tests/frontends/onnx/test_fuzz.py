"""Malformed models: a clear plnet error every time, never a crash or a wrong network."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import helper

import plnet

SMALL_FILES = ["fc_2-2-3", "layerzoo_maxpool", "linear2-3_bn1-linear3-1", "layerzoo_gemm"]


def _load_or_plnet_error(data, **kwargs):
    """Either a PlnetError, or a network that onnxruntime agrees with (check=True)."""
    try:
        net = plnet.from_onnx(data, **kwargs)
    except plnet.PlnetError as exc:
        assert str(exc)
        return None
    assert isinstance(net, plnet.Network)
    return net


@pytest.mark.parametrize("stem", SMALL_FILES)
def test_every_truncation_is_an_error_or_a_checked_network(corpus, stem):
    data = (corpus / f"{stem}.onnx").read_bytes()
    batch_dim = None if stem.startswith("layerzoo") else 0
    for cut in range(0, len(data), max(1, len(data) // 40)):
        _load_or_plnet_error(data[:cut], batch_dim=batch_dim)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stem=st.sampled_from(SMALL_FILES), data=st.data())
def test_corrupted_bytes_are_an_error_or_a_checked_network(corpus, stem, data):
    raw = bytearray((corpus / f"{stem}.onnx").read_bytes())
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(0, 255)),
                               min_size=1, max_size=4))
    for pos, value in flips:
        raw[pos] = value
    _load_or_plnet_error(bytes(raw), batch_dim=None if stem.startswith("layerzoo") else 0)


def test_not_an_onnx_file(tmp_path):
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\x00\xffthis is not protobuf" * 3)
    with pytest.raises(plnet.SerializationError, match="junk.onnx"):
        plnet.from_onnx(path)
    with pytest.raises(plnet.SerializationError, match="no_such.onnx"):
        plnet.from_onnx(tmp_path / "no_such.onnx")
    with pytest.raises(plnet.InvalidInputError, match="path, bytes"):
        plnet.from_onnx(42)


def test_missing_initializer_names_the_value(ox, corpus):
    model = onnx.load(str(corpus / "fc_2-2-3.onnx"))
    name = model.graph.initializer[0].name
    del model.graph.initializer[0]
    with pytest.raises(plnet.GraphError, match=f"{name!r}.*never defined"):
        plnet.from_onnx(model)


@pytest.mark.parametrize("opset", [1, 6, 99])
def test_unsupported_opsets_are_refused_with_the_range(ox, opset):
    model = ox.one_node("Relu", [None, 2])
    model.opset_import[0].version = opset
    with pytest.raises(plnet.UnsupportedOpError, match=f"opset {opset} is not supported"):
        plnet.from_onnx(model)


def test_op_from_another_domain_is_refused(ox):
    node = helper.make_node("Relu", ["x"], ["y"], domain="com.example", name="custom")
    model = ox.make_model([node], [("x", [None, 2])], "y")
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    with pytest.raises(plnet.UnsupportedOpError, match="'custom'.*com.example"):
        plnet.from_onnx(model)


def test_mismatched_weight_shape_names_the_node(ox):
    node = helper.make_node("Gemm", ["x", "w"], ["y"], name="fc")
    model = ox.make_model([node], [("x", [None, 3])], "y", {"w": np.ones((4, 2), np.float32)})
    with pytest.raises(plnet.ShapeError, match="'fc'.*Gemm"):
        plnet.from_onnx(model)


def test_mismatched_conv_channels_name_the_node(ox):
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv")
    model = ox.make_model([node], [("x", [None, 3, 5, 5])], "y",
                          {"w": np.ones((2, 2, 3, 3), np.float32)})
    with pytest.raises(plnet.ShapeError, match="'conv'.*input channels"):
        plnet.from_onnx(model)


def test_symbolic_non_batch_dimension_is_refused(ox):
    model = ox.one_node("Relu", [None, 2])
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "F"
    with pytest.raises(plnet.ShapeError, match="fixed positive size"):
        plnet.from_onnx(model)


def test_symbolic_first_sample_axis_of_a_sequence_input_gives_a_sequence_model(ox):
    model = ox.one_node("Relu", [None, 3, 2])
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "T"
    assert isinstance(plnet.from_onnx(model), plnet.sequence.SequenceModel)


def test_symbolic_inner_axis_is_refused(ox):
    model = ox.one_node("Relu", [None, 3, 2])
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "F"
    with pytest.raises(plnet.ShapeError, match="first axis of a sample"):
        plnet.from_onnx(model)


def test_integer_input_is_refused(ox):
    model = ox.one_node("Relu", [None, 2])
    model.graph.input[0].type.tensor_type.elem_type = onnx.TensorProto.INT64
    with pytest.raises(plnet.UnsupportedOpError, match="element type"):
        plnet.from_onnx(model)


def test_cycle_is_refused(ox):
    a = helper.make_node("Relu", ["b"], ["a"])
    b = helper.make_node("Relu", ["a"], ["b"])
    model = ox.make_model([a, b], [("x", [None, 2])], "b")
    with pytest.raises(plnet.GraphError, match="cycle"):
        plnet.from_onnx(model)


def test_unknown_output_and_bad_input_names(ox):
    model = ox.one_node("Relu", [None, 2])
    with pytest.raises(plnet.GraphError, match="'nope'"):
        plnet.from_onnx(model, output="nope")
    with pytest.raises(plnet.GraphError, match="not graph inputs"):
        plnet.from_onnx(model, input_names=["z"])


def test_attribute_unknown_to_the_schema_is_refused(ox):
    model = ox.one_node("LeakyRelu", [None, 2], {"alpah": 0.3})
    with pytest.raises(plnet.UnsupportedOpError, match="alpah"):
        plnet.from_onnx(model, check=False)
