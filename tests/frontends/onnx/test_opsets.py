"""The newest opset the installed onnx knows, checked with onnx's reference evaluator.

onnxruntime may lag behind onnx's newest opset, so these models load with ``check=False``
and are compared with ``onnx.reference`` instead.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper
from onnx.reference import ReferenceEvaluator

import plnet

NEWEST = onnx.defs.onnx_opset_version()

CASES = {
    "relu": lambda ox, o: ox.one_node("Relu", [None, 4], opset=o),
    "squeeze": lambda ox, o: ox.one_node("Squeeze", [None, 1, 3],
                                         consts={"a": np.array([1], np.int64)}, opset=o),
    "reshape": lambda ox, o: ox.one_node("Reshape", [None, 2, 3],
                                         consts={"s": np.array([0, -1], np.int64)}, opset=o),
    "slice": lambda ox, o: ox.one_node("Slice", [None, 6], consts={
        "s": np.array([5], np.int64), "e": np.array([0], np.int64),
        "a": np.array([1], np.int64), "t": np.array([-2], np.int64)}, opset=o),
    "clip": lambda ox, o: ox.make_model(
        [helper.make_node("Clip", ["x", "lo", "hi"], ["y"])], [("x", [None, 5])], "y",
        {"lo": np.float32(-0.5), "hi": np.float32(0.5)}, opset=o),
    "conv": lambda ox, o: ox.one_node("Conv", [None, 1, 5, 5], {"pads": [1, 1, 1, 1]},
                                      {"w": np.ones((2, 1, 3, 3), np.float32)}, opset=o),
    "maxpool": lambda ox, o: ox.one_node("MaxPool", [None, 1, 5, 5],
                                         {"kernel_shape": [2, 2], "ceil_mode": 1}, opset=o),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("opset", sorted({13, 18, NEWEST}))
def test_newest_opsets_match_the_reference_evaluator(ox, case, opset):
    model = CASES[case](ox, opset)
    net = plnet.from_onnx(model, check=False)
    x = ox.random_batch(np.random.default_rng(0), net, 3)
    expected = ReferenceEvaluator(model).run(None, {"x": x.astype(np.float32)})[0]
    ox.assert_close(net(x), np.asarray(expected, np.float64))
