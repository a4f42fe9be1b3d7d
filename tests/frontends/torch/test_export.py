"""``to_torch``: the exported module equals the network (float64) on every op, shares tied
parameters, and ``from_torch`` reads it back unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import plnet
from plnet import NetworkBuilder
from plnet.ops import OP_REGISTRY
from plnet.testing import strategies as pst

torch = pytest.importorskip("torch")

RTOL = 1e-10


def _rng(seed=0):
    return np.random.default_rng(seed)


def _every_op_networks():
    """Hand-built networks that together use every IR op, with awkward attributes."""
    r = _rng(0)
    nets = {}

    b = NetworkBuilder((2, 9, 8))
    h = b.scale_shift(b.input, r.normal(size=(2, 1, 1)), r.normal(size=(9, 8)))
    h = b.conv(h, r.normal(size=(4, 1, 3, 2)), r.normal(size=4), stride=(2, 1),
               padding=((1, 2), (0, 1)), dilation=(1, 2), groups=2)
    h = b.leaky_relu(h, 0.1)
    p = b.max_pool(h, (3, 2), (2, 2), ((1, 0), (1, 1)), (1, 1), ceil_mode=True)
    a = b.avg_pool(h, (2, 3), (2, 2), ((0, 1), (1, 1)), (2, 1), ceil_mode=True,
                   count_include_pad=False)
    p = b.pad(p, ((0, 0), (0, 1), (1, 0)))
    hh, ww = (min(b.shape(p)[i], b.shape(a)[i]) for i in (1, 2))
    p = b.slice(b.slice(p, 1, 0, hh), -1, -ww, 100)
    a = b.slice(b.slice(a, 1, 0, hh, 1), 2, 0, ww)
    both = b.concat(p, a, axis=0)
    nets["cnn2d"] = b.build(b.flatten(both))

    b = NetworkBuilder((4, 3, 4))
    h = b.conv_transpose(b.input, r.normal(size=(4, 1, 3, 2)), r.normal(size=2), stride=(2, 1),
                         padding=((1, 0), (2, 1)), output_padding=(1, 1), dilation=(1, 2),
                         groups=2)
    h = b.relu(h)
    h = b.conv_transpose(b.reshape(h, (2, -1)), r.normal(size=(2, 3, 2)), None, stride=2,
                         padding=1, output_padding=1)
    nets["conv_transpose"] = b.build(b.flatten(h))

    b = NetworkBuilder((3, 11))
    h = b.conv(b.input, r.normal(size=(3, 3, 3)), None, stride=2, padding=((2, 0),), dilation=2)
    h = b.relu(h)
    h = b.avg_pool(h, 3, 2, 1, ceil_mode=True, count_include_pad=True)
    h = b.prelu(h, np.array([[-0.5], [0.2], [1.6]]))  # one slope per channel
    m = b.max_pool(b.input, 2, 3, ((1, 1),), 2)
    t = b.transpose(m, (1, 0))
    t = b.take(t, 0, (0, 2, -1), keepdim=True)
    t = b.reshape(b.transpose(t, (1, 0)), (3, 3))
    nets["cnn1d"] = b.build(b.add(h, t, b.slice(h, 0, 0, 3)))

    b = NetworkBuilder((4, 3))
    seq = b.rnn(b.input, r.normal(size=(5, 3)), r.normal(size=(5, 5)) * 0.5, r.normal(size=5),
                r.normal(size=5))
    last = b.take(seq, 0, -1)
    deep = b.rnn(seq, r.normal(size=(2, 5)), r.normal(size=(2, 2)), None, None,
                 nonlinearity="leaky_relu", alpha=0.2, return_sequences=False)
    out = b.concat(b.dense(last, r.normal(size=(2, 5))), deep, axis=0)
    nets["rnn"] = b.build(out)
    return nets


EVERY_OP = _every_op_networks()


def test_hand_built_networks_use_every_op():
    used = {net.op(n).type_name for net in EVERY_OP.values() for n in net.order}
    assert used == set(OP_REGISTRY)


def _export_error(net, x, device="cpu"):
    module = plnet.to_torch(net, dtype=torch.float64).to(device)
    with torch.no_grad():
        got = module(torch.as_tensor(x, device=device)).cpu().numpy()
    want = net(x)
    return float(np.abs(got - want).max() / (1 + np.abs(want).max()))


@pytest.mark.parametrize("name", sorted(EVERY_OP))
def test_exported_module_equals_the_network(name, device):
    net = EVERY_OP[name]
    x = _rng(1).normal(size=(5,) + net.input_shape)
    assert _export_error(net, x, device) <= RTOL


@settings(max_examples=30)
@given(pst.network_and_points(batch_size=st.integers(1, 4)))
def test_exported_random_networks_equal_the_network(net_x):
    net, x = net_x
    assert _export_error(net, x) <= RTOL


def _same_network(a, b):
    assert list(a.graph.nodes) == list(b.graph.nodes)
    assert {n: a.op(n) for n in a.graph} == {n: b.op(n) for n in b.graph}
    assert {n: a.inputs_of(n) for n in a.graph} == {n: b.inputs_of(n) for n in b.graph}
    # parameters no node reads (an RNN unrolled over one step never reads W_hh) are not
    # part of the function, and the traced module does not carry them
    used = sorted({p for n in a.graph for p in a.op(n).param_names()})
    assert a.output == b.output and used == sorted(b.params)
    for k in used:
        np.testing.assert_array_equal(a.params[k], b.params[k])


@pytest.mark.parametrize("name", sorted(EVERY_OP))
def test_round_trip_through_torch_is_unchanged(name):
    net = EVERY_OP[name]
    example = torch.as_tensor(_rng(2).normal(size=(3,) + net.input_shape))
    back = plnet.from_torch(plnet.to_torch(net, dtype=torch.float64), example)
    _same_network(net, back)


@settings(max_examples=25)
@given(pst.networks())
def test_round_trip_of_random_networks_is_unchanged(net):
    example = torch.as_tensor(_rng(3).normal(size=(2,) + net.input_shape))
    _same_network(net, plnet.from_torch(plnet.to_torch(net, dtype=torch.float64), example))


def test_default_dtype_is_float32_and_close():
    net = EVERY_OP["cnn2d"]
    module = plnet.to_torch(net)
    assert all(p.dtype == torch.float32 for p in module.parameters())
    x = _rng(4).normal(size=(3,) + net.input_shape)
    with torch.no_grad():
        got = module(torch.as_tensor(x, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(got, net(x), rtol=1e-4, atol=1e-4)


def test_tied_parameters_are_one_shared_parameter():
    net = EVERY_OP["rnn"]
    module = plnet.to_torch(net, dtype=torch.float64)
    assert len(list(module.parameters())) == len(net.params)
    names = [n for n in net.params if n.endswith("weight_hh")]
    weight = module.parameter(names[0])
    users = [m for m in module.nodes.values()
             if any(p is weight for p in m.weights.values())]
    steps = [n for n in net.order if net.op(n).type_name == "dense"
             and net.op(n).weight == names[0]]
    assert len(users) == len(steps) >= 2


def test_gradients_of_tied_parameters_accumulate_over_steps():
    net = EVERY_OP["rnn"]
    module = plnet.to_torch(net, dtype=torch.float64)
    x = torch.as_tensor(_rng(5).normal(size=(3,) + net.input_shape))
    module(x).sum().backward()
    name = next(n for n in net.params if n.endswith("weight_ih"))
    grad = module.parameter(name).grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_exported_module_moves_to_a_device(device):
    net = EVERY_OP["cnn1d"]
    module = plnet.to_torch(net, dtype=torch.float64).to(device)
    x = torch.as_tensor(_rng(6).normal(size=(2,) + net.input_shape), device=device)
    assert module(x).device.type == device
