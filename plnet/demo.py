"""The embedded default: a small 2-d ReLU network certified on a grid of points."""

from __future__ import annotations

import numpy as np

from plnet.builder import NetworkBuilder
from plnet.network import Network

#: the demo network's layer widths (input 2, output 2)
DEMO_WIDTHS = (2, 32, 32, 32, 2)


def demo_network(seed: int = 0) -> Network:
    """A fixed 2-32-32-32-2 ReLU MLP (He-initialized from ``seed``)."""
    rng = np.random.default_rng(seed)
    b = NetworkBuilder((DEMO_WIDTHS[0],))
    h = b.input
    for i, (n_in, n_out) in enumerate(zip(DEMO_WIDTHS[:-1], DEMO_WIDTHS[1:])):
        w = rng.normal(scale=np.sqrt(2.0 / n_in), size=(n_out, n_in))
        h = b.dense(h, w, rng.normal(scale=0.1, size=n_out), name=f"fc{i + 1}")
        if i < len(DEMO_WIDTHS) - 2:
            h = b.relu(h, name=f"relu{i + 1}")
    return b.build(h)


def demo_grid(points_per_axis: int = 21, extent: float = 1.0) -> np.ndarray:
    """A square grid of 2-d points, ``[points_per_axis**2, 2]``."""
    axis = np.linspace(-extent, extent, points_per_axis)
    xx, yy = np.meshgrid(axis, axis)
    return np.stack([xx.ravel(), yy.ravel()], axis=1)
