"""from_onnx options: trailing ops, the onnxruntime check, providers, lazy imports."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from onnx import helper
from onnx.numpy_helper import to_array as onnx_numpy

import plnet
from plnet.frontends.onnx import check, registry
from plnet.ops import LeakyReLU


def _classifier(ox, last="Softmax"):
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Gemm", ["x", "w"], ["h"]),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "v"], ["logits"]),
             helper.make_node(last, ["logits"], ["y"], name="head")]
    return ox.make_model(nodes, [("x", [None, 3])], "y",
                         {"w": rng.standard_normal((3, 4)).astype(np.float32),
                          "v": rng.standard_normal((4, 2)).astype(np.float32)})


@pytest.mark.parametrize("last", ["Softmax", "LogSoftmax", "Sigmoid"])
def test_trailing_op_is_an_error_unless_dropped(ox, last):
    model = _classifier(ox, last)
    with pytest.raises(plnet.NotPiecewiseLinearError, match="drop_trailing"):
        plnet.from_onnx(model)
    net = plnet.from_onnx(model, drop_trailing=True)
    assert net.graph.graph["dropped"] == [{"op": last, "node": "head"}]
    assert net.graph.graph["onnx_output"] == "logits"
    x = np.random.default_rng(1).standard_normal((4, 3))
    w, v = (np.asarray(onnx_numpy(i), np.float64) for i in model.graph.initializer)
    assert np.allclose(net(x), np.maximum(x @ w, 0) @ v, rtol=1e-12, atol=1e-12)


def test_nothing_is_dropped_by_default(ox):
    net = plnet.from_onnx(ox.one_node("Relu", [None, 2]))
    assert net.graph.graph["dropped"] == []


def test_a_wrong_converter_is_caught_by_the_check(ox, monkeypatch):
    def convert_relu_wrong(node):
        x = node.tensor(0)
        return node.ctx.emit(LeakyReLU(alpha=0.5), [x], node.name, x)

    entry = registry.REGISTRY["Relu"][0]
    monkeypatch.setitem(registry.REGISTRY, "Relu",
                        [registry.Registration("Relu", entry.first, entry.last,
                                               convert_relu_wrong)])
    model = ox.one_node("Relu", [None, 6])
    with pytest.raises(plnet.ConversionMismatch) as info:
        plnet.from_onnx(model, check_samples=16)
    assert info.value.max_abs_error > info.value.tolerance > 0
    assert isinstance(plnet.from_onnx(model, check=False), plnet.Network)


def test_cuda_provider_comes_first_when_available(monkeypatch):
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert check.providers() == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert check.providers() == ["CPUExecutionProvider"]


def test_check_samples_must_be_positive(ox):
    with pytest.raises(plnet.InvalidInputError, match="check_samples"):
        plnet.from_onnx(ox.one_node("Relu", [None, 2]), check_samples=0)


def test_model_accepted_as_path_bytes_and_proto(ox, tmp_path):
    model = ox.one_node("Relu", [None, 2])
    path = tmp_path / "relu.onnx"
    path.write_bytes(model.SerializeToString())
    for source in (model, model.SerializeToString(), path, str(path)):
        assert plnet.from_onnx(source).input_shape == (2,)


def test_initializers_listed_among_graph_inputs_are_constants(ox, corpus):
    import onnx

    model = onnx.load(str(corpus / "fc1.onnx"))  # tf2onnx, IR 5: weights are graph inputs too
    assert len(model.graph.input) > 1
    net = plnet.from_onnx(model)
    assert net.graph.graph["onnx_inputs"] == [("Placeholder:0", 0, (2,))]


def test_importing_the_frontend_does_not_import_onnx():
    code = ("import sys, plnet, plnet.frontends.onnx; "
            "print('onnx' in sys.modules, 'onnxruntime' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


def _classifier_with_tail(ox, tail, opset=17):
    """Gemm -> Softmax -> ``tail`` (a list of (op_type, extra inputs, attrs)) -> y."""
    rng = np.random.default_rng(2)
    nodes = [helper.make_node("Gemm", ["x", "w"], ["logits"], name="gemm"),
             helper.make_node("Softmax", ["logits"], ["t0"], name="head")]
    for i, (op_type, extra, attrs) in enumerate(tail):
        out = "y" if i == len(tail) - 1 else f"t{i + 1}"
        nodes.append(helper.make_node(op_type, [f"t{i}", *extra], [out], name=f"tail{i}",
                                      **attrs))
    consts = {"w": rng.standard_normal((3, 2)).astype(np.float32),
              "no": np.array(False), "yes": np.array(True)}
    return ox.make_model(nodes, [("x", [None, 3])], "y", consts, opset=opset)


PASS_THROUGH_TAILS = {
    "identity": [("Identity", [], {})],
    "dropout": [("Dropout", [], {})],
    "dropout_training_false": [("Dropout", ["", "no"], {})],
    "cast_identity_dropout": [("Cast", [], {"to": 1}), ("Identity", [], {}),
                              ("Dropout", [], {})],
}


@pytest.mark.parametrize("tail", list(PASS_THROUGH_TAILS))
def test_drop_trailing_looks_through_pass_through_nodes(ox, tail):
    model = _classifier_with_tail(ox, PASS_THROUGH_TAILS[tail])
    with pytest.raises(plnet.NotPiecewiseLinearError, match="last op: load with drop_trailing"):
        plnet.from_onnx(model)
    net = plnet.from_onnx(model, drop_trailing=True)
    assert net.graph.graph["onnx_output"] == "logits"
    dropped = [d["op"] for d in net.graph.graph["dropped"]]
    assert dropped == [op for op, _, _ in PASS_THROUGH_TAILS[tail][::-1]] + ["Softmax"]
    ox.assert_close(net(np.ones((2, 3))), ox.run_ort(model, {"x": np.ones((2, 3))}, "logits"))


def test_dropout_in_training_mode_is_not_looked_through(ox):
    model = _classifier_with_tail(ox, [("Dropout", ["", "yes"], {})])
    with pytest.raises(plnet.NotPiecewiseLinearError, match="'head'.*not the last op"):
        plnet.from_onnx(model, drop_trailing=True)


def test_pass_through_nodes_without_a_trailing_op_are_kept(ox):
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Identity", ["r"], ["y"])]
    model = ox.make_model(nodes, [("x", [None, 3])], "y")
    net = plnet.from_onnx(model, drop_trailing=True)
    assert net.graph.graph["dropped"] == [] and net.graph.graph["onnx_output"] == "y"


@pytest.mark.parametrize("drop_trailing", [False, True])
def test_a_sigmoid_in_the_middle_names_the_intermediate_output_to_choose(ox, drop_trailing):
    rng = np.random.default_rng(3)
    nodes = [helper.make_node("Gemm", ["x", "w"], ["h"]),
             helper.make_node("Identity", ["h"], ["hidden"]),
             helper.make_node("Sigmoid", ["hidden"], ["s"], name="mid"),
             helper.make_node("Gemm", ["s", "v"], ["y"])]
    model = ox.make_model(nodes, [("x", [None, 3])], "y",
                          {"w": rng.standard_normal((3, 4)).astype(np.float32),
                           "v": rng.standard_normal((4, 2)).astype(np.float32)})
    with pytest.raises(plnet.NotPiecewiseLinearError) as info:
        plnet.from_onnx(model, drop_trailing=drop_trailing)
    assert "'mid' (Sigmoid, opset 17)" in str(info.value)
    assert "not the last op" in str(info.value) and "output='hidden'" in str(info.value)
    net = ox.convert_and_compare(model, output="hidden")
    assert net.output_shape == (4,)
