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


#: the demo picture draws the certified balls of the centres of this many largest regions
PICTURE_BALLS = 5


def demo_picture(net: Network, path) -> int:
    """Draw ``net``'s exact linear regions on [-1, 1]^2 with the certified l1, l2 and l_inf
    balls of the centres of its largest regions and the top logit's gradients (the paper's
    Figure 1) to ``path``. A PNG is written with a 64-colour palette, to stay small.

    Returns:
        The number of linear regions drawn.
    """
    from plnet.regions import slice2d

    s = slice2d(net, np.zeros(2), [1.0, 0.0], [0.0, 1.0])
    largest = np.argsort(-s.areas)[:PICTURE_BALLS]
    ax = s.plot(points=s.centers()[largest])
    figure = ax.figure
    figure.set_dpi(80)
    if str(path).lower().endswith(".png"):
        import io

        from PIL import Image  # matplotlib's own dependency
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight", dpi=80)
        Image.open(buffer).convert("RGB").quantize(64).save(path, optimize=True)
    else:
        figure.savefig(path, bbox_inches="tight")
    return s.count


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


#: Epochs of each model in :func:`train_demo`.
TRAIN_EPOCHS = 50


def train_demo(seed: int = 0, epochs: int = TRAIN_EPOCHS, lam: float = 1.0, C: float = 5.0,
               on_epoch=None) -> dict:
    """The paper's toy experiment (Fig. 1), small: vanilla against ROLL on two moons.

    Trains the same 2-32x4-1 ReLU MLP with and without the ROLL regularizer (Eq. 9,
    gamma = 100) and certifies both on the training points with the numpy reference.

    Args:
        seed: seed of the data, the weights and the shuffling.
        epochs: epochs per model.
        lam, C: ROLL's weight and margin threshold.
        on_epoch: called with no argument as each epoch starts (both models: 2 * epochs
            calls), e.g. to show progress.

    Returns:
        ``{"vanilla": stats, "roll": stats}`` with accuracy, l2/l1 margin percentiles and
        #CLR bounds among the training points.
    """
    from plnet.analysis import count_linear_regions, margin
    from plnet.backends.torch import fit
    from plnet.frontends.torch.threads import one_thread

    x, y = two_moons(200, seed)
    net = binary_mlp(seed)
    opts = dict(epochs=epochs, lr=0.01, C=C, seed=seed, progress=False, device="cpu",
                eval_margins=False)
    out = {}
    # Batches of 50 points through width-32 layers gain nothing from intra-op threads, and
    # on busy cores their synchronization costs 10-100x the arithmetic.
    with one_thread():
        for name, weight in (("vanilla", 0.0), ("roll", lam)):
            batches = EpochBatches(x, y, batch_size=50, seed=seed, on_epoch=on_epoch)
            trained = fit(net, batches, lam=weight, **opts).last_module.to_network()
            lo, hi = count_linear_regions(trained, x, on_tie="exclude")
            out[name] = {
                "accuracy": float(((trained(x)[:, 0] > 0) == y).mean()),
                "l2": np.percentile(margin(trained, x, p=2), [25, 50, 75, 100]).tolist(),
                "l1": np.percentile(margin(trained, x, p=1), [25, 50, 75, 100]).tolist(),
                "clr": [lo, hi],
            }
    return out


class EpochBatches:
    """``(x, y)`` in shuffled batches, iterated once per epoch by ``fit``.

    The order is what ``fit`` draws for ``(X, y)`` arrays with the same seed (a
    ``torch.randperm`` per epoch from a generator seeded with ``seed``); iterating also
    tells ``on_epoch`` that an epoch starts.
    """

    def __init__(self, x, y, batch_size: int, seed: int, on_epoch=None):
        import torch

        self.x, self.y = torch.as_tensor(x), torch.as_tensor(y)
        self.batch_size, self.on_epoch = batch_size, on_epoch
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __iter__(self):
        import torch

        if self.on_epoch is not None:
            self.on_epoch()
        order = torch.randperm(len(self.x), generator=self.generator)
        for start in range(0, len(self.x), self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.x[idx], self.y[idx]
