"""Every op's numpy forward equals torch (float64) for its attributes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plnet import NetworkBuilder
from plnet.ops import OP_REGISTRY
from plnet.testing import strategies as pst
from plnet.tolerances import REFERENCE_RTOL

torch = pytest.importorskip("torch")


def assert_close(actual, expected):
    expected = np.asarray(expected)
    scale = 1.0 + np.abs(expected).max(initial=0.0)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=REFERENCE_RTOL * scale)


def check_every_node(net, x, torch_reference):
    from plnet.analysis import Interpreter

    class Recorder(Interpreter):
        def __init__(self, net):
            super().__init__(net)
            self.values = {}

        def run_node(self, name, op, inputs):
            self.values[name] = super().run_node(name, op, inputs)
            return self.values[name]

    rec = Recorder(net)
    rec.run(x)
    ref = torch_reference(net, torch.from_numpy(x))
    for name, value in rec.values.items():
        assert value.shape == tuple(ref[name].shape), name
        assert_close(value, ref[name].numpy())


@settings(max_examples=80)
@given(pst.network_and_points(batch_size=3))
def test_every_node_of_random_networks_matches_torch(torch_reference, net_x):
    net, x = net_x
    check_every_node(net, x, torch_reference)


@pytest.mark.parametrize("type_name", sorted(OP_REGISTRY))
def test_each_op_example_matches_torch(torch_reference, op_examples, type_name):
    shape, build = op_examples[type_name]
    rng = np.random.default_rng(5)
    b = NetworkBuilder(shape)
    net = b.build(build(b, rng))
    check_every_node(net, rng.normal(size=(3,) + shape), torch_reference)


@st.composite
def conv_cases(draw):
    n_sp = draw(st.sampled_from([1, 2]))
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = [draw(st.integers(1, 3)) for _ in range(n_sp)]
    dilation = [draw(st.integers(1, 3)) for _ in range(n_sp)]
    padding = [(draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(n_sp)]
    stride = [draw(st.integers(1, 3)) for _ in range(n_sp)]
    spatial = [max(draw(st.integers(1, 7)), d * (k - 1) + 1 - sum(p))
               for k, d, p in zip(kernel, dilation, padding)]
    return (c_in, *spatial), (c_out, c_in // groups, *kernel), stride, padding, dilation, groups


@settings(max_examples=60)
@given(conv_cases(), st.integers(0, 2**32 - 1), st.booleans())
def test_conv_matches_torch(torch_reference, case, seed, with_bias):
    in_shape, w_shape, stride, padding, dilation, groups = case
    rng = np.random.default_rng(seed)
    b = NetworkBuilder(in_shape)
    node = b.conv(b.input, rng.normal(size=w_shape), rng.normal(size=w_shape[0]) if with_bias
                  else None, stride, padding, dilation, groups)
    net = b.build(node)
    check_every_node(net, rng.normal(size=(2, *in_shape)), torch_reference)


@st.composite
def pool_cases(draw, symmetric):
    n_sp = draw(st.sampled_from([1, 2]))
    kernel = [draw(st.integers(1, 4)) for _ in range(n_sp)]
    stride = [draw(st.integers(1, 3)) for _ in range(n_sp)]
    if symmetric:  # what torch's own pooling accepts: symmetric padding <= kernel / 2
        padding = [(p, p) for p in (draw(st.integers(0, k // 2)) for k in kernel)]
    else:
        padding = [(draw(st.integers(0, k // 2)), draw(st.integers(0, k // 2))) for k in kernel]
    dilation = [draw(st.integers(1, 2)) for _ in range(n_sp)]
    spatial = [max(draw(st.integers(1, 8)), d * (k - 1) + 1) for k, d in zip(kernel, dilation)]
    return (draw(st.integers(1, 2)), *spatial), kernel, stride, padding, dilation


@settings(max_examples=60)
@given(pool_cases(symmetric=True), st.booleans(), st.booleans(), st.integers(0, 2**32 - 1))
def test_pools_match_torch_native_pooling(torch_reference, case, ceil_mode, count_pad, seed):
    in_shape, kernel, stride, padding, dilation = case
    rng = np.random.default_rng(seed)
    b = NetworkBuilder(in_shape)
    b.max_pool(b.input, kernel, stride, padding, dilation, ceil_mode, name="max")
    b.avg_pool(b.input, kernel, stride, padding, 1, ceil_mode, count_pad, name="avg")
    net = b.build(b.concat(b.flatten("max"), b.flatten("avg")))
    check_every_node(net, rng.normal(size=(2, *in_shape)), torch_reference)


@settings(max_examples=60)
@given(pool_cases(symmetric=False), st.booleans(), st.booleans(), st.integers(0, 2**32 - 1))
def test_pools_with_asymmetric_padding_and_dilation_match_torch(torch_reference, case, ceil_mode,
                                                                 count_pad, seed):
    in_shape, kernel, stride, padding, dilation = case
    rng = np.random.default_rng(seed)
    b = NetworkBuilder(in_shape)
    b.max_pool(b.input, kernel, stride, padding, dilation, ceil_mode, name="max")
    b.avg_pool(b.input, kernel, stride, padding, dilation, ceil_mode, count_pad, name="avg")
    net = b.build(b.concat(b.flatten("max"), b.flatten("avg")))
    check_every_node(net, rng.normal(size=(2, *in_shape)), torch_reference)


@settings(max_examples=40)
@given(pool_cases(symmetric=True), st.booleans(), st.booleans(), st.integers(0, 2**32 - 1))
def test_the_explicit_padding_pool_oracle_agrees_with_torch_itself(torch_pool_reference, case,
                                                                   ceil_mode, count_pad, seed):
    from plnet.ops import AvgPool, MaxPool

    in_shape, kernel, stride, padding, dilation = case
    x = torch.from_numpy(np.random.default_rng(seed).normal(size=(2, *in_shape)))
    ops = [MaxPool(tuple(kernel), tuple(stride), tuple(padding), tuple(dilation), ceil_mode),
           AvgPool(tuple(kernel), tuple(stride), tuple(padding), (1,) * len(kernel), ceil_mode,
                   count_pad)]
    for op in ops:
        native = torch_pool_reference(op, x)
        generic = torch_pool_reference(op, x, generic=True)
        assert_close(generic.numpy(), native.numpy())


@settings(max_examples=80)
@given(st.sampled_from([1, 2]), st.data(), st.booleans(), st.integers(0, 2**32 - 1))
def test_plnet_accepts_exactly_the_pool_geometries_torch_computes(torch_pool_reference, n_sp,
                                                                  data, ceil_mode, seed):
    from plnet.errors import ShapeError
    from plnet.ops import MaxPool

    kernel = tuple(data.draw(st.integers(1, 4)) for _ in range(n_sp))
    stride = tuple(data.draw(st.integers(1, 3)) for _ in range(n_sp))
    padding = tuple((p, p) for p in (data.draw(st.integers(0, k // 2)) for k in kernel))
    dilation = tuple(data.draw(st.integers(1, 2)) for _ in range(n_sp))
    in_shape = (1,) + tuple(data.draw(st.integers(1, 4)) for _ in range(n_sp))
    x = np.random.default_rng(seed).normal(size=(1,) + in_shape)
    op = MaxPool(kernel, stride, padding, dilation, ceil_mode)
    try:
        want = torch_pool_reference(op, torch.from_numpy(x)).numpy()
    except RuntimeError:
        want = None
    if want is not None and not np.isfinite(want).all():
        want = None  # a window wholly in the padding: torch emits -inf, plnet refuses it
    b = NetworkBuilder(in_shape)
    try:
        net = b.build(b.max_pool(b.input, kernel, stride, padding, dilation, ceil_mode))
    except ShapeError:
        assert want is None, "plnet refuses a pool geometry that torch accepts"
        return
    assert want is not None, "plnet accepts a pool geometry that torch refuses"
    assert_close(net(x), want)
