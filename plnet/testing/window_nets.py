"""Hand-built convolutional networks that exercise every receptive-field patch rule.

Shared by the tests of the numpy reference's patches (:mod:`plnet.analysis.patches`) and of
the torch backend's: each covers window options that random networks reach only rarely.
"""

from __future__ import annotations

import numpy as np

from plnet.builder import NetworkBuilder
from plnet.network import Network


def _w(rng, *shape):
    return rng.normal(0.0, 1.0 / np.sqrt(np.prod(shape[1:])), size=shape)


def window_zoo(rng: np.random.Generator) -> Network:
    """Every patch rule and window option: per-channel scale, asymmetric padding, stride,
    dilation, groups, PReLU/LeakyReLU, overlapping max pool with padding and ceil_mode,
    average pool without counting padding, a residual add of boxes of different size.

    Args:
        rng: draws the weights and biases.

    Returns:
        A network on ``[2, 11, 10]`` inputs with 3 outputs.

    Example:
        >>> import numpy as np
        >>> net = window_zoo(np.random.default_rng(0))
        >>> net.input_shape, net.output_shape
        ((2, 11, 10), (3,))
    """
    b = NetworkBuilder((2, 11, 10))
    h = b.scale_shift(b.input, rng.normal(1, 0.3, (2, 1, 1)), rng.normal(0, 0.3, (2, 1, 1)))
    h = b.leaky_relu(b.conv(h, _w(rng, 4, 2, 3, 3), rng.normal(0, 0.2, 4), stride=2,
                            padding=((1, 0), (0, 1))), 0.1)
    skip = h
    h = b.conv(h, _w(rng, 4, 2, 2, 2), rng.normal(0, 0.2, 4), groups=2, dilation=2,
               padding=1)
    h = b.prelu(h, rng.normal(0.2, 0.5, (4, 1, 1)))
    h = b.relu(b.add(h, b.conv(skip, _w(rng, 4, 4, 1, 1), None)))
    h = b.max_pool(h, 3, stride=2, padding=1, ceil_mode=True)
    h = b.avg_pool(h, 2, stride=1, padding=((0, 1), (1, 0)), count_include_pad=False)
    h = b.relu(b.conv(h, _w(rng, 3, 4, 2, 2), rng.normal(0, 0.2, 3), dilation=(1, 2)))
    return b.build(b.dense(b.flatten(h), _w(rng, 3, int(np.prod(b.shape(h))))))


def conv_output(rng: np.random.Generator) -> Network:
    """A network whose output is a convolution (its Jacobian comes from patches).

    Args:
        rng: draws the weights and biases.

    Returns:
        A network on ``[1, 8, 8]`` inputs whose output is a ``[2, 3, 3]`` convolution.

    Example:
        >>> import numpy as np
        >>> net = conv_output(np.random.default_rng(0))
        >>> net.input_shape, net.output_shape
        ((1, 8, 8), (2, 3, 3))
    """
    b = NetworkBuilder((1, 8, 8))
    h = b.relu(b.conv(b.input, _w(rng, 3, 1, 3, 3), rng.normal(0, 0.2, 3), padding=1))
    h = b.max_pool(h, 2, dilation=2, stride=1)
    return b.build(b.conv(h, _w(rng, 2, 3, 2, 2), rng.normal(0, 0.2, 2), stride=2))


def resnet_like(rng: np.random.Generator) -> Network:
    """CIFAR-shaped: two residual stages, dense head (the certify benchmark's shape, small).

    Args:
        rng: draws the weights and biases.

    Returns:
        A network on ``[3, 16, 16]`` inputs with 10 outputs.

    Example:
        >>> import numpy as np
        >>> net = resnet_like(np.random.default_rng(0))
        >>> net.input_shape, net.output_shape
        ((3, 16, 16), (10,))
    """
    b = NetworkBuilder((3, 16, 16))

    def conv(h, c, k, s):
        return b.conv(h, _w(rng, c, b.shape(h)[0], k, k), rng.normal(0, 0.1, c), stride=s,
                      padding=k // 2)

    h = b.relu(conv(b.input, 4, 3, 2))
    inner = b.relu(conv(h, 8, 3, 2))
    h = b.relu(b.add(conv(inner, 8, 3, 1), conv(h, 8, 1, 2)))
    h = b.relu(b.add(conv(b.relu(conv(h, 8, 3, 1)), 8, 3, 1), h))
    h = b.relu(b.dense(b.flatten(h), _w(rng, 20, int(np.prod(b.shape(h)))), None))
    return b.build(b.dense(h, _w(rng, 10, 20)))
