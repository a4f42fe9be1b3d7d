"""Einsum of a network tensor and one constant, when it is linear in the tensor."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import plnet

RNG = np.random.default_rng(0)
CASES = [  # (equation, tensor shape, constant shape, constant first)
    ("bij,jk->bik", [None, 3, 4], (4, 5), False),
    ("bchw,c->bhw", [None, 3, 2, 4], (3,), False),
    ("ij,bj->bi", [None, 4], (5, 4), True),
    ("bij,kj->bki", [None, 3, 4], (2, 4), False),
    ("bi,j->bij", [None, 3], (2,), False),
    ("bij,jk->bk", [None, 3, 4], (4, 2), False),
    ("bij,ik", [None, 3, 4], (3, 2), False),
    ("bci,ij->bjc", [None, 2, 3], (3, 4), False),
]


@pytest.mark.parametrize("equation,shape,const_shape,const_first", CASES)
def test_einsum_linear_in_the_tensor_matches_onnxruntime(ox, equation, shape, const_shape,
                                                         const_first):
    inputs = ["w", "x"] if const_first else ["x", "w"]
    node = helper.make_node("Einsum", inputs, ["y"], name="the_einsum", equation=equation)
    model = ox.make_model([node], [("x", shape)], "y",
                          {"w": RNG.standard_normal(const_shape).astype(np.float32)}, opset=13)
    net = ox.convert_and_compare(model)
    assert net.graph.graph["output_batch_axis"] == (equation.split("->")[-1].index("b")
                                                    if "->" in equation else 0)


@pytest.mark.parametrize("equation,match", [
    ("bij,bij->bij", "two input-dependent"),
])
def test_einsum_of_two_tensors_is_not_piecewise_linear(ox, equation, match):
    node = helper.make_node("Einsum", ["x", "x"], ["y"], name="the_einsum", equation=equation)
    model = ox.make_model([node], [("x", [None, 2, 3])], "y", opset=13)
    with pytest.raises(plnet.NotPiecewiseLinearError, match=match):
        plnet.from_onnx(model)


@pytest.mark.parametrize("equation,const_shape,match", [
    ("bij,j->bij", (3,), "elementwise"),
    ("bii,i->bi", (2,), "repeated letter"),
    ("...j,jk->...k", (3, 2), "ellipsis"),
    ("bij,jk->ik", (3, 2), "batch axis"),
])
def test_einsum_forms_outside_the_supported_one_are_refused_clearly(ox, equation, const_shape,
                                                                     match):
    node = helper.make_node("Einsum", ["x", "w"], ["y"], name="the_einsum", equation=equation)
    shape = [None, 2, 2] if equation.startswith("bii") else [None, 2, 3]
    model = ox.make_model([node], [("x", shape)], "y",
                          {"w": np.ones(const_shape, np.float32)}, opset=13)
    with pytest.raises(plnet.UnsupportedOpError, match=f"'the_einsum' \\(Einsum.*{match}"):
        plnet.from_onnx(model)
