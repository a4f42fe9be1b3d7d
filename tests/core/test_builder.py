"""NetworkBuilder: layers, tied parameters, and the unrolled RNN against torch.nn.RNN."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import plnet
from plnet.builder import padding_pairs
from plnet.errors import InvalidInputError, ShapeError
from plnet.tolerances import REFERENCE_RTOL


@settings(max_examples=30)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 4), st.booleans(), st.booleans(),
       st.integers(0, 2**32 - 1))
def test_the_unrolled_relu_rnn_equals_torch_rnn(steps, features, hidden, with_bias,
                                                return_sequences, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    rnn = torch.nn.RNN(features, hidden, nonlinearity="relu", bias=with_bias,
                       batch_first=True).double()
    params = {k: v.detach().numpy() for k, v in rnn.named_parameters()}
    b = plnet.NetworkBuilder((steps, features))
    out = b.rnn(b.input, params["weight_ih_l0"], params["weight_hh_l0"],
                params.get("bias_ih_l0"), params.get("bias_hh_l0"),
                return_sequences=return_sequences)
    net = b.build(out)
    x = rng.normal(size=(3, steps, features))
    seq, last = rnn(torch.from_numpy(x))
    want = seq.detach().numpy() if return_sequences else last.detach().numpy()[0]
    np.testing.assert_allclose(net(x), want, rtol=0, atol=REFERENCE_RTOL * (1 + np.abs(want).max()))
    assert net.num_units == steps * hidden


def test_the_leaky_rnn_follows_its_recurrence_with_tied_weights():
    rng = np.random.default_rng(3)
    w_ih, w_hh, b_ih, b_hh = (rng.normal(size=s) for s in [(3, 2), (3, 3), 3, 3])
    b = plnet.NetworkBuilder((4, 2))
    net = b.build(b.rnn(b.input, w_ih, w_hh, b_ih, b_hh, nonlinearity="leaky_relu", alpha=0.2,
                        name="r"))
    x = rng.normal(size=(2, 4, 2))
    h = np.zeros((2, 3))
    want = []
    for t in range(4):
        pre = x[:, t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        h = np.where(pre > 0, pre, 0.2 * pre)
        want.append(h)
    np.testing.assert_allclose(net(x), np.stack(want, axis=1), rtol=1e-12, atol=1e-12)
    assert sorted(net.params) == ["r.bias_hh", "r.bias_ih", "r.weight_hh", "r.weight_ih"]
    uses = [net.op(n).weight for n in net.graph if net.op(n).type_name == "dense"]
    assert uses.count("r.weight_ih") == 4 and uses.count("r.weight_hh") == 3


def test_parameters_are_tied_by_name():
    b = plnet.NetworkBuilder((2,))
    h = b.dense(b.input, np.eye(2), name="first")
    net = b.build(b.dense(h, "first.weight"))
    assert len(net.params) == 1
    np.testing.assert_array_equal(net(np.array([[1.0, 2.0]])), [[1.0, 2.0]])
    with pytest.raises(InvalidInputError, match="no parameter named 'missing' to tie to"):
        b.dense(b.input, "missing")


@pytest.mark.parametrize("shape,slope", [((2, 3, 3), [[[0.5]], [[-2.0]]]),
                                         ((4,), [1.5, 0.0, -1.0, 0.2]), ((3, 2), 0.25),
                                         ((3, 2), [0.1, 3.0])])
def test_prelu_broadcasts_its_slope_right_aligned(shape, slope):
    b = plnet.NetworkBuilder(shape)
    net = b.build(b.prelu(b.input, np.array(slope), name="act"))
    x = np.random.default_rng(0).normal(size=(5,) + shape)
    np.testing.assert_array_equal(net(x), np.where(x > 0, x, np.array(slope) * x))
    assert net.num_units == int(np.prod(shape))


@pytest.mark.parametrize("slope", [np.ones(2), np.ones((3, 1, 1)), np.ones((1, 2, 3, 3))])
def test_a_prelu_slope_that_does_not_broadcast_is_a_shape_error(slope):
    b = plnet.NetworkBuilder((2, 3, 3))
    with pytest.raises(ShapeError, match=r"node 'act' \(prelu\).*does not broadcast"):
        b.prelu(b.input, slope, name="act")
    b.prelu(b.input, np.ones((2, 1, 1)), name="act")  # the rejected slope was forgotten


def test_prelu_slopes_are_tied_by_name():
    b = plnet.NetworkBuilder((3,))
    h = b.prelu(b.input, np.array([0.1, -1.0, 2.0]), name="first")
    net = b.build(b.prelu(b.dense(h, np.eye(3)), "first.slope"))
    assert len(net.params) == 2  # the slope and the dense weight
    assert {net.op(n).slope for n in net.pattern_nodes()} == {"first.slope"}


def test_layer_helpers():
    b = plnet.NetworkBuilder((2, 3))
    assert b.shape(b.reshape(b.input, (-1,))) == (6,)
    assert b.shape(b.reshape(b.input, (3, -1))) == (3, 2)
    assert b.shape(b.take(b.input, 1, 2)) == (2,)
    assert b.shape(b.take(b.input, 1, [2, 0])) == (2, 2)
    assert b.shape(b.pad(b.input, 1)) == (4, 5)
    b = plnet.NetworkBuilder((2, 3))
    norm = b.normalize(b.input, [1.0, 2.0, 3.0], [2.0, 2.0, 4.0])
    net = b.build(norm)
    np.testing.assert_allclose(net(np.array([[[1.0, 2.0, 3.0], [3.0, 4.0, 7.0]]])),
                               [[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]])
    with pytest.raises(InvalidInputError, match="normalize: std has zeros"):
        b.normalize(b.input, 0.0, [1.0, 0.0, 1.0])


def test_padding_formats():
    assert padding_pairs(1, 2) == ((1, 1), (1, 1))
    assert padding_pairs((1, 2), 2) == ((1, 1), (2, 2))
    assert padding_pairs(((0, 1), (2, 3)), 2) == ((0, 1), (2, 3))
    with pytest.raises(InvalidInputError, match="must be an int, 2 ints, or 2 \\(begin, end\\)"):
        padding_pairs((1, 2, 3), 2)


def test_builder_refuses_bad_names_and_shapes():
    with pytest.raises(ShapeError, match=r"input shape \(2, 0\) must have positive sizes"):
        plnet.NetworkBuilder((2, 0))
    b = plnet.NetworkBuilder((2,))
    b.relu(b.input, name="r")
    with pytest.raises(InvalidInputError, match="a node named 'r' already exists"):
        b.relu(b.input, name="r")
    with pytest.raises(InvalidInputError, match="node 'q': unknown input node 'zz'"):
        b.relu("zz", name="q")
    with pytest.raises(ShapeError, match=r"rnn input must have per-sample shape \[T, F\]"):
        b.rnn(b.input, np.ones((1, 2)), np.ones((1, 1)))


@pytest.mark.parametrize("lo,hi", [(-1.0, 2.0), (None, 0.5), (-0.25, None), (1.0, 1.0)])
def test_clip_is_exactly_numpy_clip_with_a_relu_per_finite_bound(lo, hi):
    b = plnet.NetworkBuilder((7,))
    net = b.build(b.clip(b.input, lo, hi))
    x = np.random.default_rng(0).normal(scale=2.0, size=(20, 7))
    # (x - lo) + lo is x up to one rounding
    np.testing.assert_allclose(net(x), np.clip(x, lo, hi), rtol=1e-15, atol=1e-15)
    assert net.num_units == 7 * ((lo is not None) + (hi is not None))
    assert {net.op(n).type_name for n in net.pattern_nodes()} == {"relu"}


def test_clip_refuses_crossed_bounds_and_abs_is_exact():
    b = plnet.NetworkBuilder((3,))
    with pytest.raises(InvalidInputError, match="larger than max"):
        b.clip(b.input, 2.0, 1.0)
    net = b.build(b.abs(b.input))
    x = np.array([[1.0, -2.0, 0.5]])
    np.testing.assert_array_equal(net(x), np.abs(x))
    # |x| bends at 0 on each axis: the l_inf margin is the smallest |x_i|
    assert plnet.margin(net, x, p=np.inf)[0] == 0.5
