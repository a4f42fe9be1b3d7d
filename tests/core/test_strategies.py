"""The public hypothesis strategies: coverage of every op and attribute, sizes, options."""

from __future__ import annotations

import collections

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import plnet
from plnet.ops import OP_REGISTRY
from plnet.testing import strategies as pst

SAMPLE = settings(max_examples=400, derandomize=True, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))


def features_of(net):
    """The op types and notable attributes one network exercises."""
    out = set()
    for name in net.graph:
        op = net.op(name)
        t = op.type_name
        out.add(t)
        if t == "conv":
            out.add(f"conv{len(op.stride)}d")
            out |= {"conv_asymmetric_padding"} if any(b != e for b, e in op.padding) else set()
            out |= {"conv_dilation"} if max(op.dilation) > 1 else set()
            out |= {"conv_stride"} if max(op.stride) > 1 else set()
            out |= {"conv_groups"} if op.groups > 1 else set()
        if t == "conv_transpose":
            out.add(f"conv_transpose{len(op.stride)}d")
            out |= {"conv_transpose_asymmetric_padding"} if any(
                b != e for b, e in op.padding) else set()
            out |= {"conv_transpose_output_padding"} if max(op.output_padding) > 0 else set()
            out |= {"conv_transpose_dilation"} if max(op.dilation) > 1 else set()
            out |= {"conv_transpose_stride"} if max(op.stride) > 1 else set()
            out |= {"conv_transpose_groups"} if op.groups > 1 else set()
        if t in ("avg_pool", "max_pool"):
            out.add(f"{t}{len(op.kernel)}d")
            out |= {f"{t}_ceil_mode"} if op.ceil_mode else set()
            out |= {f"{t}_padding"} if any(max(p) > 0 for p in op.padding) else set()
            out |= {f"{t}_stride"} if max(op.stride) > 1 else set()
            out |= {f"{t}_dilation"} if max(op.dilation) > 1 else set()
            if t == "avg_pool" and not op.count_include_pad:
                out.add("avg_pool_exclude_pad")
        if t == "leaky_relu" and op.alpha < 0:
            out.add("leaky_relu_negative_alpha")
        if t == "prelu":
            slope = net.params[op.slope]
            out.add("prelu_scalar" if slope.size == 1 else "prelu_per_channel")
            out |= {"prelu_negative_slope"} if (slope < 0).any() else set()
            out |= {"prelu_slope_above_one"} if (slope > 1).any() else set()
        if t == "add" and len(net.inputs_of(name)) > 2:
            out.add("add_nary")
        if t == "add" and net.input_name in net.inputs_of(name):
            out.add("add_residual_on_input")
        if t in ("relu", "leaky_relu") and ".h" in name:
            out.add(f"rnn_{t}")
        if t == "take" and not op.keepdim:
            out.add("take_drops_axis")
    return out


def test_the_strategies_use_every_registered_op_and_attribute():
    seen = collections.Counter()

    @SAMPLE
    @given(pst.networks())
    def collect(net):
        seen.update(features_of(net))

    collect()
    assert set(OP_REGISTRY) <= set(seen), f"never drawn: {set(OP_REGISTRY) - set(seen)}"
    wanted = {"conv1d", "conv2d", "conv_asymmetric_padding", "conv_dilation", "conv_stride",
              "conv_groups", "max_pool1d", "max_pool2d", "max_pool_ceil_mode", "max_pool_padding",
              "max_pool_stride", "max_pool_dilation", "avg_pool1d", "avg_pool2d",
              "avg_pool_ceil_mode", "avg_pool_padding", "avg_pool_exclude_pad",
              "leaky_relu_negative_alpha", "add_nary", "rnn_relu", "rnn_leaky_relu",
              "take_drops_axis", "prelu_scalar", "prelu_per_channel", "prelu_negative_slope",
              "prelu_slope_above_one", "conv_transpose", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose_asymmetric_padding", "conv_transpose_output_padding",
              "conv_transpose_dilation", "conv_transpose_stride", "conv_transpose_groups"}
    assert wanted <= set(seen), f"never drawn: {wanted - set(seen)}"


@settings(max_examples=60)
@given(pst.network_and_points(batch_size=3))
def test_networks_are_small_and_points_finite_and_tie_free(net_x):
    net, x = net_x
    assert net.input_size <= 64 and 1 <= net.num_units <= 200
    assert x.shape == (3,) + net.input_shape and np.isfinite(x).all()
    assert not plnet.linearize(net, x).ties.any()


@settings(max_examples=30)
@given(st.data())
def test_options_are_honoured(data):
    ops = data.draw(st.sampled_from([{"dense", "relu"}, {"conv", "leaky_relu", "flatten", "dense"},
                                     {"max_pool", "avg_pool", "pad"}]))
    shapes = [(2, 5), (1, 3, 4)] if "dense" not in ops or "conv" in ops else [(4,), (2, 3)]
    net = data.draw(pst.networks(ops=ops, input_shapes=shapes, min_units=2, max_units=40,
                                 families=("mlp", "cnn1d", "cnn2d")))
    used = {net.op(n).type_name for n in net.graph} - {"input"}
    assert used <= ops
    assert 2 <= net.num_units <= 40
    assert net.input_shape in shapes


@settings(max_examples=30)
@given(st.data(), st.sampled_from(pst.FAMILIES))
def test_each_family_can_be_drawn_alone(data, family):
    net = data.draw(pst.networks(families=[family], max_depth=2))
    rank = {"cnn1d": 2, "cnn2d": 3, "rnn": 2}.get(family)
    assert rank is None or len(net.input_shape) == rank


@settings(max_examples=30)
@given(st.data())
def test_directions_have_unit_norm_and_the_input_shape(data):
    net = data.draw(pst.networks(max_depth=1))
    v = data.draw(pst.directions_for(net))
    assert v.shape == net.input_shape and np.isclose(np.linalg.norm(v), 1.0)
    vs = data.draw(pst.directions_for(net, batch_size=4))
    assert vs.shape == (4,) + net.input_shape
    np.testing.assert_allclose(np.linalg.norm(vs.reshape(4, -1), axis=1), 1.0)
    x = data.draw(pst.points_for(net, batch_size=st.integers(1, 5), scale=10.0))
    assert 1 <= len(x) <= 5 and np.isfinite(x).all()
