"""ConvTranspose: torch's numbers and shapes, the adjoint of Conv, clear errors, save/load."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import plnet
from plnet import NetworkBuilder
from plnet.errors import ShapeError
from plnet.ops import Conv, ConvTranspose
from plnet.tolerances import REFERENCE_RTOL

torch = pytest.importorskip("torch")
F = torch.nn.functional


@st.composite
def transposed_cases(draw, max_output_padding=3):
    """Attributes torch may or may not accept (output_padding is drawn up to 3)."""
    n_sp = draw(st.sampled_from([1, 2]))
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    axes = [dict(kernel=draw(st.integers(1, 3)), stride=draw(st.integers(1, 3)),
                 dilation=draw(st.integers(1, 3)), padding=draw(st.integers(0, 3)),
                 output_padding=draw(st.integers(0, max_output_padding)),
                 length=draw(st.integers(1, 5))) for _ in range(n_sp)]
    attrs = {k: tuple(a[k] for a in axes) for k in axes[0]}
    return (c_in, *attrs.pop("length")), (c_in, c_out // groups, *attrs.pop("kernel")), \
        groups, attrs


def _torch_conv_transpose(x, w, bias, groups, attrs):
    fn = F.conv_transpose1d if w.ndim == 3 else F.conv_transpose2d
    return fn(torch.from_numpy(x), torch.from_numpy(w),
              None if bias is None else torch.from_numpy(bias), attrs["stride"],
              attrs["padding"], attrs["output_padding"], groups, attrs["dilation"]).numpy()


@settings(max_examples=150)
@given(transposed_cases(), st.booleans(), st.integers(0, 2**32 - 1))
def test_plnet_computes_exactly_the_transposed_convolutions_torch_computes(case, with_bias,
                                                                           seed):
    in_shape, w_shape, groups, attrs = case
    rng = np.random.default_rng(seed)
    w = rng.normal(size=w_shape)
    bias = rng.normal(size=w_shape[1] * groups) if with_bias else None
    x = rng.normal(size=(2, *in_shape))
    try:
        want = _torch_conv_transpose(x, w, bias, groups, attrs)
    except RuntimeError:
        want = None
    b = NetworkBuilder(in_shape)
    try:
        net = b.build(b.conv_transpose(b.input, w, bias, groups=groups, **attrs))
    except ShapeError:
        assert want is None, f"plnet refuses {attrs} that torch computes"
        return
    assert want is not None, f"plnet accepts {attrs} that torch refuses"
    got = net(x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=REFERENCE_RTOL * (1 + np.abs(want).max()))


@settings(max_examples=80)
@given(transposed_cases(max_output_padding=2), st.integers(0, 2**32 - 1))
def test_the_linear_part_is_the_adjoint_of_the_convolution_with_the_same_weight(case, seed):
    in_shape, w_shape, groups, attrs = case
    # the convolution over the transposed output gives back the input's length exactly
    # when output_padding < stride
    if any(op >= s for op, s in zip(attrs["output_padding"], attrs["stride"])):
        attrs["output_padding"] = (0,) * len(attrs["stride"])
    pads = tuple((p, p) for p in attrs["padding"])
    op_t = ConvTranspose("w", None, attrs["stride"], pads, attrs["dilation"], groups,
                         output_padding=attrs["output_padding"])
    op_c = Conv("w", None, attrs["stride"], pads, attrs["dilation"], groups)
    rng = np.random.default_rng(seed)
    params = {"w": rng.normal(size=w_shape)}
    try:
        out_shape = op_t.output_shape([in_shape], params)
    except ShapeError:
        return  # padding removes the whole output
    assert op_c.output_shape([out_shape], params) == in_shape
    u, v = rng.normal(size=(1, *in_shape)), rng.normal(size=(1, *out_shape))
    lhs = float((op_t.linear([u], params) * v).sum())
    rhs = float((u * op_c.linear([v], params)).sum())
    assert abs(lhs - rhs) <= REFERENCE_RTOL * (1 + abs(lhs))


def test_asymmetric_padding_cuts_the_full_output_and_the_bias_fills_output_padding():
    rng = np.random.default_rng(0)
    w, bias, x = rng.normal(size=(2, 3, 3)), rng.normal(size=3), rng.normal(size=(1, 2, 4))
    full = F.conv_transpose1d(torch.from_numpy(x), torch.from_numpy(w), None, 2).numpy()
    b = NetworkBuilder((2, 4))
    net = b.build(b.conv_transpose(b.input, w, bias, 2, ((2, 0),), output_padding=1))
    y = net(x)
    assert y.shape == (1, 3, 8)  # (4 - 1) * 2 - 2 + 2 + 1 + 1
    np.testing.assert_allclose(y[..., :7], full[..., 2:] + bias[:, None], atol=1e-12)
    np.testing.assert_allclose(y[..., 7], np.broadcast_to(bias, (1, 3)), atol=1e-12)


def test_linear_leaves_out_the_bias():
    op = ConvTranspose("w", "b", stride=(2,))
    params = {"w": np.ones((1, 1, 2)), "b": np.array([5.0])}
    np.testing.assert_array_equal(op.linear([np.zeros((1, 1, 3))], params), 0.0)
    np.testing.assert_array_equal(op.forward([np.zeros((1, 1, 3))], params), 5.0)


@pytest.mark.parametrize("kwargs,in_shape,w_shape,message", [
    (dict(stride=2, output_padding=2), (1, 4), (1, 1, 2), "output_padding"),
    (dict(groups=2), (3, 4), (3, 1, 2), "groups=2 must divide C_in=3"),
    (dict(), (2, 4), (3, 1, 2), "expects 3 input channels"),
    (dict(padding=3), (1, 2), (1, 1, 2), "removes the whole output"),
    (dict(), (1, 2, 2, 2), (1, 1, 2, 2, 2), "1-d"),
    (dict(), (1, 4, 4), (1, 1, 2), "needs per-sample input"),
])
def test_inconsistent_attributes_are_refused_naming_the_node(kwargs, in_shape, w_shape, message):
    b = NetworkBuilder(in_shape)
    with pytest.raises(ShapeError, match=message) as err:
        b.conv_transpose(b.input, np.ones(w_shape), name="up", **kwargs)
    assert "'up' (conv_transpose)" in str(err.value)


def test_a_bias_of_the_wrong_length_is_refused():
    b = NetworkBuilder((2, 3))
    with pytest.raises(ShapeError, match=r"must have shape \(4,\)"):
        b.conv_transpose(b.input, np.ones((2, 2, 2)), np.ones(3), groups=2)


def test_a_network_with_a_transposed_convolution_survives_save_and_load(tmp_path):
    rng = np.random.default_rng(1)
    b = NetworkBuilder((2, 3, 3))
    h = b.relu(b.conv_transpose(b.input, rng.normal(size=(2, 2, 2, 3)), rng.normal(size=4),
                                (2, 1), ((1, 0), (0, 2)), (1, 0), (1, 2), groups=2))
    net = b.build(h)
    path = tmp_path / "net.npz"
    net.save(path)
    back = plnet.load(path)
    assert back.op(h) == net.op(h)
    x = rng.normal(size=(2, 2, 3, 3))
    np.testing.assert_array_equal(back(x), net(x))
