"""Every file of the public ONNX corpus behaves as the corpus README says."""

from __future__ import annotations

import numpy as np
import pytest

import plnet

ONE_SAMPLE_ZOO = ["relu", "leakyRelu", "gemm", "matmul", "add", "sub", "identity", "dropout",
                  "dropout_training_mode_false", "transpose", "reshape",
                  "reshape_with_dimension_inference", "flatten", "squeeze", "squeeze_with_axes",
                  "unsqueeze", "conv", "maxpool", "batchnorm", "cast_int_to_float"]

BATCHED = ["fc1", "fc_2-2-3", "linear2-3_bn1-linear3-1", "mnist2x10", "mnist5x20_leaky_relu",
           "conv_mp1", "KJ_TinyTaxiNet"]


def _load(corpus, stem):
    import onnx

    return onnx.load(str(corpus / f"{stem}.onnx"))


@pytest.mark.parametrize("op", ONE_SAMPLE_ZOO)
def test_layer_zoo_loads_as_one_sample_and_matches_onnxruntime(ox, corpus, op):
    model = _load(corpus, f"layerzoo_{op}")
    net = ox.convert_and_compare(model, batch_dim=None, batch=4)
    declared = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert list(net.input_shape) == declared


def test_layer_zoo_maxpool_with_ceil_mode_matches_exactly(ox, corpus):
    model = _load(corpus, "layerzoo_maxpool")
    net = plnet.from_onnx(model, batch_dim=None)
    x = ox.random_batch(np.random.default_rng(0), net, 6)
    expected = np.stack([ox.run_ort(model, {"x": xi}) for xi in x])
    assert net(x).shape == expected.shape == (6, 1, 1, 2, 2)
    assert np.array_equal(net(x), expected.astype(np.float64))  # a max rounds nothing


def test_layer_zoo_constant_output_is_a_clear_error(corpus):
    with pytest.raises(plnet.GraphError, match="'y'.*no graph input"):
        plnet.from_onnx(corpus / "layerzoo_constant.onnx", batch_dim=None)


def test_dropout_in_training_mode_is_a_clear_error(corpus):
    with pytest.raises(plnet.UnsupportedOpError, match="Dropout.*training_mode=True"):
        plnet.from_onnx(corpus / "layerzoo_dropout_training_mode_true.onnx", batch_dim=None)


@pytest.mark.parametrize("stem,op,opset", [("layerzoo_sigmoid", "Sigmoid", 20),
                                           ("layerzoo_tanh", "Tanh", 20),
                                           ("fc_2-2sigmoids-3", "Sigmoid", 9)])
def test_sigmoid_and_tanh_files_name_op_node_and_opset(corpus, stem, op, opset):
    with pytest.raises(plnet.NotPiecewiseLinearError) as info:
        plnet.from_onnx(corpus / f"{stem}.onnx",
                        batch_dim=None if stem.startswith("layerzoo") else 0)
    message = str(info.value)
    assert f"({op}, opset {opset})" in message and "node '" in message
    assert stem in message  # the file


@pytest.mark.parametrize("stem", BATCHED)
def test_verification_models_load_and_match_onnxruntime(ox, corpus, stem):
    ox.convert_and_compare(_load(corpus, stem), batch=5)


def test_batch_norm_after_gemm_is_folded_into_the_dense_layer(ox, corpus):
    net = ox.convert_and_compare(_load(corpus, "linear2-3_bn1-linear3-1"), batch=5)
    assert [net.op(n).type_name for n in net.order] == ["input", "dense", "dense"]
    first, second = (net.op(n) for n in net.order[1:])
    # the file: W1 = ones, b1 = 0; bn gamma [1, 0, 1], beta [1, 2, 3], mean 0, var 1
    scale = np.array([1.0, 0.0, 1.0]) / np.sqrt(1.0 + np.float32(1e-5))
    assert np.allclose(net.params[first.weight], scale[:, None] * np.ones((3, 2)))
    assert np.allclose(net.params[first.bias], [1.0, 2.0, 3.0])
    assert np.array_equal(net.params[second.bias], [0.0])  # the second Gemm's C


def test_nhwc_taxinet_keeps_its_layout(corpus):
    net = plnet.from_onnx(corpus / "KJ_TinyTaxiNet.onnx")
    assert net.input_shape == (8, 16, 1) and net.output_shape == (2,)


def test_conv_mp1_runs_any_batch_though_the_file_fixes_one(ox, corpus):
    net = ox.convert_and_compare(_load(corpus, "conv_mp1"), batch=7)
    assert net.input_shape == (3, 8, 8) and net.output_shape == (5,)


def test_reshape_heavy_fc_matmul_without_batch(ox, corpus):
    net = ox.convert_and_compare(_load(corpus, "fc_matMul"), batch_dim=None)
    assert net.input_shape == (25, 5) and net.output_shape == (1, 5)


def test_fc_matmul_with_a_batch_axis_is_refused_clearly(corpus):
    with pytest.raises(plnet.UnsupportedOpError, match="batch"):
        plnet.from_onnx(corpus / "fc_matMul.onnx")


def test_two_inputs_are_joined_and_one_output_is_chosen(ox, corpus):
    model = _load(corpus, "multiInput_add")
    net = ox.convert_and_compare(model, batch_dim=None, output="Y")
    assert net.input_shape == (10,)
    assert net.graph.graph["onnx_inputs"] == [("X1", 0, (5, 1)), ("X2", 5, (1, 5))]
    only_first = plnet.from_onnx(model, batch_dim=None, output="relu1")
    assert only_first.input_shape == (5, 1)


@pytest.mark.parametrize("stem", ["multiInput_add", "oneInput_twoBranches"])
def test_several_outputs_without_a_choice_is_a_clear_error(corpus, stem):
    with pytest.raises(plnet.GraphError, match="2 outputs.*output="):
        plnet.from_onnx(corpus / f"{stem}.onnx", batch_dim=None)


@pytest.mark.parametrize("output", ["Y", "add1"])
def test_two_branches_each_output_by_name(ox, corpus, output):
    net = ox.convert_and_compare(_load(corpus, "oneInput_twoBranches"), batch_dim=None,
                                 output=output)
    assert net.output_shape == (2, 6)


@pytest.mark.parametrize("drop_trailing", [False, True])
def test_fc_with_a_middle_sigmoid_suggests_its_input_as_the_output(ox, corpus, drop_trailing):
    with pytest.raises(plnet.NotPiecewiseLinearError) as info:
        plnet.from_onnx(corpus / "fc_2-2sigmoids-3.onnx", drop_trailing=drop_trailing)
    message = str(info.value)
    assert "not the last op" in message and "output='biased_tensor_name1'" in message
    net = ox.convert_and_compare(_load(corpus, "fc_2-2sigmoids-3"),
                                 output="biased_tensor_name1")
    assert [net.op(n).type_name for n in net.order] == ["input", "dense"]


def test_a_lone_sigmoid_is_the_last_op_and_drop_trailing_removes_it(corpus):
    path = corpus / "layerzoo_sigmoid.onnx"
    with pytest.raises(plnet.NotPiecewiseLinearError, match="last op: load with drop_trailing"):
        plnet.from_onnx(path, batch_dim=None)
    net = plnet.from_onnx(path, batch_dim=None, drop_trailing=True)
    assert net.graph.graph["dropped"] == [{"op": "Sigmoid", "node": "y"}]
    x = np.random.default_rng(0).standard_normal((3, *net.input_shape))
    assert np.array_equal(net(x), x)
