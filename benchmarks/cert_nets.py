"""The networks bench_certify certifies (CIFAR-shaped, random He weights)."""

from __future__ import annotations

import numpy as np

from plnet.builder import NetworkBuilder


def _he(rng, *shape):
    return rng.normal(scale=np.sqrt(2.0 / np.prod(shape[1:])), size=shape)


def resnet_2b(seed: int = 0):
    """VNN-COMP ``resnet_2b``'s shape: 3x32x32 -> conv 8 s2 -> ReLU -> two residual blocks
    (16 channels at 8x8; the first downsamples, with a 1x1 strided conv on its skip) ->
    dense 100 -> ReLU -> dense 10. N = 6244 units, D = 3072."""
    rng = np.random.default_rng(seed)
    b = NetworkBuilder((3, 32, 32))

    def conv(h, c_out, k, stride):
        c_in = b.shape(h)[0]
        return b.conv(h, _he(rng, c_out, c_in, k, k), np.zeros(c_out), stride=stride,
                      padding=k // 2)

    h = b.relu(conv(b.input, 8, 3, 2))
    inner = b.relu(conv(h, 16, 3, 2))
    h = b.relu(b.add(conv(inner, 16, 3, 1), conv(h, 16, 1, 2)))
    inner = b.relu(conv(h, 16, 3, 1))
    h = b.relu(b.add(conv(inner, 16, 3, 1), h))
    h = b.flatten(h)
    h = b.relu(b.dense(h, _he(rng, 100, b.shape(h)[0]), np.zeros(100)))
    return b.build(b.dense(h, _he(rng, 10, 100)))


def conv_maxpool(seed: int = 0):
    """3x32x32 -> conv 16 k3 -> ReLU -> max pool 2 -> conv 32 k3 s2 -> ReLU -> max pool 2
    -> dense 100 -> ReLU -> dense 10."""
    rng = np.random.default_rng(seed)
    b = NetworkBuilder((3, 32, 32))
    h = b.max_pool(b.relu(b.conv(b.input, _he(rng, 16, 3, 3, 3), np.zeros(16), padding=1)), 2)
    h = b.max_pool(b.relu(b.conv(h, _he(rng, 32, 16, 3, 3), np.zeros(32), stride=2,
                                 padding=1)), 2)
    h = b.flatten(h)
    h = b.relu(b.dense(h, _he(rng, 100, b.shape(h)[0]), np.zeros(100)))
    return b.build(b.dense(h, _he(rng, 10, 100)))
