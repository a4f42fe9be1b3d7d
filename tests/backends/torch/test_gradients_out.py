"""``unit_gradients(..., out=buf)``: the result written into the caller's buffer, for every
engine and path (dense chunks, the recursion, receptive-field patches), and clear refusals."""

from __future__ import annotations

import numpy as np
import pytest

import plnet
from plnet.errors import InvalidInputError
from plnet.tolerances import REFERENCE_RTOL

torch = pytest.importorskip("torch")

from plnet.backends import torch as pt  # noqa: E402
from plnet.backends.torch.recursion import unsupported_nodes  # noqa: E402
from plnet.demo import relu_mlp  # noqa: E402
from plnet.testing.window_nets import resnet_like  # noqa: E402


def buffer_like(module, x, k=None):
    """A reused-looking buffer: filled with NaN so that any entry left unwritten shows."""
    k = module.input_size if k is None else k
    return torch.full((len(x), module.num_units, k), float("nan"), dtype=module.dtype)


def test_out_receives_the_gradients_of_every_small_net(small_net, make_points):
    x = make_points(small_net, batch=4)
    module = pt.compile(small_net, device="cpu", dtype=torch.float64)
    lin = plnet.linearize(small_net, x)
    methods = ["perturbation"] + ([] if unsupported_nodes(module) else ["recursion"])
    for method in methods:
        for chunk in (None, 3):
            out = buffer_like(module, x)
            with torch.no_grad():
                z, grad = pt.unit_gradients(module, x, method=method, chunk_size=chunk, out=out)
            assert grad is out
            np.testing.assert_allclose(out.numpy(), lin.grad, rtol=REFERENCE_RTOL,
                                       atol=REFERENCE_RTOL * (1 + np.abs(lin.grad).max()))


def test_out_is_written_whole_from_receptive_field_patches_and_reused():
    net = resnet_like(np.random.default_rng(3))
    module = pt.compile(net, device="cpu", dtype=torch.float64)
    rng = np.random.default_rng(4)
    out = buffer_like(module, np.zeros((3,)))
    for _ in range(2):  # the second call overwrites the first one's result in full
        x = rng.normal(size=(3,) + net.input_shape)
        with torch.no_grad():
            _, grad = pt.unit_gradients(module, x, out=out)
            _, fresh = pt.unit_gradients(module, x)
        assert grad is out and torch.equal(out, fresh)


def test_out_with_some_axes(small_net, make_points):
    x = make_points(small_net, batch=2)
    module = pt.compile(small_net, device="cpu", dtype=torch.float64)
    axes = [0, small_net.input_size - 1]
    with torch.no_grad():
        _, expected = pt.unit_gradients(module, x, axes=axes)
        _, grad = pt.unit_gradients(module, x, axes=axes, out=buffer_like(module, x, 2))
    assert torch.equal(grad, expected)


@pytest.fixture
def mlp_module():
    return pt.compile(relu_mlp((3, 4, 2)), device="cpu", dtype=torch.float64)


@pytest.mark.parametrize("bad, message", [
    (lambda m: torch.zeros(2, m.num_units, 4, dtype=torch.float64), r"shape \[2, 4, 4\]"),
    (lambda m: torch.zeros(2, m.num_units, 3, dtype=torch.float32), "torch.float32"),
    (lambda m: torch.zeros(2, 3, m.num_units, dtype=torch.float64).transpose(1, 2),
     "not contiguous"),
    (lambda m: np.zeros((2, m.num_units, 3)), "must be a torch.Tensor"),
])
def test_a_bad_out_is_refused_with_what_was_expected(mlp_module, bad, message):
    x = np.ones((2, 3))
    with torch.no_grad(), pytest.raises(InvalidInputError, match=message) as info:
        pt.unit_gradients(mlp_module, x, out=bad(mlp_module))
    if "Tensor" not in message:
        assert "[2, 4, 3] tensor of torch.float64 on cpu" in str(info.value)


def test_out_is_refused_where_the_result_must_be_differentiable(mlp_module):
    out = torch.zeros(1, mlp_module.num_units, 3, dtype=torch.float64)
    with pytest.raises(InvalidInputError, match="torch.no_grad"):
        pt.unit_gradients(mlp_module, np.ones((1, 3)), out=out)
    assert (out == 0).all()  # refused before anything was written

