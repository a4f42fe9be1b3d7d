"""linearize on receptive-field patches equals linearize on dense tangents (values, unit
gradients, signs, indicators, ties, output Jacobian and offset), on hand-built nets covering
every patch rule and window option and on hypothesis CNNs with every node on patches."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import plnet
from plnet.analysis import patches
from plnet.analysis.patches import PatchPlan
from plnet.demo import relu_mlp
from plnet.errors import NonFiniteError
from plnet.testing import strategies as pst
from plnet.testing.window_nets import conv_output, resnet_like, window_zoo

#: float64 rounding of sums taken in another order, relative to 1 + the largest entry
ROUNDING = 1e-12

FIELDS = ("z", "grad", "signs", "output", "jacobian", "offset", "slack", "tie_units", "ties")


def linearize_with(fraction, net, x):
    """``plnet.linearize`` with :data:`plnet.analysis.patches.PATCH_FRACTION` set."""
    saved = patches.PATCH_FRACTION
    patches.PATCH_FRACTION = fraction
    try:
        return plnet.linearize(net, x), PatchPlan(net)
    finally:
        patches.PATCH_FRACTION = saved


def assert_patched_equals_dense(net, x, fraction=float("inf")):
    """The patched linearization equals the dense one; returns the patch plan."""
    patched, plan = linearize_with(fraction, net, x)
    dense, off = linearize_with(0.0, net, x)
    assert not off.geometry
    for field in FIELDS:
        a, b = getattr(patched, field), getattr(dense, field)
        scale = 1.0 + np.abs(b).max(initial=0.0)
        np.testing.assert_allclose(a, b, rtol=0, atol=ROUNDING * scale, err_msg=field)
    assert patched.unit_slices == dense.unit_slices
    assert patched.indicators.keys() == dense.indicators.keys()
    for name, indicator in dense.indicators.items():
        np.testing.assert_array_equal(patched.indicators[name], indicator, err_msg=name)
    return plan


def patched_ops(net, plan):
    return {net.op(name).type_name for name in plan.geometry}


@pytest.mark.parametrize("build", [window_zoo, conv_output, resnet_like])
def test_patched_nets_equal_the_dense_path(build):
    net = build(np.random.default_rng(0))
    x = np.random.default_rng(1).normal(size=(4,) + net.input_shape)
    plan = assert_patched_equals_dense(net, x)
    assert {"conv", "relu"} <= patched_ops(net, plan)


def test_the_zoo_patches_every_op_with_a_rule():
    net = window_zoo(np.random.default_rng(0))
    _, plan = linearize_with(float("inf"), net, np.zeros((1,) + net.input_shape))
    assert patched_ops(net, plan) == {"input", "scale_shift", "conv", "leaky_relu", "prelu",
                                      "add", "relu", "max_pool", "avg_pool"}


def test_a_network_whose_output_is_a_convolution_hands_its_output_over():
    net = conv_output(np.random.default_rng(2))
    x = np.random.default_rng(3).normal(size=(3,) + net.input_shape)
    plan = assert_patched_equals_dense(net, x)
    assert net.output in plan.geometry and plan.handover == {net.output}


def test_ties_at_zero_input_follow_the_dense_path():
    # an all-zero input puts every ReLU at 0 (inactive) and ties every max-pool window
    net = conv_output(np.random.default_rng(3))
    x = np.zeros((2,) + net.input_shape)
    x[1] = np.random.default_rng(4).normal(size=net.input_shape)
    assert_patched_equals_dense(net, x)
    assert plnet.linearize(net, x).ties[0]


def test_gradients_outside_the_receptive_field_are_exact_zeros():
    net = conv_output(np.random.default_rng(5))  # 3x3 conv, padding 1, on 8 x 8
    lin, plan = linearize_with(float("inf"), net, np.ones((1,) + net.input_shape))
    first = lin.unit_slices[net.pattern_nodes()[0]]
    grad = lin.grad[0, first].reshape(3, 8, 8, 8, 8)  # [C, y, x, input row, input column]
    rows = np.abs(np.arange(8)[:, None] - np.arange(8)[None, :]) <= 1  # [y, input row]
    box = rows[:, None, :, None] & rows[None, :, None, :]  # [y, x, row, column]
    assert (grad[:, ~box] == 0).all()
    assert (grad[:, box] != 0).any()


def test_default_plan_patches_the_early_layers_of_a_resnet_then_hands_over():
    net = resnet_like(np.random.default_rng(7))
    x = np.random.default_rng(8).normal(size=(3,) + net.input_shape)
    plan = assert_patched_equals_dense(net, x, fraction=patches.PATCH_FRACTION)
    assert plan.handover and net.output not in plan.geometry
    assert "dense" not in patched_ops(net, plan)


def test_networks_without_patched_units_have_an_empty_plan():
    mlp = relu_mlp((6, 5, 2))
    b = plnet.NetworkBuilder((2, 6))  # 1-d convolution: no patch rule
    h = b.relu(b.conv(b.input, np.ones((3, 2, 2)), None))
    cnn1d = b.build(b.dense(b.flatten(h), np.ones((2, 15))))
    for net in (mlp, cnn1d):
        assert not PatchPlan(net).geometry and not PatchPlan(net).handover


def test_overflow_on_patches_names_the_node_as_the_dense_path():
    b = plnet.NetworkBuilder((1, 6, 6))
    h = b.relu(b.conv(b.input, np.full((2, 1, 3, 3), 1e200), None))
    h = b.relu(b.conv(h, np.full((2, 2, 3, 3), 1e200), None))
    net = b.build(b.dense(b.flatten(h), np.ones((1, 8))))
    x = np.ones((1,) + net.input_shape)
    messages = []
    for fraction in (float("inf"), 0.0):
        with pytest.raises(NonFiniteError) as info:
            linearize_with(fraction, net, x)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=pst.networks(families=["cnn2d"], max_units=120, max_input_size=64),
       seed=st.integers(0, 2 ** 16))
def test_hypothesis_cnns_on_patches_equal_the_dense_path(net, seed):
    x = np.random.default_rng(seed).normal(size=(3,) + net.input_shape)
    assert_patched_equals_dense(net, x)
