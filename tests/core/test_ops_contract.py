"""The op contract: every registered op passes the same properties.

Shape rule = forward's shape; affine ops: forward = linear + a constant offset and linear is
linear; pattern ops: the local linear map reproduces the forward on the region and the
units agree with the pattern; every op round-trips through its serialized form.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings

from plnet import NetworkBuilder
from plnet.analysis import Interpreter
from plnet.ops import OP_REGISTRY, Op
from plnet.testing import strategies as pst
from plnet.tolerances import REFERENCE_RTOL


def record_inputs(net, x):
    """Each node's input values, by running the network."""
    seen = {}

    class Recorder(Interpreter):
        def run_node(self, name, op, inputs):
            seen[name] = inputs
            return super().run_node(name, op, inputs)

    Recorder(net).run(x)
    return seen


def close(a, b):
    b = np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=0, atol=REFERENCE_RTOL * (1 + np.abs(b).max(initial=0)))


def check_op(net, name, inputs, rng):
    op = net.op(name)
    params = net.params
    in_shapes = [net.shapes[u] for u in net.inputs_of(name)]
    out = op.forward(inputs, params)
    assert tuple(out.shape[1:]) == tuple(op.output_shape(in_shapes, params)) == net.shapes[name]

    if op.carries_pattern:
        check_pattern_op(op, inputs[0], out, net.shapes[net.inputs_of(name)[0]], params, rng)
    else:
        # forward = linear + an offset that does not depend on the input
        other = [rng.normal(size=x.shape) for x in inputs]
        offset = out - op.linear(inputs, params)
        close(op.forward(other, params) - op.linear(other, params), offset)
        # linear is linear
        a, c = rng.normal(), rng.normal()
        mixed = [a * x + c * y for x, y in zip(inputs, other)]
        close(op.linear(mixed, params),
              a * op.linear(inputs, params) + c * op.linear(other, params))

    restored = Op.from_dict(json.loads(json.dumps(op.to_dict())))
    assert restored == op and type(restored) is type(op)
    assert isinstance(op.describe(), str)


def check_pattern_op(op, z, out, in_shape, params, rng):
    indicator, ties = op.pattern(z)
    assert not ties.any()
    # the local linear map reproduces the forward at z and on nearby points of its region
    close(op.apply_pattern(z[:, None], indicator, params)[:, 0], out)
    near = z + 1e-9 * rng.normal(size=z.shape)
    near_indicator, _ = op.pattern(near)
    if np.array_equal(near_indicator, indicator):
        close(op.apply_pattern(near[:, None], indicator, params)[:, 0],
              op.forward([near], params))
    # apply_pattern is linear in its tangents
    v = rng.normal(size=(z.shape[0], 2) + z.shape[1:])
    both = op.apply_pattern(v, indicator, params)
    close(op.apply_pattern(v[:, :1] + 2 * v[:, 1:], indicator, params)[:, 0],
          both[:, 0] + 2 * both[:, 1])
    slope = op.diagonal_slope(indicator, params)
    if slope is not None:  # the elementwise fast path must be the same map
        close(v * slope[:, None], both)
    values, tangents, signs = op.units(z, v, indicator)
    assert values.shape == (z.shape[0], op.num_units(in_shape))
    assert tangents.shape == (z.shape[0], 2, op.num_units(in_shape))
    assert (signs * values > 0).all()
    assert not op.tie_units(z, indicator).any()
    # crossing any unit's boundary changes one indicator entry to another value
    for unit in range(op.num_units(in_shape)):
        position, value = op.crossed(in_shape, indicator[0], unit)
        assert indicator[0].reshape(-1)[position] != value


@pytest.mark.parametrize("type_name", sorted(OP_REGISTRY))
def test_every_registered_op_passes_the_contract(op_examples, type_name):
    assert type_name in op_examples, (f"op {type_name!r} has no contract example: add one to "
                                      f"OP_EXAMPLES in tests/core/conftest.py")
    shape, build = op_examples[type_name]
    rng = np.random.default_rng(0)
    b = NetworkBuilder(shape)
    node = build(b, rng)
    net = b.build(node)
    assert net.op(node).type_name == type_name
    x = rng.normal(size=(3,) + shape)
    if type_name == "input":
        assert net.op(node).output_shape([], net.params) == shape
        assert Op.from_dict(json.loads(json.dumps(net.op(node).to_dict()))) == net.op(node)
        return
    check_op(net, node, record_inputs(net, x)[node], rng)


@settings(max_examples=60)
@given(pst.network_and_points(batch_size=2))
def test_every_node_of_random_networks_passes_the_contract(net_x):
    net, x = net_x
    rng = np.random.default_rng(1)
    inputs = record_inputs(net, x)
    tie_free = True
    for name in net.pattern_nodes():
        _, ties = net.op(name).pattern(inputs[name][0])
        tie_free &= not ties.any()
    for name, values in inputs.items():
        if net.op(name).carries_pattern and not tie_free:
            continue  # degenerate ties (dead units in one pool window) are tested elsewhere
        check_op(net, name, values, rng)


def test_registry_entries_are_well_formed():
    for name, cls in OP_REGISTRY.items():
        assert cls.type_name == name
        assert issubclass(cls, Op)
        assert cls.__dataclass_params__.frozen, f"op {name!r} must be a frozen dataclass"
        for field in cls.param_fields:
            assert field in cls.__dataclass_fields__, (name, field)
