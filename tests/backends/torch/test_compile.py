"""The compiled module computes what the numpy reference computes, with tied parameters."""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings

import plnet
from plnet.errors import InvalidInputError, ShapeError, UnsupportedOpError
from plnet.ops import Input, Op
from plnet.tolerances import REFERENCE_RTOL, TORCH_FLOAT32_RTOL

torch = pytest.importorskip("torch")

from plnet.backends.torch import CompiledNetwork, compile, resolve_device  # noqa: E402
from plnet.testing import strategies as pst  # noqa: E402


def run(module, x, device):
    out, z = module(torch.as_tensor(x, device=device), return_units=True)
    return out.detach().cpu().numpy(), z.detach().cpu().numpy()


def test_forward_and_units_equal_the_reference_on_every_small_net(small_net, make_points,
                                                                  device):
    x = make_points(small_net, batch=6)
    module = compile(small_net, device=device, dtype=torch.float64)
    out, z = run(module, x, device)
    lin = plnet.linearize(small_net, x)
    np.testing.assert_allclose(out, small_net(x), rtol=REFERENCE_RTOL, atol=1e-12)
    np.testing.assert_allclose(z, lin.z, rtol=REFERENCE_RTOL, atol=1e-12)
    plain = module(torch.as_tensor(x, device=device)).detach().cpu().numpy()
    np.testing.assert_array_equal(plain, out)


@settings(max_examples=40)
@given(pst.network_and_points(batch_size=3))
def test_forward_and_units_equal_the_reference_on_random_networks(net_x):
    net, x = net_x
    module = compile(net, device="cpu", dtype=torch.float64)
    out, z = run(module, x, "cpu")
    lin = plnet.linearize(net, x)
    assert module.num_units == net.num_units == z.shape[1]
    scale = 1.0 + np.abs(lin.z).max(initial=0.0)
    np.testing.assert_allclose(out, net(x), rtol=REFERENCE_RTOL,
                               atol=REFERENCE_RTOL * (1 + np.abs(net(x)).max()))
    np.testing.assert_allclose(z, lin.z, rtol=REFERENCE_RTOL, atol=REFERENCE_RTOL * scale)


def test_float32_matches_the_reference_to_the_named_tolerance(small_net, make_points, device):
    x = make_points(small_net, batch=6)
    module = compile(small_net, device=device)  # float32 by default
    assert module.dtype == torch.float32
    out, z = run(module, x.astype(np.float32), device)
    lin = plnet.linearize(small_net, x)
    np.testing.assert_allclose(out, small_net(x), rtol=TORCH_FLOAT32_RTOL,
                               atol=TORCH_FLOAT32_RTOL * (1 + np.abs(lin.output).max()))
    np.testing.assert_allclose(z, lin.z, rtol=TORCH_FLOAT32_RTOL,
                               atol=TORCH_FLOAT32_RTOL * (1 + np.abs(lin.z).max()))


def test_attributes_describe_the_source_network(cnn_max_net, device):
    module = compile(cnn_max_net, device=device)
    assert isinstance(module, CompiledNetwork) and isinstance(module, torch.nn.Module)
    assert module.net is cnn_max_net
    assert module.num_units == cnn_max_net.num_units
    assert module.input_shape == cnn_max_net.input_shape
    assert module.input_size == cnn_max_net.input_size
    assert module.device.type == device
    assert list(module.unit_slices) == cnn_max_net.pattern_nodes()


def test_auto_device_is_cuda_exactly_when_available(mlp_net):
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert compile(mlp_net).device.type == expected
    with pytest.raises(InvalidInputError, match="device"):
        resolve_device("no-such-device")
    if not torch.cuda.is_available():
        with pytest.raises(InvalidInputError, match="CUDA is not available"):
            compile(mlp_net, device="cuda")


def test_rnn_parameters_are_tied_and_stay_tied_after_an_optimizer_step(rnn_net, make_points):
    module = compile(rnn_net, device="cpu", dtype=torch.float64)
    assert len(list(module.parameters())) == len(rnn_net.params)
    x = torch.as_tensor(make_points(rnn_net, batch=4))
    opt = torch.optim.SGD(module.parameters(), lr=0.1)
    module(x).square().sum().backward()
    grads = {name: p.grad.clone() for name, p in module.param_tensors().items()}
    opt.step()
    # every unrolled step reads the one updated weight: the trained module equals the
    # network rebuilt from its parameters
    trained = module.to_network()
    for name, p in module.param_tensors().items():
        np.testing.assert_array_equal(trained.params[name], p.detach().numpy())
        assert np.abs(grads[name].numpy()).max() > 0
    out, z = run(module, x.numpy(), "cpu")
    np.testing.assert_allclose(out, trained(x.numpy()), rtol=REFERENCE_RTOL, atol=1e-12)
    np.testing.assert_allclose(z, plnet.linearize(trained, x.numpy()).z, rtol=REFERENCE_RTOL,
                               atol=1e-12)


def test_to_network_round_trips_the_parameters(small_net):
    module = compile(small_net, device="cpu", dtype=torch.float64)
    back = module.to_network()
    assert set(back.params) == set(small_net.params)
    for name, value in small_net.params.items():
        np.testing.assert_array_equal(back.params[name], value)
    assert back.to_dict() == small_net.to_dict()


def test_parameter_names_with_dots_and_percent_signs_survive(mlp_net):
    renamed = {f"a.b%{name}": value for name, value in mlp_net.params.items()}
    graph = mlp_net.graph.copy()
    for node in graph:
        op = graph.nodes[node]["op"]
        changes = {f: f"a.b%{getattr(op, f)}" for f in op.param_fields
                   if getattr(op, f) is not None}
        graph.nodes[node]["op"] = dataclasses.replace(op, **changes)
    net = plnet.Network(graph, renamed, mlp_net.output)
    module = compile(net, device="cpu", dtype=torch.float64)
    assert set(module.param_tensors()) == set(renamed)
    assert set(module.to_network().params) == set(renamed)


def test_bad_inputs_raise_plnet_errors(mlp_net):
    module = compile(mlp_net, device="cpu")
    with pytest.raises(ShapeError, match="expected"):
        module(torch.zeros(3, 5))
    with pytest.raises(InvalidInputError, match="dtype"):
        compile(mlp_net, device="cpu", dtype=torch.int64)
    with pytest.raises(InvalidInputError, match="Network"):
        compile(object())


@dataclasses.dataclass(frozen=True)
class _Mystery(Op):
    type_name = "mystery"

    def output_shape(self, in_shapes, params):
        return tuple(in_shapes[0])


def test_an_op_without_lowering_is_refused_by_name():
    graph = nx.DiGraph()
    graph.add_node("x", op=Input(shape=(2,)))
    graph.add_node("odd", op=_Mystery())
    graph.add_edge("x", "odd", slot=0)
    net = plnet.Network(graph, {}, "odd")
    with pytest.raises(UnsupportedOpError, match="'odd'.*mystery"):
        compile(net, device="cpu")
