"""Shared helpers of the sequence tests (fixtures: test files cannot import each other)."""

from __future__ import annotations

import numpy as np
import pytest

import plnet.sequence as ps


def random_elman(seed=0, features=3, hidden=4, num_layers=1, bidirectional=False, bias=True,
                 initial_state=False, readout="last", outputs=2, nonlinearity="relu",
                 alpha=0.1, **kwargs):
    """A random stacked Elman model with torch's parameter names and a one-layer head."""
    rng = np.random.default_rng(seed)
    layers = ps.torch_rnn_layers(num_layers, bidirectional=bidirectional, bias=bias,
                                 nonlinearity=nonlinearity, alpha=alpha,
                                 initial_state=initial_state)
    dirs = 2 if bidirectional else 1
    params = {}
    for k, layer in enumerate(layers):
        fan_in = features if k == 0 else dirs * hidden
        for d, _ in layer.directions:
            params[d.weight_ih] = rng.normal(size=(hidden, fan_in))
            params[d.weight_hh] = rng.normal(size=(hidden, hidden)) * 0.4
            for name in (d.bias_ih, d.bias_hh, d.h0):
                if name is not None:
                    params[name] = rng.normal(size=hidden)
    head = []
    if outputs:
        width = hidden if readout == "h_n" else dirs * hidden
        params["fc.weight"] = rng.normal(size=(outputs, width))
        params["fc.bias"] = rng.normal(size=outputs)
        head = [ps.DenseLayer("fc.weight", "fc.bias")]
    return ps.elman(params, layers, readout=readout, head=head, **kwargs)


@pytest.fixture
def make_elman():
    """``make_elman(seed=..., bidirectional=..., readout=...)``: a random Elman model."""
    return random_elman


@pytest.fixture
def sequences():
    """``sequences(lengths, features=3, seed=0)``: a list of random ``[T_i, F]`` arrays."""
    def make(lengths, features=3, seed=0):
        rng = np.random.default_rng(seed)
        return [rng.normal(size=(t, features)) for t in lengths]
    return make
