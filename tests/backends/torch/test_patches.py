"""Receptive-field patches give exactly the numpy reference's gradients, norms and output
Jacobian: on hand-built nets covering every op with a patch rule and every window option,
on hypothesis CNNs, in groups of points, in chunks of axes, and when nothing is patched."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import plnet
from plnet.tolerances import REFERENCE_RTOL

torch = pytest.importorskip("torch")

from plnet.analysis import patches as plan_rules  # noqa: E402
from plnet.backends.torch import compile, gradients  # noqa: E402
from plnet.backends.torch.gradients import unit_gradient_norms, unit_gradients  # noqa: E402
from plnet.backends.torch.patch_engine import patch_plan  # noqa: E402
from plnet.testing import strategies as pst  # noqa: E402
from plnet.testing.window_nets import conv_output, resnet_like, window_zoo  # noqa: E402


@pytest.fixture
def patch_everything(monkeypatch):
    """Every node with a patch rule runs on patches, however large its boxes."""
    monkeypatch.setattr(plan_rules, "PATCH_FRACTION", float("inf"))


def assert_close(actual, expected):
    actual = actual.detach().cpu().numpy() if hasattr(actual, "detach") else actual
    scale = 1.0 + np.abs(expected).max(initial=0.0)
    np.testing.assert_allclose(actual, expected, rtol=REFERENCE_RTOL,
                               atol=REFERENCE_RTOL * scale)


def check_against_reference(net, x, chunk_size=None):
    """Gradients, their three norms and the output Jacobian equal ``plnet.linearize``;
    returns the module's patch plan."""
    module = compile(net, device="cpu", dtype=torch.float64)
    saved, plan_rules.PATCH_FRACTION = plan_rules.PATCH_FRACTION, 0.0
    try:  # the reference's dense path: no patch arithmetic shared with the torch side
        lin = plnet.linearize(net, x)
    finally:
        plan_rules.PATCH_FRACTION = saved
    with torch.no_grad():
        z, grad = unit_gradients(module, x, chunk_size=chunk_size)
        _, norms, jac = unit_gradient_norms(module, x, ("sq", "abs", "max"),
                                            chunk_size=chunk_size, want_output=True)
    assert_close(z, lin.z)
    assert_close(grad, lin.grad)
    assert_close(norms["sq"], np.square(lin.grad).sum(axis=2))
    assert_close(norms["abs"], np.abs(lin.grad).sum(axis=2))
    assert_close(norms["max"], np.abs(lin.grad).max(axis=2, initial=0.0))
    assert_close(jac, lin.jacobian)
    return patch_plan(module)


@pytest.mark.parametrize("build", [window_zoo, conv_output, resnet_like])
def test_patched_nets_equal_the_reference(build, patch_everything):
    net = build(np.random.default_rng(0))
    x = np.random.default_rng(1).normal(size=(4,) + net.input_shape)
    plan = check_against_reference(net, x)
    patched_ops = {net.op(net.order[i]).type_name for i in plan.geometry}
    assert plan.pattern_steps
    assert {"conv", "relu"} <= patched_ops


def test_the_zoo_patches_every_op_with_a_rule(patch_everything):
    net = window_zoo(np.random.default_rng(0))
    module = compile(net, device="cpu", dtype=torch.float64)
    plan = patch_plan(module)
    patched_ops = {net.op(net.order[i]).type_name for i in plan.geometry}
    assert patched_ops == {"input", "scale_shift", "conv", "leaky_relu", "prelu", "add",
                           "relu", "max_pool", "avg_pool"}


def test_ties_and_zero_inputs_follow_the_reference(patch_everything):
    # all-zero inputs put every ReLU at 0 (inactive) and tie every max-pool window
    net = conv_output(np.random.default_rng(3))
    x = np.zeros((2,) + net.input_shape)
    x[1] = np.random.default_rng(4).normal(size=net.input_shape)
    check_against_reference(net, x)


def test_groups_of_points_and_chunks_of_axes_give_the_same_numbers(patch_everything,
                                                                    monkeypatch):
    net = window_zoo(np.random.default_rng(5))
    x = np.random.default_rng(6).normal(size=(5,) + net.input_shape)
    monkeypatch.setattr(gradients, "PATCH_BYTES", 1)  # one point per group
    check_against_reference(net, x, chunk_size=37)


def test_default_plan_patches_the_early_layers_of_a_resnet():
    net = resnet_like(np.random.default_rng(7))
    x = np.random.default_rng(8).normal(size=(3,) + net.input_shape)
    plan = check_against_reference(net, x)
    # patches first, then dense tangents from a node before the head
    assert plan.pattern_steps and plan.handover
    assert min(plan.pattern_steps) < max(plan.handover) < len(net.order) - 2


def test_patch_path_is_not_taken_with_autograd_or_some_axes(patch_everything, monkeypatch):
    net = conv_output(np.random.default_rng(9))
    x = np.random.default_rng(10).normal(size=(2,) + net.input_shape)
    calls = []
    real = gradients.propagate_patches
    monkeypatch.setattr(gradients, "propagate_patches",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    module = compile(net, device="cpu", dtype=torch.float64)
    lin = plnet.linearize(net, x)
    _, grad = unit_gradients(module, x)  # parameters require grad: autograd graph
    assert grad.requires_grad and not calls
    with torch.no_grad():
        _, some = unit_gradients(module, x, axes=[0, 5, 63])
        assert not calls
        unit_gradients(module, x)
    assert calls
    assert_close(grad, lin.grad)
    assert_close(some, lin.grad[:, :, [0, 5, 63]])


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(net=pst.networks(families=["cnn2d"], max_units=120, max_input_size=64),
       seed=st.integers(0, 2 ** 16))
def test_hypothesis_cnns_equal_the_reference(net, seed, patch_everything):
    x = np.random.default_rng(seed).normal(size=(3,) + net.input_shape)
    check_against_reference(net, x)



@pytest.mark.parametrize("origin", [(0, 0), (1, 2)])
def test_box_entries_written_by_strided_view_equal_the_indexed_writes(origin, monkeypatch):
    """An elementwise op's units with every box inside the image are written through one
    strided view of the result; the same entries as one index per entry (origin (1, 2):
    boxes that start inside the image, as after a crop)."""
    from plnet.backends.torch import patch_engine
    from plnet.backends.torch.patches import UnitPatches, elementwise_units, Patches
    from plnet.ops.patches import Geometry

    gen = torch.Generator().manual_seed(4)
    h, w, c, c_in = 3, 4, 2, 2
    geometry = Geometry((2, 2), origin, (3, 2))
    input_shape = (c_in, origin[0] + 2 * (h - 1) + 3, origin[1] + 2 * (w - 1) + 2 + 1)
    t = torch.randn((2, h, w, c_in) + geometry.size + (c,), generator=gen, dtype=torch.float64)
    units = elementwise_units(Patches(t, geometry))
    d = int(np.prod(input_shape))
    strided = torch.full((2, c * h * w, d), float("nan"), dtype=torch.float64)
    total = patch_engine.write_gradients(units, strided, input_shape)
    assert units.cache[("grid", t.device)] == (h, w)  # the strided path was taken
    monkeypatch.setattr(patch_engine, "_box_view", lambda *a: None)
    indexed = torch.full_like(strided, float("nan"))
    fresh = UnitPatches(units.u, units.rows, units.cols, units.unit_of, geometry)
    expected = patch_engine.write_gradients(fresh, indexed, input_shape)
    assert torch.equal(strided, indexed) and torch.equal(total, expected)
    assert int((strided != 0).sum()) == t.numel()
