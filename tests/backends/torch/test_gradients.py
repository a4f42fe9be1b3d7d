"""All-unit gradients equal the numpy reference and torch autograd, for both engines."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import plnet
from plnet.tolerances import REFERENCE_RTOL, TORCH_FLOAT32_RTOL

torch = pytest.importorskip("torch")

from plnet.backends.torch import compile, unit_gradient_sqnorms, unit_gradients  # noqa: E402
from plnet.demo import relu_mlp  # noqa: E402
from plnet.backends.torch.gradients import unit_gradient_norms  # noqa: E402
from plnet.backends.torch.perturbation import masked_tangent_fusions  # noqa: E402
from plnet.backends.torch.recursion import unsupported_nodes  # noqa: E402
from plnet.testing import strategies as pst  # noqa: E402

DENSE_ONLY = ("mlp", "residual", "rnn")


def methods_for(module):
    return ["perturbation"] + ([] if unsupported_nodes(module) else ["recursion"])


def numpy(t):
    return t.detach().cpu().numpy()


def assert_close(actual, expected, rtol=REFERENCE_RTOL):
    scale = 1.0 + np.abs(expected).max(initial=0.0)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def test_gradients_equal_the_reference_on_every_small_net(small_net, make_points, device):
    x = make_points(small_net, batch=5)
    module = compile(small_net, device=device, dtype=torch.float64)
    lin = plnet.linearize(small_net, x)
    for method in methods_for(module):
        for chunk in (None, 3):
            for grad_mode in (True, False):  # out-of-place (autograd) and in-place paths
                with torch.set_grad_enabled(grad_mode):
                    z, grad = unit_gradients(module, x, method=method, chunk_size=chunk)
                assert grad.shape == (5, small_net.num_units, small_net.input_size)
                assert_close(numpy(z), lin.z)
                assert_close(numpy(grad), lin.grad)


def test_auto_uses_the_recursion_exactly_on_dense_networks(small_net):
    from plnet.backends.torch.gradients import resolve_method

    module = compile(small_net, device="cpu")
    dense = not any(small_net.op(n).type_name in ("conv", "avg_pool") for n in small_net.order)
    assert resolve_method(module, "auto") == ("recursion" if dense else "perturbation")


def autograd_unit_jacobian(module, x):
    """``[B, N, D]`` by torch.autograd.functional.jacobian of the units, point by point."""
    rows = []
    for xi in torch.as_tensor(x):
        def units(v):
            return module(v.reshape((1,) + module.input_shape), return_units=True)[1][0]
        jac = torch.autograd.functional.jacobian(units, xi.reshape(-1), vectorize=True)
        rows.append(jac)
    return torch.stack(rows)


@pytest.mark.parametrize("name", ["mlp_net", "cnn_avg_net", "cnn_max_net", "residual_net",
                                  "rnn_net", "views_net"])
def test_gradients_equal_torch_autograd(name, request, make_points):
    net = request.getfixturevalue(name)
    x = make_points(net, batch=3)
    module = compile(net, device="cpu", dtype=torch.float64)
    expected = numpy(autograd_unit_jacobian(module, x))
    for method in methods_for(module):
        _, grad = unit_gradients(module, x, method=method)
        assert_close(numpy(grad), expected)


@settings(max_examples=30)
@given(pst.network_and_points(batch_size=2))
def test_gradients_equal_the_reference_on_random_networks(net_x):
    net, x = net_x
    lin = plnet.linearize(net, x)
    module = compile(net, device="cpu", dtype=torch.float64)
    with torch.no_grad():
        for method in methods_for(module):
            z, grad = unit_gradients(module, x, method=method, chunk_size=5)
            assert_close(numpy(z), lin.z)
            assert_close(numpy(grad), lin.grad)


def test_axes_select_the_corresponding_columns(small_net, make_points, device):
    x = make_points(small_net, batch=3)
    module = compile(small_net, device=device, dtype=torch.float64)
    d = small_net.input_size
    axes = [d - 1, 0, d // 2, 0]  # unordered, with a repeat
    lin = plnet.linearize(small_net, x)
    for method in methods_for(module):
        _, grad = unit_gradients(module, x, axes=axes, method=method, chunk_size=2)
        assert_close(numpy(grad), lin.grad[:, :, axes])
        _, sq = unit_gradient_sqnorms(module, x, axes=axes, method=method)
        assert_close(numpy(sq), (lin.grad[:, :, axes] ** 2).sum(axis=2))


def test_sqnorms_equal_the_sum_of_squares(small_net, make_points, device):
    x = make_points(small_net, batch=4)
    module = compile(small_net, device=device, dtype=torch.float64)
    lin = plnet.linearize(small_net, x)
    for method in methods_for(module):
        for chunk in (None, 7):
            z, sq = unit_gradient_sqnorms(module, x, method=method, chunk_size=chunk)
            assert_close(numpy(z), lin.z)
            assert_close(numpy(sq), (lin.grad ** 2).sum(axis=2))


def test_float32_gradients_match_to_the_named_tolerance(small_net, make_points):
    x = make_points(small_net, batch=4)
    module = compile(small_net, device="cpu")
    lin = plnet.linearize(small_net, x)
    with torch.no_grad():
        for method in methods_for(module):
            _, grad = unit_gradients(module, x, method=method)
            assert grad.dtype == torch.float32
            assert_close(numpy(grad), lin.grad, rtol=TORCH_FLOAT32_RTOL)


def test_relu_then_plain_avg_pool_is_fused_and_exact(cnn_pooled_net, make_points, device):
    x = make_points(cnn_pooled_net, batch=4)
    module = compile(cnn_pooled_net, device=device, dtype=torch.float64)
    lin = plnet.linearize(cnn_pooled_net, x)
    for grad_mode in (True, False):
        with torch.set_grad_enabled(grad_mode):
            z, grad = unit_gradients(module, x, chunk_size=30)
        assert_close(numpy(grad), lin.grad)
    # both blocks qualify; only the first one's tangents are shared, which the fusion needs
    assert len(masked_tangent_fusions(module)) == 2


def test_a_network_without_units_has_empty_gradients(device):
    b = plnet.NetworkBuilder((3,))
    net = b.build(b.dense(b.input, np.ones((2, 3))))
    module = compile(net, device=device, dtype=torch.float64)
    for grad_mode in (True, False):
        with torch.set_grad_enabled(grad_mode):
            z, grad = unit_gradients(module, np.ones((4, 3)))
        assert z.shape == (4, 0) and grad.shape == (4, 0, 3)
    _, sq = unit_gradient_sqnorms(module, np.ones((4, 3)))
    assert sq.shape == (4, 0)


def test_the_workspace_is_reused_and_can_be_released(cnn_pooled_net, make_points):
    x = make_points(cnn_pooled_net, batch=3)
    module = compile(cnn_pooled_net, device="cpu", dtype=torch.float64)
    with torch.no_grad():
        _, first = unit_gradients(module, x)
        first = first.clone()
        _, again = unit_gradients(module, x)  # reuses the buffers: same numbers
        np.testing.assert_array_equal(numpy(again), numpy(first))
        assert module._workspace.buffers
        module.release_workspace()
        assert not hasattr(module, "_workspace")
        _, after = unit_gradients(module, x)
    np.testing.assert_array_equal(numpy(after), numpy(first))


def test_a_fused_pool_at_the_output_keeps_every_chunk_of_its_jacobian():
    # the pooled tangents are returned chunk by chunk: they must not live in memory that
    # the next chunk reuses
    rng = np.random.default_rng(8)
    b = plnet.NetworkBuilder((1, 6, 6))
    net = b.build(b.avg_pool(b.relu(b.conv(b.input, rng.normal(size=(2, 1, 3, 3)), None,
                                           padding=1)), 2))
    x = rng.normal(size=(3, 1, 6, 6))
    module = compile(net, device="cpu", dtype=torch.float64)
    assert masked_tangent_fusions(module)
    with torch.no_grad():
        # one axis per chunk: the tangents stay contiguous, so the returned chunks are views
        _, _, jac = unit_gradient_norms(module, x, ("sq",), chunk_size=1, want_output=True)
    assert_close(numpy(jac), plnet.linearize(net, x).jacobian)


@pytest.mark.parametrize("grad_mode", [True, False])
def test_recursion_on_few_input_axes_equals_the_reference(grad_mode):
    # fewer input axes than layer outputs: the recursion scales J's rows, not W's columns
    net = relu_mlp((2, 16, 16, 16, 3), seed=3)
    x = np.random.default_rng(0).normal(size=(7, 2))
    module = compile(net, device="cpu", dtype=torch.float64)
    lin = plnet.linearize(net, x)
    with torch.set_grad_enabled(grad_mode):
        _, grad = unit_gradients(module, x, method="recursion")
        _, sq = unit_gradient_sqnorms(module, x, method="recursion")
    assert_close(numpy(grad), lin.grad)
    assert_close(numpy(sq), (lin.grad ** 2).sum(axis=2))
