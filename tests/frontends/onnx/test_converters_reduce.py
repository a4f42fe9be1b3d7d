"""ReduceSum, ReduceMean, ReduceMax, ReduceMin and ReduceL1, one node each, against
onnxruntime over axes, keepdims and both forms of the axes (attribute and input)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import plnet

# the axes became an input at opset 13 for ReduceSum and at 18 for the others
INPUT_FORM = {"ReduceSum": 13, "ReduceMean": 18, "ReduceMax": 18, "ReduceMin": 18,
              "ReduceL1": 18}
AXES = [[1], [2, 3], [-1, 1], [1, 2, 3], [3, -2]]


def _reduce(ox, op, axes, keepdims, opset, in_shape=(None, 3, 4, 2), **attrs):
    attrs = {"keepdims": keepdims, **attrs}
    if opset < INPUT_FORM[op]:
        if axes is not None:
            attrs["axes"] = axes
        return ox.one_node(op, list(in_shape), attrs, opset=opset)
    consts = {} if axes is None else {"axes": np.array(axes, np.int64)}
    return ox.one_node(op, list(in_shape), attrs, consts, opset=opset)


@pytest.mark.parametrize("op", sorted(INPUT_FORM))
@pytest.mark.parametrize("axes", AXES)
@pytest.mark.parametrize("keepdims", [0, 1])
def test_reduce_over_sample_axes_matches_onnxruntime(ox, op, axes, keepdims):
    for opset in sorted({11, INPUT_FORM[op]}):
        net = ox.convert_and_compare(_reduce(ox, op, axes, keepdims, opset))
        assert net.graph.graph["output_batch_axis"] == 0


@pytest.mark.parametrize("op,units", [("ReduceMax", 3 * 7), ("ReduceMin", 3 * 7),
                                      ("ReduceMean", 0), ("ReduceSum", 0)])
def test_reduce_max_and_min_are_max_pool_comparisons_and_mean_adds_no_unit(ox, op, units):
    # 3 outputs, each the extreme of 8 entries: 7 comparison rows each
    net = ox.convert_and_compare(_reduce(ox, op, [2, 3], 0, 13))
    x = np.random.default_rng(1).standard_normal((2,) + net.input_shape)
    assert plnet.linearize(net, x).z.shape[1] == units


def test_reduce_min_selects_the_smallest_entry_and_passes_its_gradient(ox):
    net = ox.convert_and_compare(_reduce(ox, "ReduceMin", [1], 0, 13, in_shape=(None, 3)))
    x = np.array([[2.0, -1.0, 5.0]])
    assert net(x)[0] == -1.0
    np.testing.assert_array_equal(plnet.linearize(net, x).jacobian[0], [[0.0, 1.0, 0.0]])


@pytest.mark.parametrize("op", sorted(INPUT_FORM))
def test_reduce_over_every_axis_of_a_one_sample_input(ox, op):
    for opset in sorted({11, INPUT_FORM[op]}):
        net = ox.convert_and_compare(_reduce(ox, op, None, 0, opset, in_shape=(3, 2)),
                                     batch_dim=None)
        assert net.output_shape == ()


@pytest.mark.parametrize("op", sorted(INPUT_FORM))
def test_empty_axes_with_noop_is_the_identity(ox, op):
    model = _reduce(ox, op, None, 1, INPUT_FORM[op], noop_with_empty_axes=1)
    assert ox.convert_and_compare(model).output_shape == (3, 4, 2)


@pytest.mark.parametrize("op", sorted(INPUT_FORM))
def test_reducing_a_symbolic_batch_axis_is_refused(ox, op):
    with pytest.raises(plnet.UnsupportedOpError, match=rf"'the_{op.lower()}' \({op}.*batch"):
        plnet.from_onnx(_reduce(ox, op, [0, 1], 1, 13))
    with pytest.raises(plnet.UnsupportedOpError, match="batch axis"):
        plnet.from_onnx(_reduce(ox, op, None, 0, 13))  # every axis, the batch included


def test_reducing_a_batch_fixed_at_one_works_for_any_batch(ox):
    net = ox.convert_and_compare(_reduce(ox, "ReduceMean", [0, 2], 0, 13, in_shape=(1, 3, 4)),
                                 batch=1)
    assert net.graph.graph["output_batch_axis"] is None and net.output_shape == (3,)


@pytest.mark.parametrize("op", ["ReduceL2", "ReduceSumSquare", "ReduceProd",
                                "ReduceLogSumExp"])
def test_non_piecewise_linear_reductions_are_refused(ox, op):
    with pytest.raises(plnet.NotPiecewiseLinearError, match=op):
        plnet.from_onnx(ox.one_node(op, [None, 3], {"axes": [1]}, opset=13))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(op=st.sampled_from(sorted(INPUT_FORM)), data=st.data())
def test_any_set_of_sample_axes_of_any_shape_matches_onnxruntime(ox, op, data):
    sample = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3), label="sample")
    rank = len(sample) + 1
    axes = data.draw(st.lists(st.integers(1, rank - 1), min_size=1, unique=True), label="axes")
    axes = [a - rank if data.draw(st.booleans(), label="negative") else a for a in axes]
    keepdims = data.draw(st.sampled_from([0, 1]), label="keepdims")
    opset = data.draw(st.sampled_from(sorted({13, INPUT_FORM[op]})), label="opset")
    ox.convert_and_compare(_reduce(ox, op, axes, keepdims, opset, in_shape=[None] + sample))
