"""Table 1 (and Figure 2's trade-off): ROLL against vanilla on MNIST, fully connected.

Offline data: the 5k MNIST subset (3,500 / 500 / 1,000). Paper settings (Appendix G): 4
hidden layers of 300 ReLUs, SGD with Nesterov momentum 0.5, learning rate 0.01, batch 64,
20 epochs, the epoch of lowest validation loss, exact ROLL loss with gamma = 100; inputs
normalized with mu = 0.1307, sigma = 0.3081 during training and the normalization folded
into the network for certification, so the margins are those of raw [0, 1] pixels.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from plnet.datasets import load_mnist, prepend_normalization
from plnet.demo import relu_mlp
from plnet.reproduce import paper
from plnet.reproduce.common import (TrainSettings, certify_raw, figure_path, grid_lines,
                                    grid_results, margin_table, normalized, progress_bar,
                                    select_models, tradeoff_figure, train)
from plnet.reproduce.registry import register


@dataclasses.dataclass(frozen=True)
class MnistSetup:
    """Model size, data size and grid of an MNIST margin experiment."""

    hidden: tuple[int, ...]
    train_points: int | None  # None: the whole training part
    settings: TrainSettings
    lambdas: tuple[float, ...]
    Cs: tuple[float, ...]


# the paper's grid is 6 x 6 x 5 (lambda, C, gamma); here its tuned lambda = 2 and gamma =
# 100 with C over its range 2^-2..2^3: an exact-ROLL model of this size takes ~25 min on
# one CPU core
FULL = MnistSetup((300,) * 4, None, TrainSettings(), lambdas=(2.0,),
                  Cs=(0.25, 0.5, 1.0, 4.0, 8.0))
QUICK = MnistSetup((64, 64), 2000, TrainSettings(epochs=10), lambdas=(2.0,),
                   Cs=(0.25, 1.0, 4.0))


def mnist_parts(setup: MnistSetup, seed: int):
    """``(splits, train, val)``: the 5k subset and its normalized training/validation data
    (the first ``train_points`` of a seeded permutation of the training part)."""
    data = load_mnist(flatten=True, seed=seed)
    x, y = data.train
    if setup.train_points is not None and setup.train_points < len(y):
        keep = np.sort(np.random.default_rng(seed).permutation(len(y))[:setup.train_points])
        x, y = x[keep], y[keep]
    train_data = (normalized(x, data.mean, data.std), y)
    val_data = (normalized(data.val[0], data.mean, data.std), data.val[1])
    return data, train_data, val_data


def evaluate(net, data, part: str, p=(1, 2)) -> dict:
    """Certify the trained (normalized-input) ``net`` on a raw part of ``data``."""
    raw = prepend_normalization(net, data.mean, data.std)
    x, y = getattr(data, part)
    return certify_raw(raw, x, y, p=p)


def run_grid(setup: MnistSetup, seed: int, progress: bool, relaxation: str = "roll",
             lambdas=None, with_vanilla: bool = True):
    """Train vanilla and every (lambda, C) of the grid; certify each on validation data.

    Returns:
        ``(data, vanilla, candidates)``: ``vanilla`` (None without ``with_vanilla``) and
        each candidate hold ``net``, ``lambda``, ``C``, ``val_acc``, ``val_eps2_p50``.
    """
    data, train_data, val_data = mnist_parts(setup, seed)
    init = relu_mlp((784, *setup.hidden, 10), seed)
    settings = dataclasses.replace(setup.settings, seed=seed, relaxation=relaxation)
    grid = [(lam, C) for lam in (lambdas or setup.lambdas) for C in setup.Cs]
    grid = [(0.0, None)] * with_vanilla + grid
    runs = [None] * (not with_vanilla)
    with progress_bar(len(grid), f"train ({relaxation})", progress) as bar:
        for lam, C in grid:
            net = train(init, train_data, val_data, lam=lam, C=C or 1.0, settings=settings)
            val = evaluate(net, data, "val", p=(2,))
            runs.append({"net": net, "lambda": lam or None, "C": C, "val_acc": val["acc"],
                         "val_eps2_p50": val["eps2"]["P50"]})
            bar.update(1)
    return data, runs[0], runs[1:]


@register("table1", "Table 1: FC network margins on MNIST (offline: the 5k subset)")
def run_table1(*, quick: bool, out: Path, progress: bool, seed: int = 0) -> dict:
    setup = QUICK if quick else FULL
    started = time.perf_counter()
    data, vanilla, candidates = run_grid(setup, seed, progress)
    chosen = select_models(vanilla["val_acc"], candidates)
    rows = []
    for model in [vanilla] + chosen:
        rows.append({"loss": "vanilla" if model["lambda"] is None else "roll",
                     "C": model["C"], "lambda": model["lambda"],
                     **evaluate(model["net"], data, "test"),
                     "selected": model.get("selected", []), "val_acc": model["val_acc"]})
    figure = tradeoff_figure(vanilla, candidates, figure_path(out, "table1", quick))
    grid = grid_results(vanilla, candidates)
    base = rows[0]["eps2"]["P50"]
    ratios = [r["eps2"]["P50"] / base if base > 0 else None for r in rows[1:]]
    picks = [f"{r:.1f}x ({' and '.join(row['selected'])})" for r, row in zip(ratios, rows[1:])
             if r is not None]
    table = (margin_table(rows, paper.TABLE1, 1e-4, "paper", "here") +
             f"\n\nmedian eps2 of the selected ROLL models / vanilla: "
             f"{', '.join(picks) or 'none selected'} (paper: 15x at same accuracy, 50x at -1%; "
             f"selected on validation accuracy, vanilla's {vanilla['val_acc']:.1%})\n" +
             grid_lines(grid, "validation"))
    return {"name": "table1", "quick": quick, "rows": rows, "paper": paper.TABLE1,
            "figures": [str(figure)], "table": table,
            "data": f"MNIST 5k subset {data.sizes()} (training on "
                    f"{setup.train_points or data.sizes()['train']})",
            "model": f"784-{'-'.join(map(str, setup.hidden))}-10 ReLU",
            "settings": dataclasses.asdict(setup.settings),
            "grid_values": {"lambda": list(setup.lambdas), "C": list(setup.Cs)},
            "grid": grid,
            "seconds": time.perf_counter() - started}

