"""The embedded default: a small 2-d ReLU network certified on a grid of points."""

from __future__ import annotations

import numpy as np

from plnet.builder import NetworkBuilder
from plnet.network import Network

#: the demo network's layer widths (input 2, output 2)
DEMO_WIDTHS = (2, 32, 32, 32, 2)


def relu_mlp(widths, seed: int = 0, bias_scale: float = 0.1) -> Network:
    """A He-initialized ReLU MLP with layers ``fc1, relu1, ..., fcL`` (no final ReLU).

    Args:
        widths: input size, hidden widths..., output size.
        seed: seed of the weights.
        bias_scale: standard deviation of the biases (0: zero biases).
    """
    rng = np.random.default_rng(seed)
    b = NetworkBuilder((widths[0],))
    h = b.input
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        w = rng.normal(scale=np.sqrt(2.0 / n_in), size=(n_out, n_in))
        bias = rng.normal(scale=bias_scale, size=n_out) if bias_scale else np.zeros(n_out)
        h = b.dense(h, w, bias, name=f"fc{i + 1}")
        if i < len(widths) - 2:
            h = b.relu(h, name=f"relu{i + 1}")
    return b.build(h)


def demo_network(seed: int = 0) -> Network:
    """The fixed 2-32-32-32-2 ReLU MLP that ``plnet demo`` certifies."""
    return relu_mlp(DEMO_WIDTHS, seed)


def demo_grid(points_per_axis: int = 21, extent: float = 1.0) -> np.ndarray:
    """A square grid of 2-d points, ``[points_per_axis**2, 2]``."""
    axis = np.linspace(-extent, extent, points_per_axis)
    xx, yy = np.meshgrid(axis, axis)
    return np.stack([xx.ravel(), yy.ravel()], axis=1)


def two_moons(n: int, seed: int = 0, noise: float = 0.1):
    """The two-moons toy classification set: ``(X [n, 2], y [n] in {0, 1})``."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, n)
    label = rng.integers(0, 2, n)
    upper = np.c_[np.cos(t), np.sin(t)]
    lower = np.c_[1 - np.cos(t), 0.5 - np.sin(t)]
    x = np.where(label[:, None] == 0, upper, lower)
    return x + rng.normal(scale=noise, size=x.shape), label


def binary_mlp(seed: int = 0, widths=(2, 32, 32, 32, 32, 1)) -> Network:
    """An untrained ReLU MLP with one logit and zero biases."""
    return relu_mlp(widths, seed, bias_scale=0.0)


def train_demo(seed: int = 0, epochs: int = 50, lam: float = 1.0, C: float = 5.0) -> dict:
    """The paper's toy experiment (Fig. 1), small: vanilla against ROLL on two moons.

    Trains the same 2-32x4-1 ReLU MLP with and without the ROLL regularizer (Eq. 9,
    gamma = 100) and certifies both on the training points with the numpy reference.

    Returns:
        ``{"vanilla": stats, "roll": stats}`` with accuracy, l2/l1 margin percentiles and
        #CLR bounds among the training points.
    """
    from plnet.analysis import count_linear_regions, margin
    from plnet.backends.torch import fit

    x, y = two_moons(200, seed)
    net = binary_mlp(seed)
    opts = dict(epochs=epochs, batch_size=50, lr=0.01, C=C, seed=seed, progress=False,
                device="cpu", eval_margins=False)
    out = {}
    for name, weight in (("vanilla", 0.0), ("roll", lam)):
        trained = fit(net, (x, y), lam=weight, **opts).last_module.to_network()
        lo, hi = count_linear_regions(trained, x, on_tie="exclude")
        out[name] = {
            "accuracy": float(((trained(x)[:, 0] > 0) == y).mean()),
            "l2": np.percentile(margin(trained, x, p=2), [25, 50, 75, 100]).tolist(),
            "l1": np.percentile(margin(trained, x, p=1), [25, 50, 75, 100]).tolist(),
            "clr": [lo, hi],
        }
    return out
