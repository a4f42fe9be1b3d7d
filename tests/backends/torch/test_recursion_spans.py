"""The Jacobian recursion multiplies only the input axes a node can depend on.

An unrolled RNN's step t reads the first (t + 1) F input axes; the recursion keeps each
Jacobian on that span of columns. Gradients, norms, the output Jacobian and the parameter
gradients of exact ROLL must stay those of the numpy reference and of the perturbation
engine for every chunking of the axes, for ``axes=`` in increasing and in any order (no
spans then), with and without an autograd graph.
"""

from __future__ import annotations

import numpy as np
import pytest

import plnet
from plnet import NetworkBuilder

torch = pytest.importorskip("torch")

from plnet.backends.torch import compile, unit_gradients  # noqa: E402
from plnet.backends.torch.gradients import unit_gradient_norms  # noqa: E402
from plnet.backends.torch.recursion import JacobianRecursion  # noqa: E402

TIGHT = dict(rtol=1e-10, atol=1e-12)


def _rnn(seed, steps=5, features=3, hidden=4, sequences=True):
    rng = np.random.default_rng(seed)
    b = NetworkBuilder((steps, features))
    h = b.rnn(b.input, rng.normal(size=(hidden, features)),
              0.6 * rng.normal(size=(hidden, hidden)), rng.normal(0, 0.3, hidden),
              rng.normal(0, 0.3, hidden), nonlinearity="leaky_relu", alpha=0.1, return_sequences=sequences)
    if sequences:
        h = b.flatten(h)
    return b.build(b.dense(h, rng.normal(size=(2, b.shape(h)[0]))))


@pytest.fixture
def spans_used(monkeypatch):
    """Counts the gathers of input axes that start a span."""
    calls = []
    real = JacobianRecursion._gather_axes
    monkeypatch.setattr(JacobianRecursion, "_gather_axes",
                        lambda self, positions: calls.append(1) or real(self, positions))
    return calls


@pytest.mark.parametrize("chunk_size", [None, 4, 7, 15])
@pytest.mark.parametrize("sequences", [True, False])
def test_gradients_on_spans_equal_the_reference(chunk_size, sequences, spans_used):
    net = _rnn(1, sequences=sequences)
    x = np.random.default_rng(2).normal(size=(3,) + net.input_shape)
    lin = plnet.linearize(net, x)
    module = compile(net, device="cpu", dtype=torch.float64)
    with torch.no_grad():
        z, grad = unit_gradients(module, x, method="recursion", chunk_size=chunk_size)
    np.testing.assert_allclose(grad.numpy(), np.asarray(lin.grad), **TIGHT)
    np.testing.assert_allclose(z.numpy(), lin.z, **TIGHT)
    assert spans_used


@pytest.mark.parametrize("axes", [[0, 4, 5, 11, 14], [11, 0, 5]], ids=["increasing", "any order"])
def test_chosen_axes_on_spans_or_not(axes, spans_used):
    net = _rnn(3)
    x = np.random.default_rng(4).normal(size=(2,) + net.input_shape)
    lin = plnet.linearize(net, x)
    module = compile(net, device="cpu", dtype=torch.float64)
    with torch.no_grad():
        _, grad = unit_gradients(module, x, axes=axes, method="recursion")
        assert bool(spans_used) == (axes == sorted(axes))  # one chunk of all the axes
        _, chunked = unit_gradients(module, x, axes=axes, method="recursion", chunk_size=2)
    for got in (grad, chunked):
        np.testing.assert_allclose(got.numpy(), np.asarray(lin.grad)[:, :, axes], **TIGHT)


@pytest.mark.parametrize("chunk_size", [None, 2, 6])
def test_norms_take_the_spans_alone_and_equal_the_reference(chunk_size):
    """The norm sink reduces each span without widening it (a chunk a step cannot see
    gives an empty span): l2, l1 and l_inf norms and the output Jacobian as numpy's."""
    net = _rnn(5)
    x = np.random.default_rng(6).normal(size=(3,) + net.input_shape)
    grad = np.asarray(plnet.linearize(net, x).grad)
    module = compile(net, device="cpu", dtype=torch.float64)
    with torch.no_grad():
        pattern, norms, out_jac = unit_gradient_norms(
            module, x, ("sq", "abs", "max"), method="recursion", chunk_size=chunk_size,
            want_output=True)
    np.testing.assert_allclose(norms["sq"].numpy(), (grad ** 2).sum(axis=2), **TIGHT)
    np.testing.assert_allclose(norms["abs"].numpy(), np.abs(grad).sum(axis=2), **TIGHT)
    np.testing.assert_allclose(norms["max"].numpy(), np.abs(grad).max(axis=2), **TIGHT)
    with torch.no_grad():
        _, _, engine_jac = unit_gradient_norms(module, x, ("sq",), method="perturbation",
                                               want_output=True)
    torch.testing.assert_close(out_jac, engine_jac, **TIGHT)


def test_exact_roll_parameter_gradients_on_spans_equal_the_engine():
    """Under autograd (exact ROLL training) the spans are ordinary tensor slices: the
    parameter gradients of the squared norms equal the perturbation engine's."""
    net = _rnn(7)
    x = torch.tensor(np.random.default_rng(8).normal(size=(3,) + net.input_shape))
    weights = torch.tensor(np.random.default_rng(9).normal(size=(3, net.num_units)))
    grads = []
    for method in ("recursion", "perturbation"):
        module = compile(net, device="cpu", dtype=torch.float64)
        _, norms, _ = unit_gradient_norms(module, x, ("sq",), method=method, chunk_size=4)
        grads.append(torch.autograd.grad((norms["sq"] * weights).sum(),
                                         list(module.parameters()), allow_unused=True))
    assert any(g is not None for g in grads[0])
    for a, b in zip(*grads):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, **TIGHT)


@pytest.mark.parametrize("chunk_size", [None, 3, 5])
def test_overlapping_and_gapped_input_slices(chunk_size, spans_used):
    """Two dense layers on overlapping slices of the input, summed (the spans overlap), and
    a take of scattered axes (the span holds zero columns between them)."""
    rng = np.random.default_rng(10)
    b = NetworkBuilder((12,))
    left = b.dense(b.slice(b.input, 0, 2, 8), rng.normal(size=(4, 6)))
    right = b.dense(b.slice(b.input, 0, 5, 11), rng.normal(size=(4, 6)), rng.normal(size=4))
    scattered = b.dense(b.take(b.input, 0, [1, 9]), rng.normal(size=(4, 2)))
    h = b.relu(b.add(left, right, scattered))
    h = b.relu(b.dense(h, rng.normal(size=(3, 4))))
    net = b.build(b.dense(h, rng.normal(size=(2, 3))))
    x = rng.normal(size=(4, 12))
    module = compile(net, device="cpu", dtype=torch.float64)
    with torch.no_grad():
        _, grad = unit_gradients(module, x, method="recursion", chunk_size=chunk_size)
    np.testing.assert_allclose(grad.numpy(), np.asarray(plnet.linearize(net, x).grad), **TIGHT)
    assert spans_used


@pytest.mark.parametrize("chunk_size", [None, 4])
def test_every_column_outside_the_spans_is_written(chunk_size):
    """Into a caller's buffer full of NaN (``out=``), the zeros outside each span are
    written too, whether a product, a sum or a pattern op stores the units."""
    net = _rnn(11, sequences=True)
    x = np.random.default_rng(12).normal(size=(3,) + net.input_shape)
    module = compile(net, device="cpu", dtype=torch.float64)
    buffer = torch.full((3, net.num_units, net.input_size), float("nan"), dtype=torch.float64)
    with torch.no_grad():
        _, grad = unit_gradients(module, x, method="recursion", chunk_size=chunk_size,
                                 out=buffer)
    assert grad is buffer
    np.testing.assert_allclose(grad.numpy(), np.asarray(plnet.linearize(net, x).grad), **TIGHT)
