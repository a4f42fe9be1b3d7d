"""linearize: unit values and gradients equal torch autograd; the output's affine map is exact."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import plnet
from plnet.testing import strategies as pst
from plnet.tolerances import REFERENCE_RTOL

torch = pytest.importorskip("torch")


def close(actual, expected, scale=None):
    expected = np.asarray(expected)
    scale = 1.0 + (np.abs(expected).max(initial=0.0) if scale is None else scale)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=REFERENCE_RTOL * scale)


def autograd_units(net, x_row, torch_reference):
    """(z [N], grad [N, D], output jacobian [L, D]) of one point, by torch autograd."""
    sources = [net.inputs_of(n)[0] for n in net.pattern_nodes()]
    wanted = sources + [net.output]
    xt = torch.from_numpy(x_row[None])

    def f(inp):
        values = torch_reference(net, inp)
        return tuple(values[n] for n in wanted)

    values = f(xt)
    jacs = torch.autograd.functional.jacobian(f, xt)
    d = net.input_size
    zs, grads = [], []
    for node, src, value, jac in zip(net.pattern_nodes(), sources, values, jacs):
        op = net.op(node)
        z = value.detach().numpy()
        tangents = jac.reshape(-1, d).numpy().T.reshape((1, d) + z.shape[1:])
        indicator, _ = op.pattern(z)
        vals, tans, _ = op.units(z, tangents, indicator)
        zs.append(vals[0])
        grads.append(tans[0].T)
    out_jac = jacs[-1].reshape(-1, d).numpy()
    z = np.concatenate(zs) if zs else np.zeros(0)
    grad = np.concatenate(grads) if grads else np.zeros((0, d))
    return z, grad, out_jac, values[-1].detach().numpy()[0]


@settings(max_examples=60)
@given(pst.network_and_points(batch_size=2))
def test_unit_values_and_gradients_equal_torch_autograd(torch_reference, net_x):
    net, x = net_x
    lin = plnet.linearize(net, x)
    assert lin.z.shape == (2, net.num_units)
    assert lin.grad.shape == (2, net.num_units, net.input_size)
    for i in range(2):
        z, grad, out_jac, out = autograd_units(net, x[i], torch_reference)
        close(lin.z[i], z)
        close(lin.grad[i], grad)
        close(lin.jacobian[i], out_jac)
        close(lin.output[i], out)


@settings(max_examples=60)
@given(pst.network_and_points(batch_size=3))
def test_output_equals_its_local_affine_map(net_x):
    net, x = net_x
    lin = plnet.linearize(net, x)
    close(lin.output.reshape(3, -1), net(x).reshape(3, -1))
    # away from x: at half the certified l2 margin the network is still the affine map
    eps = plnet.margin(net, x[1:2], p=2)[0]
    step = np.random.default_rng(0).normal(size=x[1].shape)
    step *= min(0.5 * eps, 1.0) / np.linalg.norm(step)
    y = x[1] + step
    w, c = lin.affine_map(1)
    affine = w @ y.ravel() + c
    close(affine, net(y[None]).ravel(),
          scale=np.abs(w).sum(axis=1).max(initial=0) * np.abs(y).max())


@settings(max_examples=40)
@given(pst.network_and_points(batch_size=4))
def test_signs_follow_the_pattern_and_slack_is_nonnegative(net_x):
    net, x = net_x
    lin = plnet.linearize(net, x)
    assert set(np.unique(lin.signs)) <= {-1.0, 1.0}
    assert (lin.slack >= 0).all()
    for node in net.pattern_nodes():
        if net.op(node).type_name in ("relu", "leaky_relu"):
            units = lin.unit_slices[node]
            active = lin.indicators[node].reshape(4, -1)
            np.testing.assert_array_equal(active, lin.z[:, units] > 0)
            np.testing.assert_array_equal(lin.signs[:, units] > 0, active)


@settings(max_examples=30)
@given(pst.network_and_points(batch_size=3))
def test_a_batch_linearizes_like_its_points_one_by_one(net_x):
    net, x = net_x
    lin = plnet.linearize(net, x)
    for i in range(3):
        one = plnet.linearize(net, x[i:i + 1])
        close(one.z[0], lin.z[i])
        close(one.grad[0], lin.grad[i])
        close(one.jacobian[0], lin.jacobian[i])


def test_unit_slices_tile_the_unit_axis_in_network_order():
    net = _two_layer_net()
    lin = plnet.linearize(net, np.ones((1, 3)))
    slices = list(lin.unit_slices.items())
    assert [n for n, _ in slices] == net.pattern_nodes()
    assert slices[0][1].start == 0 and slices[-1][1].stop == net.num_units
    assert all(a.stop == b.start for (_, a), (_, b) in zip(slices, slices[1:]))


def test_gradients_of_a_hand_built_network():
    # h = relu(W1 x + b1), y = W2 h: the active rows of W1 and W2 diag(active) W1
    w1 = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, 1.0]])
    b1 = np.array([0.5, -10.0])
    w2 = np.array([[3.0, 4.0]])
    b = plnet.NetworkBuilder((3,))
    net = b.build(b.dense(b.relu(b.dense(b.input, w1, b1)), w2))
    x = np.array([[1.0, 0.0, 0.0]])
    lin = plnet.linearize(net, x)
    np.testing.assert_array_equal(lin.z[0], [1.5, -10.0])
    np.testing.assert_array_equal(lin.grad[0], w1)
    np.testing.assert_array_equal(lin.signs[0], [1.0, -1.0])
    np.testing.assert_array_equal(lin.jacobian[0], [[3.0, -6.0, 1.5]])
    np.testing.assert_allclose(lin.offset[0], [1.5])


def _two_layer_net():
    rng = np.random.default_rng(1)
    b = plnet.NetworkBuilder((3,))
    h = b.relu(b.dense(b.input, rng.normal(size=(4, 3)), rng.normal(size=4)))
    h = b.leaky_relu(b.dense(h, rng.normal(size=(2, 4))), 0.1)
    return b.build(b.dense(h, rng.normal(size=(1, 2))))
