"""Small hand-built networks shared by the torch backend's tests.

Every builder takes a numpy Generator and returns a :class:`plnet.Network`; the fixtures
below expose them one by one and as a parametrized ``small_net``. ``points_for`` draws a
batch for a network with no point on a region boundary (checked against the reference).
"""

from __future__ import annotations

import numpy as np
import pytest

import plnet
from plnet import NetworkBuilder

torch = pytest.importorskip("torch")


def _w(rng, *shape, scale=None):
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    return rng.normal(0.0, scale or 1.0 / np.sqrt(fan_in), size=shape)


def build_mlp(rng, sizes=(6, 8, 7, 3), leaky=False):
    """Dense + ReLU chain on a ``[sizes[0]]`` input (LeakyReLU(0.1) when ``leaky``)."""
    b = NetworkBuilder((sizes[0],))
    h = b.input
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        h = b.dense(h, _w(rng, n_out, n_in), rng.normal(0, 0.3, n_out))
        if i < len(sizes) - 2:
            h = b.leaky_relu(h, 0.1) if leaky else b.relu(h)
    return b.build(h)


def build_cnn_avg(rng):
    """Normalize, conv (stride 2, padding), ReLU, avg pool, conv, ReLU, dense, ReLU, dense."""
    b = NetworkBuilder((1, 8, 8))
    h = b.normalize(b.input, 0.5, 0.25)
    h = b.relu(b.conv(h, _w(rng, 3, 1, 3, 3), rng.normal(0, 0.2, 3), stride=2, padding=1))
    h = b.avg_pool(h, 2, stride=1, padding=((0, 1), (1, 0)), count_include_pad=False)
    h = b.relu(b.conv(h, _w(rng, 4, 3, 2, 2), rng.normal(0, 0.2, 4), dilation=(1, 2)))
    h = b.flatten(h)
    h = b.relu(b.dense(h, _w(rng, 5, b.shape(h)[0]), rng.normal(0, 0.2, 5)))
    return b.build(b.dense(h, _w(rng, 3, 5)))


def build_cnn_pooled(rng):
    """Two conv-ReLU-avg pool blocks with plain (non-overlapping) pools, then a dense head.

    The first block sees tangents shared by all points, the second per-point ones.
    """
    b = NetworkBuilder((2, 10, 10))
    h = b.avg_pool(b.relu(b.conv(b.input, _w(rng, 3, 2, 3, 3), rng.normal(0, 0.2, 3))), 2)
    h = b.avg_pool(b.relu(b.conv(h, _w(rng, 4, 3, 2, 2), rng.normal(0, 0.2, 4))), (2, 1))
    return b.build(b.dense(b.flatten(h), _w(rng, 3, int(np.prod(b.shape(h))))))


def build_cnn_max(rng):
    """Conv, ReLU, max pool (padding, ceil_mode), grouped conv, ReLU, max pool, dense."""
    b = NetworkBuilder((2, 7, 7))
    h = b.relu(b.conv(b.input, _w(rng, 4, 2, 3, 3), rng.normal(0, 0.2, 4), padding=1))
    h = b.max_pool(h, 3, stride=2, padding=1, ceil_mode=True)
    h = b.relu(b.conv(h, _w(rng, 4, 2, 2, 2), rng.normal(0, 0.2, 4), groups=2))
    h = b.max_pool(h, 2, stride=1)
    return b.build(b.dense(b.flatten(h), _w(rng, 3, int(np.prod(b.shape(h))))))


def build_cnn_transposed(rng):
    """Conv (stride 2), ReLU, a grouped transposed conv (asymmetric padding, output padding,
    dilation), LeakyReLU, a 1-d view's transposed conv, dense head."""
    b = NetworkBuilder((2, 6, 5))
    h = b.relu(b.conv(b.input, _w(rng, 4, 2, 3, 3), rng.normal(0, 0.2, 4), stride=2))
    h = b.conv_transpose(h, _w(rng, 4, 2, 3, 2), rng.normal(0, 0.2, 4), stride=2,
                         padding=((1, 0), (0, 1)), output_padding=(1, 1), dilation=(1, 2),
                         groups=2)
    h = b.leaky_relu(h, 0.1)
    h = b.reshape(h, (4, int(np.prod(b.shape(h)[1:]))))
    h = b.relu(b.conv_transpose(h, _w(rng, 4, 1, 2), None, stride=3, padding=(0, 2)))
    return b.build(b.dense(b.flatten(h), _w(rng, 3, int(np.prod(b.shape(h))))))


def build_residual(rng):
    """Two residual blocks (dense-ReLU-dense + skip), a LeakyReLU, and a head."""
    b = NetworkBuilder((5,))
    h = b.relu(b.dense(b.input, _w(rng, 6, 5), rng.normal(0, 0.2, 6)))
    for _ in range(2):
        inner = b.relu(b.dense(h, _w(rng, 6, 6), rng.normal(0, 0.2, 6)))
        h = b.leaky_relu(b.add(h, b.dense(inner, _w(rng, 6, 6))), 0.2)
    return b.build(b.dense(h, _w(rng, 2, 6)))


def build_rnn(rng, steps=4, features=3, hidden=5):
    """Unrolled LeakyReLU Elman RNN (tied weights) over ``[steps, features]`` + dense head."""
    b = NetworkBuilder((steps, features))
    h = b.rnn(b.input, _w(rng, hidden, features), _w(rng, hidden, hidden),
              rng.normal(0, 0.2, hidden), rng.normal(0, 0.2, hidden),
              nonlinearity="leaky_relu", alpha=0.05, return_sequences=False)
    return b.build(b.dense(h, _w(rng, 2, hidden), rng.normal(0, 0.2, 2)))


def build_views(rng):
    """Every linear view: 1-d conv, transpose, slice, take, pad, concat, reshape, scale."""
    b = NetworkBuilder((2, 6))
    h = b.relu(b.conv(b.input, _w(rng, 4, 2, 2), None, padding=((1, 0),)))
    t = b.transpose(h, (1, 0))                      # [6, 4]
    s = b.slice(t, 0, 1, 7, 2)                      # [3, 4]
    k = b.take(t, 0, [0, 5, 2])                     # [3, 4]
    c = b.concat(s, b.pad(b.slice(k, 1, 0, 3), ((0, 0), (1, 0))), axis=0)  # [6, 4]
    c = b.scale_shift(c, rng.normal(1, 0.2, (1, 4)), rng.normal(0, 0.2, (6, 4)))
    m = b.max_pool(b.reshape(c, (4, 6)), 3, stride=2, padding=1)
    m = b.leaky_relu(b.flatten(m), 0.3)
    return b.build(b.dense(m, _w(rng, 2, b.shape(m)[0])))


def build_prelu(rng):
    """Conv, per-channel PReLU (a negative and a >1 slope), dense, scalar PReLU, dense."""
    b = NetworkBuilder((1, 5, 5))
    h = b.conv(b.input, _w(rng, 2, 1, 3, 3), rng.normal(0, 0.2, 2))
    h = b.flatten(b.prelu(h, np.array([-0.3, 1.4]).reshape(2, 1, 1)))
    h = b.prelu(b.dense(h, _w(rng, 6, b.shape(h)[0]), rng.normal(0, 0.2, 6)), 0.25)
    return b.build(b.dense(h, _w(rng, 3, 6)))


BUILDERS = {
    "mlp": build_mlp,
    "cnn_avg": build_cnn_avg,
    "cnn_max": build_cnn_max,
    "cnn_transposed": build_cnn_transposed,
    "residual": build_residual,
    "rnn": build_rnn,
    "views": build_views,
    "prelu": build_prelu,
}


def points_for(net, batch=5, seed=0):
    """A batch of float64 points with no unit exactly on its boundary."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch,) + net.input_shape)
    assert not plnet.linearize(net, x).ties.any()
    return x


@pytest.fixture(params=sorted(BUILDERS))
def small_net(request):
    """Each hand-built network in turn (named by ``small_net_name``)."""
    return BUILDERS[request.param](np.random.default_rng(0))


@pytest.fixture
def every_small_net():
    """Name -> each hand-built network (together they use every registered op)."""
    return {name: build(np.random.default_rng(0)) for name, build in BUILDERS.items()}


@pytest.fixture
def mlp_net():
    return build_mlp(np.random.default_rng(1))


@pytest.fixture
def cnn_avg_net():
    return build_cnn_avg(np.random.default_rng(2))


@pytest.fixture
def cnn_pooled_net():
    return build_cnn_pooled(np.random.default_rng(7))


@pytest.fixture
def cnn_max_net():
    return build_cnn_max(np.random.default_rng(3))


@pytest.fixture
def residual_net():
    return build_residual(np.random.default_rng(4))


@pytest.fixture
def rnn_net():
    return build_rnn(np.random.default_rng(5))


@pytest.fixture
def views_net():
    return build_views(np.random.default_rng(6))


@pytest.fixture
def make_points():
    """``make_points(net, batch=5, seed=0)``: tie-free float64 points for ``net``."""
    return points_for
