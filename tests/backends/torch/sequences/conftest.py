"""Sequence models and variable-length batches shared by the torch backend's sequence tests."""

from __future__ import annotations

import numpy as np
import pytest

import plnet.sequence as ps

torch = pytest.importorskip("torch")

#: lengths with repeats, out of order, so that grouping and restoring the order both matter
LENGTHS = (5, 2, 7, 2, 5, 3, 7, 5)


def leaky_elman(seed=0, features=3, hidden=6, classes=3, num_layers=1, bidirectional=False,
                alpha=0.1, readout="last", **kwargs):
    """A LeakyReLU Elman model (torch's parameter names) with a dense head."""
    rng = np.random.default_rng(seed)
    layers = ps.torch_rnn_layers(num_layers, bidirectional=bidirectional,
                                 nonlinearity="leaky_relu", alpha=alpha)
    dirs = 2 if bidirectional else 1
    params = {}
    for k, layer in enumerate(layers):
        fan_in = features if k == 0 else dirs * hidden
        for d, _ in layer.directions:
            params[d.weight_ih] = rng.normal(size=(hidden, fan_in)) / np.sqrt(fan_in)
            params[d.weight_hh] = np.linalg.qr(rng.normal(size=(hidden, hidden)))[0] * 0.8
            params[d.bias_ih] = rng.normal(size=hidden) * 0.3
            params[d.bias_hh] = rng.normal(size=hidden) * 0.3
    params["fc.weight"] = rng.normal(size=(classes, dirs * hidden)) / np.sqrt(hidden)
    params["fc.bias"] = rng.normal(size=classes) * 0.1
    return ps.elman(params, layers, readout=readout,
                    head=[ps.DenseLayer("fc.weight", "fc.bias")], **kwargs)


def random_sequences(lengths=LENGTHS, features=3, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(t, features)) for t in lengths]


def padded(xs):
    """``(padded [B, T_max, F], lengths)``, padded with NaN: a padded entry must never be read."""
    out = np.full((len(xs), max(len(x) for x in xs)) + xs[0].shape[1:], np.nan)
    for i, x in enumerate(xs):
        out[i, :len(x)] = x
    return out, np.array([len(x) for x in xs])


@pytest.fixture
def model():
    return leaky_elman()


@pytest.fixture
def xs():
    return random_sequences()


@pytest.fixture(scope="session")
def make_model():
    return leaky_elman


@pytest.fixture(scope="session")
def make_sequences():
    return random_sequences


@pytest.fixture(scope="session")
def pad():
    return padded
