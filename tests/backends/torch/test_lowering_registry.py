"""The lowering contract: every registered op has exactly one torch lowering; it computes
the numpy op's forward and units (float64), its tangent map is autograd's JVP on the frozen
region, and ``compile`` and ``to_torch`` both run it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import plnet
from plnet.analysis import Interpreter
from plnet.ops import OP_REGISTRY, Dense
from plnet.testing import strategies as pst
from plnet.tolerances import REFERENCE_RTOL

torch = pytest.importorskip("torch")

from plnet.backends.torch import compile  # noqa: E402
from plnet.backends.torch.lowerings import (LOWERINGS, AffineLowering, Lowering,  # noqa: E402
                                            PatternLowering, lower, lowers)

FUSED_ROLES = (None, "reshape", "dense", "leaky")


def assert_close(actual, expected):
    actual = actual.detach().numpy() if isinstance(actual, torch.Tensor) else actual
    expected = expected.detach().numpy() if isinstance(expected, torch.Tensor) else expected
    assert actual.shape == expected.shape
    scale = 1.0 + np.abs(expected).max(initial=0.0)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=REFERENCE_RTOL * scale)


def test_every_registered_op_has_exactly_one_lowering():
    assert set(LOWERINGS) == set(OP_REGISTRY.values())
    for cls, lowering in LOWERINGS.items():
        assert issubclass(lowering, Lowering)
        assert lowering.carries_pattern == cls.carries_pattern, cls.type_name
        assert issubclass(lowering, PatternLowering if cls.carries_pattern
                          else AffineLowering), cls.type_name


def test_a_second_lowering_for_an_op_is_refused():
    class Another(AffineLowering):
        pass

    with pytest.raises(ValueError, match="Dense.*one op, one lowering"):
        lowers(Dense)(Another)
    assert LOWERINGS[Dense] is not Another


def _overrides(lowering, method):
    return getattr(lowering, method) is not getattr(Lowering, method)


def test_declared_capabilities_come_with_their_methods():
    for lowering in set(LOWERINGS.values()):
        name = lowering.__name__
        assert lowering.supports_recursion == _overrides(lowering, "jacobian_step"), name
        assert lowering.fused_role in FUSED_ROLES, name
        if lowering.fused_role == "dense":
            assert hasattr(lowering, "weight_and_bias"), name
        if lowering.fused_role == "leaky":
            assert lowering.elementwise and hasattr(lowering, "slope"), name
        if issubclass(lowering, PatternLowering):
            for method in ("forward", "indicator", "units", "unit_tangents", "tangent", "key"):
                assert getattr(lowering, method) is not getattr(PatternLowering, method), \
                    (name, method)
            assert lowering.elementwise == (lowering.slopes is not PatternLowering.slopes)
        elif lowering.accepts_masked_tangent:
            assert _overrides(lowering, "masked_tangent"), name


def _jvp(fn, xs, ts):
    """``[B, K, *out]``: autograd's JVP of ``fn`` at ``xs`` along each of the K tangents."""
    cols = []
    for j in range(ts[0].shape[1]):
        along = tuple(t[:, j].expand(x.shape) for x, t in zip(xs, ts))
        cols.append(torch.autograd.functional.jvp(fn, tuple(xs), along)[1])
    return torch.stack(cols, dim=1)


class LoweringChecker(Interpreter):
    """Runs the numpy network and checks each node's lowering on that node's inputs."""

    def __init__(self, net, rng):
        super().__init__(net)
        self.rng = rng
        self.params = {k: torch.as_tensor(np.array(v)) for k, v in net.params.items()}

    def run_node(self, name, op, inputs):
        out = super().run_node(name, op, inputs)
        net = self.net
        low = lower(name, op, [net.shapes[u] for u in net.inputs_of(name)], net.shapes[name])
        assert_close(low.forward([torch.as_tensor(v) for v in inputs], self.params), out)
        if low.carries_pattern and op.pattern(inputs[0])[1].any():
            # a pool window of dead units is a tie that the network's own tie report
            # ignores; off the tie the op is differentiable and autograd is the reference
            inputs = [inputs[0] + 1e-3 * self.rng.normal(size=inputs[0].shape)]
            assert not op.pattern(inputs[0])[1].any()
        self.check_tangents(op, low, inputs)
        return out

    def check_tangents(self, op, low, inputs):
        xs = [torch.as_tensor(v) for v in inputs]
        frozen = low.indicator(xs[0]) if low.carries_pattern else None
        # tangents shared by every point (R = 1) and per point (R = B)
        for rows in (1, xs[0].shape[0]):
            ts = [torch.as_tensor(self.rng.normal(size=(rows, 3) + tuple(v.shape[1:])))
                  for v in xs]
            want = _jvp(lambda *a: low.forward(list(a), self.params), xs, ts)
            assert_close(low.tangent(ts, self.params, frozen).expand(want.shape), want)
            if not low.carries_pattern:
                continue
            units = _jvp(lambda z: low.units(z, frozen), xs[:1], ts[:1])
            assert_close(low.unit_tangents(ts[0], frozen).expand(units.shape), units)
            values, tangents, _ = op.units(inputs[0], np.broadcast_to(
                ts[0].numpy(), units.shape[:2] + inputs[0].shape[1:]), op.pattern(inputs[0])[0])
            assert_close(low.units(xs[0], frozen), values)
            assert_close(units, tangents)


def test_every_lowering_equals_the_numpy_op_and_autograd(every_small_net, make_points):
    used = {net.op(n).type_name for net in every_small_net.values() for n in net.order}
    assert used == set(OP_REGISTRY)
    for net in every_small_net.values():
        LoweringChecker(net, np.random.default_rng(1)).run(make_points(net, batch=3))


@settings(max_examples=30)
@given(pst.network_and_points(batch_size=2))
def test_lowerings_of_random_networks_equal_the_numpy_op_and_autograd(net_x):
    net, x = net_x
    LoweringChecker(net, np.random.default_rng(2)).run(x)


def test_compile_and_to_torch_run_the_same_lowering(every_small_net):
    for net in every_small_net.values():
        compiled = {step.name: step.lowering for step in compile(net, device="cpu").steps}
        exported = {m.node_name: m.lowering for m in plnet.to_torch(net).nodes.values()}
        assert set(exported) == set(compiled) - {net.input_name}
        for name, lowering in exported.items():
            assert type(lowering) is type(compiled[name]) is LOWERINGS[type(net.op(name))]
