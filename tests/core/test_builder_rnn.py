"""NetworkBuilder.rnn: the reverse direction and the initial state, against a numpy loop."""

from __future__ import annotations

import numpy as np
import pytest

import plnet


def numpy_rnn(x, wih, whh, bih, bhh, h0, reverse):
    """``[B, T, F]`` -> every step's state ``[B, T, H]`` in time order."""
    out = np.zeros(x.shape[:2] + (whh.shape[0],))
    h = np.broadcast_to(h0, (x.shape[0], whh.shape[0]))
    steps = range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])
    for t in steps:
        h = np.maximum(x[:, t] @ wih.T + bih + h @ whh.T + bhh, 0.0)
        out[:, t] = h
    return out


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("with_h0", [False, True])
def test_rnn_reads_in_either_direction_from_its_initial_state(reverse, with_h0):
    rng = np.random.default_rng(1)
    f, h, t = 3, 4, 5
    wih, whh = rng.normal(size=(h, f)), rng.normal(size=(h, h)) * 0.5
    bih, bhh, h0 = rng.normal(size=h), rng.normal(size=h), rng.normal(size=h)
    b = plnet.NetworkBuilder((t, f))
    out = b.rnn(b.input, wih, whh, bih, bhh, reverse=reverse, h0=h0 if with_h0 else None,
                name="r")
    net = b.build(out)
    x = rng.normal(size=(6, t, f))
    expected = numpy_rnn(x, wih, whh, bih, bhh, h0 if with_h0 else np.zeros(h), reverse)
    np.testing.assert_allclose(net(x), expected, rtol=1e-12, atol=1e-12)
    assert net.num_units == t * h
    assert sorted(net.params) == sorted(
        ["r.weight_ih", "r.weight_hh", "r.bias_ih", "r.bias_hh"] + ["r.h0"] * with_h0)


def test_the_final_state_of_the_reverse_direction_is_its_state_at_step_zero():
    rng = np.random.default_rng(2)
    wih, whh = rng.normal(size=(2, 3)), rng.normal(size=(2, 2)) * 0.5
    b = plnet.NetworkBuilder((4, 3))
    net = b.build(b.rnn(b.input, wih, whh, return_sequences=False, reverse=True, name="r"))
    x = rng.normal(size=(3, 4, 3))
    expected = numpy_rnn(x, wih, whh, 0.0, 0.0, np.zeros(2), True)[:, 0]
    np.testing.assert_allclose(net(x), expected, rtol=1e-12, atol=1e-12)


def test_the_initial_state_has_a_zero_input_gradient():
    rng = np.random.default_rng(3)
    b = plnet.NetworkBuilder((1, 2))
    h0 = rng.normal(size=3)
    net = b.build(b.rnn(b.input, np.zeros((3, 2)), np.eye(3), h0=h0, return_sequences=False))
    lin = plnet.linearize(net, rng.normal(size=(2, 1, 2)))
    np.testing.assert_array_equal(lin.jacobian, 0.0)
    np.testing.assert_allclose(lin.output, np.maximum(np.tile(h0, (2, 1)), 0))
